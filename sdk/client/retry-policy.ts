/**
 * The retry policy as pure functions: given a failed attempt, decide whether to try again and
 * after how long. Owns which failures are retryable, exponential backoff with jitter, `Retry-After`
 * parsing and the branch-pending-snapshot special case. Sleeping, counting and the clock are the
 * transport's job; randomness is passed in so tests are deterministic.
 */

/** Tunables of the policy; `DEFAULT_RETRY_POLICY` holds the values the client uses. */
export interface RetryPolicy {
  /** Retries after the first attempt for ordinary retryable failures. */
  maxRetries: number;
  /** First backoff step; doubles each retry up to `maxDelayMs`. */
  initialDelayMs: number;
  /** Cap of one backoff step. */
  maxDelayMs: number;
  /** A `Retry-After` longer than this is not waited for: the error goes to the caller instead. */
  maxRetryAfterMs: number;
  /** How long a branch create keeps retrying "pending snapshot" 409s, from its first attempt. */
  branchPendingDeadlineMs: number;
  /** First backoff step for pending-snapshot retries (snapshots finish in milliseconds to seconds). */
  branchPendingInitialDelayMs: number;
  /** Cap of one pending-snapshot backoff step. */
  branchPendingMaxDelayMs: number;
}

/** The client's defaults. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxRetries: 2,
  initialDelayMs: 250,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
  branchPendingDeadlineMs: 120_000,
  branchPendingInitialDelayMs: 100,
  branchPendingMaxDelayMs: 2_000,
});

/** What went wrong in one attempt, reduced to what the policy needs. */
export type AttemptFailure =
  | { kind: "status"; status: number; code?: string; branchPendingSnapshot?: boolean; retryAfterMs?: number }
  | { kind: "connection" }
  | { kind: "timeout" }
  | { kind: "aborted" }
  | { kind: "invalid-response" };

/** Everything the decision depends on. */
export interface RetryInput {
  failure: AttemptFailure;
  /** Retries already made for this call (0 after the first attempt). */
  retriesSoFar: number;
  /** Milliseconds since the first attempt started. */
  elapsedMs: number;
  /** GET, marked idempotent, or sent with an Idempotency-Key — and the body can be sent again. */
  idempotent: boolean;
  /** `instances.create` with `branch_from`: pending-snapshot 409s are safe to repeat. */
  branchCreate: boolean;
  /** A number in [0, 1) for jitter. */
  random: number;
}

/** The verdict: retry after `delayMs`, or give up; `reason` is for logs and tests. */
export type RetryDecision = { retry: true; delayMs: number; reason: string } | { retry: false; reason: string };

/** HTTP statuses worth repeating: request timeout, rate limit and server failures. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/**
 * Exponential backoff with "equal jitter": half the step is fixed, half random, so parallel
 * clients spread out without any of them retrying at once.
 */
export function backoffDelay(retriesSoFar: number, initialMs: number, maxMs: number, random: number): number {
  const step = Math.min(maxMs, initialMs * 2 ** Math.min(retriesSoFar, 30));
  return Math.round(step / 2 + (step / 2) * random);
}

/**
 * Parse `Retry-After` (delta seconds or an HTTP date) or the non-standard `retry-after-ms`.
 * Returns milliseconds from `nowMs`, or undefined when absent or unreadable.
 */
export function parseRetryAfter(
  header: string | null | undefined,
  headerMs: string | null | undefined,
  nowMs: number,
): number | undefined {
  if (headerMs !== null && headerMs !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(headerMs)) return Math.ceil(Number(headerMs));
  if (header === null || header === undefined) return undefined;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  // Only an HTTP date (it names a weekday and month); Date.parse would read "-3" as a year.
  if (!/[A-Za-z]/.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/** Decide whether a failed attempt is repeated. Pure: same input, same answer. */
export function decideRetry(input: RetryInput, policy: Readonly<RetryPolicy> = DEFAULT_RETRY_POLICY): RetryDecision {
  const { failure } = input;
  if (failure.kind === "aborted") return { retry: false, reason: "aborted by the caller" };
  if (failure.kind === "invalid-response") return { retry: false, reason: "the response broke the contract; repeating will not fix it" };

  // The one non-idempotent retry: the backend refused the branch before creating anything.
  if (failure.kind === "status" && failure.status === 409 && failure.branchPendingSnapshot === true && input.branchCreate) {
    // The server's hint (when the snapshot's copy should end) beats a backoff that would overshoot it.
    const hinted = failure.retryAfterMs !== undefined ? Math.min(failure.retryAfterMs, policy.branchPendingMaxDelayMs) : undefined;
    const delayMs = hinted ?? backoffDelay(input.retriesSoFar, policy.branchPendingInitialDelayMs, policy.branchPendingMaxDelayMs, input.random);
    if (input.elapsedMs + delayMs > policy.branchPendingDeadlineMs)
      return { retry: false, reason: `source snapshot still pending after ${input.elapsedMs} ms` };
    return { retry: true, delayMs, reason: hinted === undefined ? "source has a pending snapshot" : `source has a pending snapshot, done in about ${hinted} ms` };
  }

  if (failure.kind === "status") {
    if ([400, 401, 403, 404].includes(failure.status)) return { retry: false, reason: `status ${failure.status} is final` };
    if (!isRetryableStatus(failure.status)) return { retry: false, reason: `status ${failure.status} is not retryable` };
  }
  if (!input.idempotent) return { retry: false, reason: "request is not idempotent" };
  if (input.retriesSoFar >= policy.maxRetries) return { retry: false, reason: `gave up after ${input.retriesSoFar} retries` };

  const retryAfterMs = failure.kind === "status" ? failure.retryAfterMs : undefined;
  if (retryAfterMs !== undefined) {
    if (retryAfterMs > policy.maxRetryAfterMs)
      return { retry: false, reason: `server asked to wait ${retryAfterMs} ms, longer than ${policy.maxRetryAfterMs} ms` };
    return { retry: true, delayMs: retryAfterMs, reason: `Retry-After ${retryAfterMs} ms` };
  }
  const delayMs = backoffDelay(input.retriesSoFar, policy.initialDelayMs, policy.maxDelayMs, input.random);
  const what = failure.kind === "status" ? `status ${failure.status}` : failure.kind;
  return { retry: true, delayMs, reason: `${what}, backing off` };
}
