/**
 * Errors of the QMP monitor. Each says which command failed and why, in QEMU's own words where
 * QEMU gave any, so callers can map them without parsing messages. Mapping to HTTP is core's job.
 */

/** Base class of every QMP error; `command` is the QMP command name, or null for the connection. */
export class QmpError extends Error {
  constructor(
    message: string,
    readonly command: string | null,
  ) {
    super(message);
    this.name = "QmpError";
  }
}

/** QEMU answered a command with `{"error": {"class", "desc"}}`. */
export class QmpCommandError extends QmpError {
  constructor(
    command: string,
    /** QMP error class, e.g. `GenericError`, `DeviceNotFound`, `CommandNotFound`. */
    readonly errorClass: string,
    /** QEMU's human-readable description, verbatim. */
    readonly desc: string,
  ) {
    super(`QMP ${command} failed: ${desc} (${errorClass})`, command);
    this.name = "QmpCommandError";
  }
}

/** No answer within the command's deadline; the connection stays usable (late replies are dropped). */
export class QmpTimeoutError extends QmpError {
  constructor(
    command: string,
    readonly timeoutMs: number,
  ) {
    super(`QMP ${command} timed out after ${timeoutMs} ms`, command);
    this.name = "QmpTimeoutError";
  }
}

/** The connection closed (QEMU exited, crashed, or we closed it) before the command was answered. */
export class QmpClosedError extends QmpError {
  constructor(command: string | null, reason: string) {
    super(command ? `QMP ${command} aborted: ${reason}` : `QMP connection closed: ${reason}`, command);
    this.name = "QmpClosedError";
  }
}

/** The peer does not speak QMP as expected (bad greeting, malformed JSON, unsupported version). */
export class QmpProtocolError extends QmpError {
  constructor(message: string) {
    super(`QMP protocol error: ${message}`, null);
    this.name = "QmpProtocolError";
  }
}
