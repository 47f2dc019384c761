/**
 * Waiting for a resource to reach a state, with an overall deadline and the caller's AbortSignal.
 * Instances use the server's long-poll (`GET …/wait`); volumes, which have no wait endpoint, are
 * polled with GET. Owns the loop, pacing, and the verdicts (reached, unreachable, timed out); the
 * resource modules supply the requests.
 */
import { TimeoutError, UnexpectedStateError, isSdkError, type SdkError } from "./errors";
import type { ApiErrorCode } from "../schemas";
import type { RequestOptions } from "./options";
import { linkAbort, sleep } from "./signals";

/** Options of `waitFor`. */
export interface WaitOptions {
  /** Overall deadline in ms for the whole wait (default 5 minutes). */
  timeoutMs?: number;
  /** Abort the wait. */
  signal?: AbortSignal;
  /** Least time between two rounds (polls, or long-polls that returned early), in ms. */
  pollMs?: number;
  /**
   * Longest single long-poll the server is asked for, in seconds (default 10). The server's wait
   * does not end when the instance fails, so this also bounds how late an `error` state is noticed.
   */
  longPollS?: number;
  /** Sees the resource each time it is observed (e.g. a clone's `progress`). */
  onPoll?: (resource: { uuid: string; name: string; state: string }) => void;
}

/** Default overall deadline of `waitFor`. */
export const DEFAULT_WAIT_TIMEOUT_MS = 300_000;
/** Default longest single long-poll, in seconds. */
export const DEFAULT_LONG_POLL_S = 10;
// Extra time a long-poll request gets beyond what the server was asked to wait.
const LONG_POLL_SLACK_MS = 5_000;

/** What the loop needs from a resource module. */
export interface WaitSpec<T extends { uuid: string; name: string; state: string }> {
  kind: "instance" | "volume" | "checkpoint";
  idOrName: string;
  targets: readonly string[];
  /** States from which no target can be reached (unless a target itself). */
  terminal: readonly string[];
  /** Why the resource ended where it did (stop reason, volume error), if it says. */
  reason?: (resource: T) => string | null | undefined;
  get: (options: RequestOptions) => Promise<T>;
  /** Long-poll for one state; absent for kinds without a wait endpoint. */
  longPoll?: (state: string, timeoutS: number, options: RequestOptions) => Promise<T>;
  defaultPollMs: number;
}

const quote = (states: readonly string[]) => states.map((s) => `'${s}'`).join(" or ");

/**
 * A long-poll answer that only means "not yet": the server's wait timed out (408, or a 409 for a
 * state it cannot wait from), the request itself timed out, or a transient failure. The loop then
 * looks with a plain GET, which has the transport's retries and reports real failures.
 */
function roundIsInconclusive(error: unknown): boolean {
  if (!isSdkError(error)) return false;
  if (error.name === "TimeoutError" || error.name === "ConnectionError") return true;
  const s = (error as SdkError).status;
  return s === 408 || s === 409 || s === 429 || (s !== undefined && s >= 500);
}

/** Wait until the resource is in one of `spec.targets`; resolves with it as last observed. */
export async function waitForState<T extends { uuid: string; name: string; state: string }>(spec: WaitSpec<T>, options: WaitOptions = {}): Promise<T> {
  if (spec.targets.length === 0) throw new TypeError("waitFor needs at least one target state");
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
  const pollMs = options.pollMs ?? spec.defaultPollMs;
  const longPollS = options.longPollS ?? DEFAULT_LONG_POLL_S;
  const endAt = Date.now() + timeoutMs;
  // One signal for every request and sleep of the wait: fires on the caller's abort or the deadline.
  const deadline = linkAbort(options.signal, timeoutMs);
  const what = `${spec.kind} '${spec.idOrName}'`;
  let last: T | undefined;
  try {
    for (let round = 0; ; round++) {
      const roundStart = Date.now();
      const target = spec.targets[0];
      // The wait endpoint takes one state, so several targets are polled instead.
      const longPolling = spec.longPoll !== undefined && spec.targets.length === 1 && target !== undefined;
      // Round 0 is always a GET: it answers at once for a resource already there or already dead.
      if (longPolling && round > 0 && spec.longPoll !== undefined && target !== undefined) {
        const timeoutS = Math.min(longPollS, Math.max(1, Math.ceil((endAt - Date.now()) / 1000)));
        try {
          last = await spec.longPoll(target, timeoutS, { signal: deadline.signal, maxRetries: 0, timeoutMs: timeoutS * 1000 + LONG_POLL_SLACK_MS });
        } catch (err) {
          if (deadline.cause() !== undefined || !roundIsInconclusive(err)) throw err;
          last = await spec.get({ signal: deadline.signal });
        }
      } else {
        last = await spec.get({ signal: deadline.signal });
      }
      options.onPoll?.(last);
      if (spec.targets.includes(last.state)) return last;
      if (spec.terminal.includes(last.state)) {
        const reason = spec.reason?.(last);
        throw new UnexpectedStateError(
          `${what[0]?.toUpperCase()}${what.slice(1)} is in state '${last.state}' and cannot reach ${quote(spec.targets)}${reason ? `: ${reason}` : ""}`,
          { state: last.state, expected: spec.targets },
        );
      }
      // The long-poll paces itself; only polls, and long-polls that came back early, wait here.
      const rest = longPolling && round === 0 ? 0 : pollMs - (Date.now() - roundStart);
      if (rest > 0) await sleep(rest, deadline.signal, `Waiting for ${what}`);
    }
  } catch (err) {
    if (deadline.cause() === "timeout") {
      const lastState = last === undefined ? "" : ` (last state '${last.state}')`;
      throw new TimeoutError(`Timed out after ${timeoutMs} ms waiting for ${what} to reach ${quote(spec.targets)}${lastState}`, {
        code: "WAIT_TIMEOUT" satisfies ApiErrorCode,
        cause: err,
      });
    }
    throw err;
  } finally {
    deadline.dispose();
  }
}
