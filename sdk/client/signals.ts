/**
 * Cancellation plumbing: an abort controller that follows a caller's signal and a timer, and an
 * abortable sleep. Owns listener and timer cleanup so no handle outlives its request; deciding what
 * an abort means (caller, timeout, deadline) is left to the transport and the waiters.
 */
import { RequestAbortedError } from "./errors";

/** Why a linked controller fired. */
export type AbortCause = "caller" | "timeout";

/** An AbortSignal that fires when the caller's signal does or when `timeoutMs` passes. */
export interface LinkedAbort {
  signal: AbortSignal;
  /** Which of the two fired first, undefined while neither has. */
  cause(): AbortCause | undefined;
  /** Remove the listener and the timer. Call once the request is over, success or not. */
  dispose(): void;
}

/** Link a caller's signal and a timeout into one signal. A non-finite timeout means none. */
export function linkAbort(parent: AbortSignal | undefined, timeoutMs: number | undefined): LinkedAbort {
  const controller = new AbortController();
  let cause: AbortCause | undefined;
  const onParent = () => {
    cause ??= "caller";
    controller.abort(parent?.reason);
  };
  if (parent?.aborted) onParent();
  else parent?.addEventListener("abort", onParent, { once: true });
  let timer: NodeJS.Timeout | undefined;
  if (timeoutMs !== undefined && Number.isFinite(timeoutMs) && cause === undefined) {
    timer = setTimeout(() => {
      cause ??= "timeout";
      controller.abort(new Error(`timed out after ${timeoutMs} ms`));
    }, Math.max(0, timeoutMs));
  }
  return {
    signal: controller.signal,
    cause: () => cause,
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      parent?.removeEventListener("abort", onParent);
    },
  };
}

/** The error an abort by the caller becomes; its `cause` is the signal's reason. */
export function abortedError(signal: AbortSignal | undefined, what: string): RequestAbortedError {
  return new RequestAbortedError(`${what} was aborted`, { cause: signal?.reason, code: "ABORTED" });
}

/** Wait `ms`; rejects with `RequestAbortedError` as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal, what = "Wait"): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortedError(signal, what));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(signal, what));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
