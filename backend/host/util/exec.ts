/**
 * The one runner of host tools (qemu-img, mke2fs, apt-get, xz, …): an argument array, never a
 * shell string; stdout collected (or sent to a file), stdin fed when given; a failure becomes a
 * HostCommandError carrying the command, its exit code and its own output, which core maps to
 * HOST_FAILURE (logged in full, summarised to the client). Long-running services are not its
 * business (see host/qemu).
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { basename } from "node:path";
import type { HostFailure, HostFailureCause, HostFailureDetail } from "../host-failure";

/** A host tool failed or could not be started; `output` is its stderr (or stdout, or why it did not start). */
export class HostCommandError extends Error implements HostFailure {
  constructor(
    readonly command: string,
    /** Exit code, or null when the command was killed or never started. */
    readonly exitCode: number | null,
    readonly output: string,
    /** What the caller made of the output, where the client's answer depends on it. */
    readonly failureCause?: HostFailureCause,
  ) {
    super(`${command} failed${exitCode === null ? "" : ` (exit ${exitCode})`}: ${output.trim() || "no output"}`);
    this.name = "HostCommandError";
  }

  /** The same failure, known to be caused by `cause`. */
  because(cause: HostFailureCause): HostCommandError {
    return new HostCommandError(this.command, this.exitCode, this.output, cause);
  }

  get hostFailure(): HostFailureDetail {
    const program = basename(this.command.split(" ")[0] ?? "a host tool");
    const summary = `${program} failed${this.exitCode === null ? "" : ` (exit ${this.exitCode})`}`;
    return { command: this.command, summary, exitCode: this.exitCode, output: this.output, ...(this.failureCause ? { cause: this.failureCause } : {}) };
  }
}

/**
 * ENOSPC as a tool reports it: the C library's text for the errno (strerror), which qemu-img,
 * mke2fs, tar and coreutils print. A caller that knows better (mke2fs filling a small volume) says
 * so with `because`.
 */
const ENOSPC_TEXT = /No space left on device/i;

/** True when a tool's output says a write failed with ENOSPC. */
export function saysNoSpace(output: string): boolean {
  return ENOSPC_TEXT.test(output);
}

/** Options of `run`. */
export interface RunOptions {
  /** Killed (SIGTERM) after this long; default 2 minutes. */
  timeoutMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this user and group (with no other groups). */
  uid?: number;
  gid?: number;
  /** Bytes written to the command's stdin, then closed. */
  input?: Buffer;
  /** Send stdout to this file instead of collecting it. */
  stdoutFile?: string;
}

/** Run `file args…`; resolves with stdout (empty when sent to a file), rejects with HostCommandError. */
export function run(file: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const command = [file, ...args.slice(0, 3)].join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, uid: opts.uid, gid: opts.gid, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let fileDone: Promise<void> = Promise.resolve();
    if (opts.stdoutFile) {
      const sink = createWriteStream(opts.stdoutFile);
      fileDone = new Promise((res, rej) => {
        sink.on("finish", res);
        sink.on("error", rej);
      });
      child.stdout.pipe(sink);
    } else child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    // EPIPE when the command exits before reading all input is reported through its exit code.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? Buffer.alloc(0));
    const timer = setTimeout(() => child.kill("SIGTERM"), opts.timeoutMs ?? 120_000);
    let failed = false;
    child.on("error", (e: NodeJS.ErrnoException) => {
      failed = true;
      clearTimeout(timer);
      reject(new HostCommandError(command, null, e.message, e.code === "ENOSPC" ? "host-full" : undefined));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (failed) return;
      const stdout = Buffer.concat(out).toString("utf8");
      if (code !== 0) {
        const stderr = Buffer.concat(err).toString("utf8");
        const output = stderr || stdout || `killed by ${signal}`;
        reject(new HostCommandError(command, code, output, saysNoSpace(output) ? "host-full" : undefined));
        return;
      }
      fileDone.then(() => resolve(stdout), reject);
    });
  });
}
