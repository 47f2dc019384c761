// The retry policy as a pure function: which failures are repeated, after how long, and when not.
import {
  DEFAULT_RETRY_POLICY,
  backoffDelay,
  decideRetry,
  isRetryableStatus,
  parseRetryAfter,
  type AttemptFailure,
  type RetryInput,
} from "vmbranch/sdk";

const policy = { ...DEFAULT_RETRY_POLICY, maxRetries: 3, initialDelayMs: 100, maxDelayMs: 1_000 };
const base: Omit<RetryInput, "failure"> = { retriesSoFar: 0, elapsedMs: 0, idempotent: true, branchCreate: false, random: 0.5 };
const status = (s: number, extra: Partial<Extract<AttemptFailure, { kind: "status" }>> = {}): AttemptFailure => ({ kind: "status", status: s, ...extra });
const decide = (failure: AttemptFailure, input: Partial<RetryInput> = {}) => decideRetry({ ...base, ...input, failure }, policy);

describe("retry policy: what is retried", () => {
  it.each([408, 429, 500, 502, 503, 504])("retries status %i for an idempotent request", (s) => {
    expect(decide(status(s)).retry).toBe(true);
  });

  it.each([400, 401, 403, 404, 409, 410, 413, 422])("never retries status %i", (s) => {
    expect(decide(status(s)).retry).toBe(false);
  });

  it("retries connection failures and request timeouts of idempotent requests", () => {
    expect(decide({ kind: "connection" }).retry).toBe(true);
    expect(decide({ kind: "timeout" }).retry).toBe(true);
  });

  it("does not retry anything for a non-idempotent request", () => {
    for (const f of [status(500), status(429), status(503), { kind: "connection" } as const, { kind: "timeout" } as const])
      expect(decide(f, { idempotent: false })).toEqual({ retry: false, reason: "request is not idempotent" });
  });

  it("never retries aborts or invalid responses", () => {
    expect(decide({ kind: "aborted" }).retry).toBe(false);
    expect(decide({ kind: "invalid-response" }).retry).toBe(false);
  });

  it("stops after maxRetries", () => {
    expect(decide(status(500), { retriesSoFar: 2 }).retry).toBe(true);
    expect(decide(status(500), { retriesSoFar: 3 })).toEqual({ retry: false, reason: "gave up after 3 retries" });
  });

  it("401 is final even when the caller marked the request idempotent", () => {
    expect(decide(status(401), { idempotent: true, branchCreate: true })).toEqual({ retry: false, reason: "status 401 is final" });
  });

  it("isRetryableStatus lists 408, 429 and 5xx only", () => {
    expect([200, 400, 404, 408, 409, 429, 500, 599, 600].filter(isRetryableStatus)).toEqual([408, 429, 500, 599]);
  });
});

describe("retry policy: branch pending snapshot", () => {
  const pending = status(409, { code: "BRANCH_PENDING_SNAPSHOT", branchPendingSnapshot: true });

  it("retries a pending-snapshot 409 of a branch create although POST is not idempotent", () => {
    const d = decide(pending, { idempotent: false, branchCreate: true });
    expect(d.retry).toBe(true);
  });

  it("keeps retrying past maxRetries until the deadline", () => {
    expect(decide(pending, { idempotent: false, branchCreate: true, retriesSoFar: 50, elapsedMs: 1_000 }).retry).toBe(true);
    const late = decide(pending, { idempotent: false, branchCreate: true, retriesSoFar: 50, elapsedMs: policy.branchPendingDeadlineMs });
    expect(late.retry).toBe(false);
  });

  it("uses its own, shorter backoff", () => {
    const d = decide(pending, { idempotent: false, branchCreate: true, retriesSoFar: 10, random: 1 });
    expect(d).toMatchObject({ retry: true, delayMs: policy.branchPendingMaxDelayMs });
  });

  it("waits as long as the server's hint says (retry-after-ms), capped at its longest step, instead of backing off", () => {
    const hinted = (ms: number) => status(409, { code: "BRANCH_PENDING_SNAPSHOT", branchPendingSnapshot: true, retryAfterMs: ms });
    expect(decide(hinted(137), { idempotent: false, branchCreate: true, retriesSoFar: 3, random: 1 })).toEqual({
      retry: true,
      delayMs: 137,
      reason: "source has a pending snapshot, done in about 137 ms",
    });
    expect(decide(hinted(60_000), { idempotent: false, branchCreate: true })).toMatchObject({ retry: true, delayMs: policy.branchPendingMaxDelayMs });
    const late = decide(hinted(137), { idempotent: false, branchCreate: true, elapsedMs: policy.branchPendingDeadlineMs - 100 });
    expect(late.retry).toBe(false);
  });

  it("does not retry the same 409 outside a branch create, nor other 409s of a branch create", () => {
    expect(decide(pending, { branchCreate: false }).retry).toBe(false);
    expect(decide(status(409, { code: "VOLUME_IN_USE" }), { idempotent: false, branchCreate: true }).retry).toBe(false);
  });
});

describe("retry policy: delays", () => {
  it("backs off exponentially with jitter, capped", () => {
    expect(backoffDelay(0, 100, 1_000, 0)).toBe(50);
    expect(backoffDelay(0, 100, 1_000, 1)).toBe(100);
    expect(backoffDelay(2, 100, 1_000, 0)).toBe(200);
    expect(backoffDelay(2, 100, 1_000, 1)).toBe(400);
    expect(backoffDelay(20, 100, 1_000, 1)).toBe(1_000);
    expect(backoffDelay(1_000, 100, 1_000, 0.5)).toBe(750);
  });

  it("spreads parallel retries: different random draws give different delays", () => {
    const delays = [0, 0.25, 0.5, 0.75].map((r) => backoffDelay(3, 100, 10_000, r));
    expect(new Set(delays).size).toBe(4);
  });

  it("honours Retry-After instead of the backoff", () => {
    expect(decide(status(429, { retryAfterMs: 3_000 }))).toEqual({ retry: true, delayMs: 3_000, reason: "Retry-After 3000 ms" });
    expect(decide(status(503, { retryAfterMs: 0 }))).toMatchObject({ retry: true, delayMs: 0 });
  });

  it("gives up when Retry-After is longer than maxRetryAfterMs", () => {
    expect(decide(status(429, { retryAfterMs: policy.maxRetryAfterMs + 1 })).retry).toBe(false);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");

  it("reads delta seconds", () => {
    expect(parseRetryAfter("2", null, now)).toBe(2_000);
    expect(parseRetryAfter(" 0 ", null, now)).toBe(0);
    expect(parseRetryAfter("1.5", null, now)).toBe(1_500);
  });

  it("reads an HTTP date relative to now, never negative", () => {
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", null, now)).toBe(5_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:59:00 GMT", null, now)).toBe(0);
  });

  it("prefers retry-after-ms and ignores junk", () => {
    expect(parseRetryAfter("10", "250", now)).toBe(250);
    expect(parseRetryAfter("soon", null, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, undefined, now)).toBeUndefined();
    expect(parseRetryAfter("-3", null, now)).toBeUndefined();
  });
});
