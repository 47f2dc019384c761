/**
 * The one mapping from host failures onto the error registry. An error that carries host failure
 * details (a host command, QEMU failing to start) becomes HOST_FAILURE: the command, its exit code
 * and the tail of its output go to the log, the client gets what failed in words that name no host
 * path; a cause the host recognised (a taken host port) gets its own code. Any other failure of a
 * host step (a QMP error, a file operation) is HOST_FAILURE with its message.
 */
import type { HostFailureDetail } from "../host/host-failure";
import { StoreSuperseded, StoreUnavailable } from "../store/engine";
import type { Logger } from "./context";
import { ApiError } from "./errors";

/** How much of a failed command's output the log keeps (its last lines say why). */
const OUTPUT_TAIL_CHARS = 2000;

/** The host failure details `err` carries, or null. */
export function hostFailureOf(err: unknown): HostFailureDetail | null {
  const detail = typeof err === "object" && err !== null ? (err as { hostFailure?: unknown }).hostFailure : undefined;
  return typeof detail === "object" && detail !== null && typeof (detail as HostFailureDetail).command === "string" ? (detail as HostFailureDetail) : null;
}

/** `err`, a failure of host step `what` (e.g. "Cannot start instance 'web'"), as the error the client sees; logged. */
export function hostError(err: unknown, what: string, log: Logger): ApiError {
  if (ApiError.is(err)) return err;
  const failure = hostFailureOf(err);
  if (failure) {
    log.error({ command: failure.command, exitCode: failure.exitCode, output: failure.output.slice(-OUTPUT_TAIL_CHARS) }, `${what}: ${failure.summary}`);
    if (failure.cause === "port-in-use") return new ApiError("PORT_UNAVAILABLE", `${what}: a published host port is in use`);
    // The summary names the directory the operator configured: the client needs it to act.
    if (failure.cause === "share-unsafe") return new ApiError("HOST_PATH_UNSAFE", `${what}: ${failure.summary}; refusing to share it`);
    // The host's filesystem refused a write (a tool writing a disk file into the data dir); a
    // volume's own filesystem being full is cause "no-space", which the import maps itself.
    if (failure.cause === "host-full") return dataDirFull(what);
    return new ApiError("HOST_FAILURE", `${what}: ${failure.summary}; the service log has its output`);
  }
  if (isNoSpace(err)) return dataDirFull(what);
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError("HOST_FAILURE", `${what}: ${message.trim()}`);
}

/** True for a failure that says the filesystem is full: ENOSPC from Node, SQLITE_FULL from the store. */
function isNoSpace(err: unknown): boolean {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return code === "ENOSPC" || code === "SQLITE_FULL";
}

/** 507 for a step that met a full data directory (the reverter has undone what it made). */
function dataDirFull(what: string): ApiError {
  return new ApiError("INSUFFICIENT_STORAGE", `${what}: the data directory's filesystem is full; free space on it and retry`);
}

/** An error no step mapped, as the client sees it: a host failure's HOST_FAILURE, else INTERNAL. */
export function unexpectedError(err: Error, log: Logger): ApiError {
  if (hostFailureOf(err)) return hostError(err, "The host could not do it", log);
  if (err instanceof StoreSuperseded) {
    log.warn({ err: err.message }, "this serve's term is over");
    return new ApiError("STORE_UNAVAILABLE", "This serve no longer holds the state: another serve took it over and answers in its place");
  }
  if (err instanceof StoreUnavailable) {
    log.warn({ err: err.message }, "the state database is unavailable");
    return new ApiError("STORE_UNAVAILABLE", "The state database cannot be reached: retry once it is back");
  }
  if (isNoSpace(err)) return dataDirFull("The request could not be recorded");
  log.error({ err }, "unexpected error");
  return new ApiError("INTERNAL", `Internal error: ${err.message}`);
}
