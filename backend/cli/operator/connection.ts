/**
 * How the people's commands (`vmbranch ls`, `tree`, `branch`, …) reach a server: the connection
 * flags every one of them takes, the SDK client they make from flags, `VMBRANCH_ENDPOINT` /
 * `VMBRANCH_TOKEN` or the local token file, and what a failure becomes — one line on stderr and an
 * exit status that says what kind of failure it was (docs/cli.md, "Exit status").
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { isSdkError, resolveEnvOptions, VmbranchClient } from "vmbranch/sdk";
import { UsageError, type CliContext } from "../command-registry";

/** Exit statuses of the people's commands. */
export const EXIT = {
  OK: 0,
  /** The server refused or failed the request for another reason (400, 500, …). */
  FAILED: 1,
  /** Bad command line. */
  USAGE: 2,
  /** No such instance, volume or template (404). */
  NOT_FOUND: 3,
  /** Not possible in the resource's current state, name taken, locked (409). */
  CONFLICT: 4,
  /** No token, or the server refused it (401, 403). */
  AUTH: 5,
  /** The server could not be reached, or did not answer in time. */
  UNREACHABLE: 6,
  /** The request was accepted but the resource ended in `error` (a branch or clone that failed). */
  ENDED_IN_ERROR: 7,
} as const;

/** The connection options every people's command takes. */
export const CONNECTION_OPTIONS = {
  endpoint: { type: "string" },
  token: { type: "string" },
  "data-dir": { type: "string" },
  json: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

/** The usage lines describing CONNECTION_OPTIONS. */
export const CONNECTION_USAGE = [
  "connection: --endpoint URL (else $VMBRANCH_ENDPOINT, else http://127.0.0.1:7480)",
  "            --token TOKEN (else $VMBRANCH_TOKEN, else <data-dir>/token of a local server)",
  "            --data-dir DIR (else $VMBRANCH_DATA_DIR, else ~/.vmbranch)",
  "output:     --json for scripts (one JSON document on stdout), tables for people otherwise",
];

/** Parse `args` with the connection options plus `options`; bad flags are usage errors. */
export function parseCommand<O extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: O) {
  try {
    return parseArgs({ args, allowPositionals: true, strict: true, options: { ...CONNECTION_OPTIONS, ...options } });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Thrown when the command itself decides the outcome (a failed branch): message and status. */
export class CommandFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** The SDK client for the connection flags in `values`. */
export function clientFor(values: { endpoint?: string; token?: string; "data-dir"?: string }, ctx: CliContext): VmbranchClient {
  const env = { ...ctx.env, ...(values["data-dir"] ? { VMBRANCH_DATA_DIR: values["data-dir"] } : {}) };
  let options;
  try {
    options = resolveEnvOptions({ ...(values.endpoint ? { endpoint: values.endpoint } : {}), ...(values.token ? { token: values.token } : {}) }, env);
  } catch (e) {
    throw new CommandFailure(`${(e as Error).message}, or pass --token`, EXIT.AUTH);
  }
  try {
    // People wait for a person-sized time; the SDK's retries cover a restarting server.
    return new VmbranchClient({ ...options, timeoutMs: 30_000 });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The exit status and the one line to print for an error thrown by a command. */
export function describeFailure(e: unknown): { code: number; line: string } {
  if (e instanceof CommandFailure) return { code: e.exitCode, line: e.message };
  if (isSdkError(e)) {
    const detail = e.errors[0]?.message ?? e.message;
    const code =
      e.status === 404 ? EXIT.NOT_FOUND
      : e.status === 409 ? EXIT.CONFLICT
      : e.status === 401 || e.status === 403 ? EXIT.AUTH
      : e.name === "ConnectionError" || e.name === "TimeoutError" ? EXIT.UNREACHABLE
      : e.name === "UnexpectedStateError" ? EXIT.ENDED_IN_ERROR
      : EXIT.FAILED;
    const line = e.name === "ConnectionError" ? `cannot reach the server: ${firstLine(e.message)}` : firstLine(detail);
    return { code, line: e.code && e.status ? `${line} (${e.status} ${e.code})` : line };
  }
  return { code: EXIT.FAILED, line: firstLine(e instanceof Error ? e.message : String(e)) };
}

function firstLine(text: string): string {
  return text.split("\n")[0]!.trim();
}
