/**
 * Work serve does on its own, with no request to answer it (recording a VM's exit, its readiness
 * or a stall, the end of a branch, clone or checkpoint): run so that the state database being
 * down (StoreUnavailable: PostgreSQL restarting or unreachable) delays the work instead of ending
 * serve with an unhandled rejection. A request meeting the same outage answers 503 and its client
 * retries; here serve is the client, so it retries itself, and each try re-reads the records it
 * needs: what it records once the database is back is the state as it is then. The undos of a
 * failed request are such work too (storeReverter).
 */
import { StoreSuperseded, StoreUnavailable } from "../store/engine";
import type { Logger } from "./context";
import { Reverter } from "./reverter";

/** How long background work waits before trying again while the state database is unavailable. */
export const STORE_RETRY_MS = 1_000;

/**
 * Run `work` until it gets past the state database being unavailable (`what` names it in the
 * log). Any other failure is logged and ends it: background work never rejects.
 */
export async function untilRecorded(log: Logger, what: string, work: () => void | Promise<void>): Promise<void> {
  try {
    await whileUnavailable(log, what, work);
  } catch (err) {
    log.error({ err: (err as Error).message }, `${what} failed`);
  }
}

/** Run `work` again while it fails for the state database being unavailable (not superseded); its other failures are its caller's. */
export async function whileUnavailable<T>(log: Logger, what: string, work: () => T | Promise<T>): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      const out = await work();
      if (tries > 0) log.info({ tries: tries + 1 }, `${what}: done now that the state database is back`);
      return out;
    } catch (err) {
      // A serve whose term is over stops; its work is the newer serve's to do, not to retry here.
      if (!(err instanceof StoreUnavailable) || err instanceof StoreSuperseded) throw err;
      if (tries === 0) log.warn({ err: err.message }, `${what}: the state database is unavailable; trying again until it is back`);
      await storeRetryDelay();
    }
  }
}

/** Wait STORE_RETRY_MS without keeping the process alive (serve's shutdown does not wait for it). */
export function storeRetryDelay(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, STORE_RETRY_MS).unref());
}

/**
 * A reverter whose undos wait out a state database that is down: a request cut by an outage
 * between its steps still removes the rows it made once the database is back. Undo failures of
 * any other kind are logged with `fields`.
 */
export function storeReverter(log: Logger, fields: Record<string, unknown> = {}): Reverter {
  return new Reverter(
    (msg, err) => log.error({ ...fields, err: String(err) }, msg),
    (what, undo) => whileUnavailable(log, `undoing '${what}'`, undo),
  );
}
