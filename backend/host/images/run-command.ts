/**
 * Runs host tools (apt-cache, apt-get, dpkg-deb, xz) for the image builder: argument arrays only,
 * never a shell string, output collected, and a failure turned into an error that names the
 * command and quotes its stderr. Long-running services are not its business (see host/qemu).
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";

/** A host command that exited non-zero or could not be started. */
export class CommandError extends Error {
  override name = "CommandError";
  constructor(
    message: string,
    /** Exit code, or null when the command was killed or never started. */
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** Options for runCommand. */
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes written to the command's stdin, then closed. */
  input?: Buffer;
  /** Send stdout to this file instead of collecting it. */
  stdoutFile?: string;
}

/** Runs `cmd args…`; resolves with stdout (empty when redirected); rejects with CommandError. */
export function runCommand(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let fileDone: Promise<void> = Promise.resolve();
    if (opts.stdoutFile) {
      const file = createWriteStream(opts.stdoutFile);
      fileDone = new Promise((res, rej) => {
        file.on("finish", res);
        file.on("error", rej);
      });
      child.stdout.pipe(file);
    } else {
      child.stdout.on("data", (d: Buffer) => out.push(d));
    }
    child.stderr.on("data", (d: Buffer) => err.push(d));
    // EPIPE when the command exits before reading all input is reported through its exit code.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? Buffer.alloc(0));
    const label = [cmd, ...args].join(" ");
    child.on("error", (e) => reject(new CommandError(`${label}: ${e.message}`, null, "")));
    child.on("close", (code, signal) => {
      const stderr = Buffer.concat(err).toString("utf8");
      if (code !== 0) {
        const why = code === null ? `killed by ${signal}` : `exit ${code}`;
        reject(new CommandError(`${label} failed (${why}): ${stderr.trim().split("\n").slice(-5).join(" | ")}`, code, stderr));
        return;
      }
      fileDone.then(() => resolve(Buffer.concat(out).toString("utf8")), reject);
    });
  });
}
