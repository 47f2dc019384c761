/**
 * Run host tools (qemu-img, mke2fs, …) with an argument array, never a shell string, and turn a
 * failure into an error carrying the tool's own output so users see what went wrong.
 */
import { execFile } from "node:child_process";

/** A host tool failed; `output` is its stderr (or stdout). */
export class HostCommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(`${command} failed${exitCode === null ? "" : ` (exit ${exitCode})`}: ${output.trim() || "no output"}`);
    this.name = "HostCommandError";
  }
}

/** Run `file args…` (as `uid`/`gid` when given, with no other groups); resolves with stdout, rejects with HostCommandError. */
export function run(file: string, args: string[], opts: { timeoutMs?: number; cwd?: string; uid?: number; gid?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? 120_000, cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024, encoding: "utf8", uid: opts.uid, gid: opts.gid },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : null;
          reject(new HostCommandError([file, ...args.slice(0, 3)].join(" "), code, stderr || stdout || err.message));
        } else resolve(stdout);
      },
    );
  });
}
