/**
 * Starting a QEMU process so that it outlives `serve`: spawn with an argument array (never a
 * shell), let QEMU daemonize (`-daemonize` + `-pidfile`), report its start-up errors verbatim when
 * it fails (its stderr until it parses `-D`, the `-D` log after that), and record what a later
 * attach needs (vm.json). Owns nothing after the daemon runs: watching and control are vm-process.ts.
 */
import { spawn } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { buildQemuArgs } from "./command-line";
import { serialLogSize } from "./serial-log";
import { isVmProcess, readProcStat, waitForPidGone } from "./vm-processes";
import { prepareVmPaths, type VmPaths } from "./vm-paths";
import type { VmSpec } from "./vm-spec";

/** The QEMU system emulator used unless told otherwise (`VMBRANCH_QEMU` overrides). */
export const DEFAULT_QEMU_BINARY = "qemu-system-x86_64";

/** QEMU did not start; `stderr` is QEMU's own message, verbatim. */
export class VmStartError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(stderr.trim() ? `${message}: ${stderr.trim()}` : message);
    this.name = "VmStartError";
  }
}

/** A live VM already uses this run directory. */
export class VmAlreadyRunningError extends Error {
  constructor(readonly pid: number, readonly uuid: string) {
    super(`VM ${uuid} is already running in this run directory (pid ${pid})`);
    this.name = "VmAlreadyRunningError";
  }
}

/** What the supervisor records in `VmPaths.stateFile` at launch. */
export interface VmLaunchRecord {
  uuid: string;
  pid: number;
  /** /proc start time of `pid`: with the name check, a recycled pid can never pass for the VM. */
  startTime: number;
  /** Size of the serial log when this run started: its output begins there. */
  serialOffset: number;
  launchedAt: string;
}

/** Options of `launchQemu`. */
export interface QemuStartOptions {
  qemuBinary?: string;
  /** Deadline for QEMU to initialise and daemonize (default 30 s). */
  startTimeoutMs?: number;
  signal?: AbortSignal;
}

/** The configured QEMU binary. */
export function qemuBinary(override?: string): string {
  return override ?? process.env.VMBRANCH_QEMU ?? DEFAULT_QEMU_BINARY;
}

/** Reads the launch record, or null when absent or unreadable. */
export async function readLaunchRecord(paths: VmPaths): Promise<VmLaunchRecord | null> {
  try {
    const r = JSON.parse(await readFile(paths.stateFile, "utf8")) as VmLaunchRecord;
    return typeof r.uuid === "string" && Number.isInteger(r.pid) ? r : null;
  } catch {
    return null;
  }
}

/** Reads QEMU's pidfile, or null when absent or not a pid. */
export async function readPidFile(paths: VmPaths): Promise<number | null> {
  const raw = await readFile(paths.pidFile, "utf8").catch(() => "");
  const pid = Number.parseInt(raw.trim(), 10);
  return Number.isInteger(pid) && pid > 1 ? pid : null;
}

/**
 * Starts the VM daemonized and returns its launch record once QEMU has initialised (its QMP
 * socket is listening). Precondition: the guest configuration file is written. Throws
 * VmSpecError, VmAlreadyRunningError or VmStartError; on failure no process is left behind.
 */
export async function launchQemu(spec: VmSpec, paths: VmPaths, opts: QemuStartOptions = {}): Promise<VmLaunchRecord> {
  const args = buildQemuArgs(spec, paths);
  await prepareVmPaths(paths);
  const previous = (await readLaunchRecord(paths)) ?? { uuid: spec.uuid, pid: (await readPidFile(paths)) ?? 0 };
  if (previous.pid && (await isVmProcess(previous.pid, previous.uuid))) throw new VmAlreadyRunningError(previous.pid, previous.uuid);
  await rm(paths.stateFile, { force: true });
  await rm(paths.pidFile, { force: true });
  // With -daemonize, QEMU sends errors to the -D log as soon as it has parsed that option: start
  // it empty so whatever it holds after a failure is this start's.
  await rm(paths.qemuLog, { force: true });
  const serialOffset = await serialLogSize(paths.serialLog);

  const { code, stderr, timedOut } = await runUntilDaemonized(qemuBinary(opts.qemuBinary), args, opts.startTimeoutMs ?? 30_000, opts.signal);
  const pid = await readPidFile(paths);
  const alive = pid !== null && (await isVmProcess(pid, spec.uuid));
  if (timedOut || code !== 0 || !alive) {
    if (alive) await killAndWait(pid);
    const log = await readFile(paths.qemuLog, "utf8").catch(() => "");
    if (timedOut) throw new VmStartError(`QEMU did not finish starting within ${opts.startTimeoutMs ?? 30_000} ms`, stderr + log, code);
    if (code !== 0) throw new VmStartError(`QEMU failed to start (exit ${code})`, stderr + log, code);
    throw new VmStartError("QEMU exited right after starting", stderr + log, code);
  }
  const stat = await readProcStat(pid);
  const record: VmLaunchRecord = { uuid: spec.uuid, pid, startTime: stat?.startTime ?? 0, serialOffset, launchedAt: new Date().toISOString() };
  await writeFile(paths.stateFile, JSON.stringify(record) + "\n", { mode: 0o600 });
  return record;
}

/** SIGKILLs `pid` and waits up to 5 s for it to be gone. */
export async function killAndWait(pid: number): Promise<void> {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return; // already gone
  }
  await waitForPidGone(pid, 5_000);
}

/**
 * Runs QEMU until its foreground parent exits, which with -daemonize happens once the daemon has
 * initialised (or failed to). Collects stderr: before daemonizing, QEMU reports errors there.
 */
function runUntilDaemonized(
  binary: string,
  args: string[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ code: number | null; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    // detached: the daemon must not share our process group (a Ctrl-C on serve must not reach it).
    const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
    let stderr = "";
    let settled = false;
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => (stderr += d));
    const finish = (code: number | null, timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      // The daemon redirects its stderr to the -D log before the parent exits; give the pipe a moment to drain.
      if (child.stderr.closed) return resolve({ code, stderr, timedOut });
      child.stderr.once("close", () => resolve({ code, stderr, timedOut }));
      setTimeout(() => resolve({ code, stderr, timedOut }), 200).unref();
    };
    const onAbort = () => {
      child.kill("SIGKILL");
      finish(null, true);
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish(null, true);
    }, timeoutMs);
    child.on("error", (err) => {
      stderr += `cannot run ${binary}: ${err.message}`;
      finish(null, false);
    });
    child.on("exit", (code) => finish(code, false));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}
