/**
 * Starting a QEMU process so that it outlives `serve`: spawn it with an argument array (never a
 * shell) in a session of its own, stdout and stderr going to its log file, and consider it started
 * once its QMP monitor answers; report its start-up errors verbatim when it exits first. QEMU is
 * not asked to -daemonize: it would have to fork, which its own seccomp filter (spawn=deny) then
 * forbids. Shared directories are passed open (descriptors 3, 4, …). Records what a later attach
 * needs (vm.json). Owns nothing after the VM runs: watching and control are vm-process.ts.
 */
import type { HostFailure, HostFailureDetail } from "../host-failure";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { checkShareAccess, openShareDir } from "../storage/host-paths";
import { saysNoSpace } from "../util/exec";
import { buildQemuArgs } from "./command-line";
import { serialLogSize } from "./serial-log";
import { isVmProcess, readProcStat, waitForPidGone } from "./vm-processes";
import { prepareVmPaths, type VmPaths } from "./vm-paths";
import type { VmSpec } from "./vm-spec";

/** The umask a confined QEMU runs with (see launchQemu). */
const CONFINED_UMASK = 0o007;

/** The first descriptor number QEMU gets for what is passed to it open (after stdin, stdout, stderr). */
const FIRST_PASSED_FD = 3;

/** The QEMU system emulator used unless told otherwise (`VMBRANCH_QEMU` overrides). */
export const DEFAULT_QEMU_BINARY = "qemu-system-x86_64";

/** QEMU did not start; `stderr` is QEMU's own message, verbatim. */
export class VmStartError extends Error implements HostFailure {
  constructor(
    private readonly why: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(stderr.trim() ? `${why}: ${stderr.trim()}` : why);
    this.name = "VmStartError";
  }

  get hostFailure(): HostFailureDetail {
    // QEMU says so when a forward's host port is taken (slirp's hostfwd setup, or bind's EADDRINUSE).
    const portInUse = /host forwarding|hostfwd|Address already in use/i.test(this.stderr);
    const cause = portInUse ? ("port-in-use" as const) : saysNoSpace(this.stderr) ? ("host-full" as const) : null;
    return { command: "qemu-system", summary: this.why, exitCode: this.exitCode, output: this.stderr, ...(cause ? { cause } : {}) };
  }
}

/** A live VM already uses this run directory. */
export class VmAlreadyRunningError extends Error {
  constructor(readonly pid: number, readonly uuid: string) {
    super(`VM ${uuid} is already running in this run directory (pid ${pid})`);
    this.name = "VmAlreadyRunningError";
  }
}

/** QEMU's number for the incoming device state file (`migrate-incoming fd:N`) of a launch with `incoming: {file}`. */
export function incomingFdOf(spec: Pick<VmSpec, "shares" | "incoming">): number | null {
  return typeof spec.incoming === "object" ? FIRST_PASSED_FD + spec.shares.length : null;
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
  /** Deadline for QEMU to initialise and answer on its monitor (default 30 s). */
  startTimeoutMs?: number;
  signal?: AbortSignal;
  /** Runs with the new process's pid before anything waits on it (e.g. to put it in its cgroup). */
  onSpawn?: (pid: number) => Promise<void>;
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
 * Starts the VM and resolves once `connect` (its QMP monitor, retrying while QEMU initialises)
 * succeeds, with the launch record and what `connect` returned. Precondition: the guest
 * configuration file is written. Throws VmSpecError, SharePathError, VmAlreadyRunningError or
 * VmStartError; on failure no process is left behind.
 */
export async function launchQemu<T>(
  spec: VmSpec,
  paths: VmPaths,
  connect: (signal: AbortSignal) => Promise<T>,
  opts: QemuStartOptions = {},
): Promise<{ record: VmLaunchRecord; connected: T }> {
  buildQemuArgs(spec, paths);
  await prepareVmPaths(paths);
  const previous = (await readLaunchRecord(paths)) ?? { uuid: spec.uuid, pid: (await readPidFile(paths)) ?? 0 };
  if (previous.pid && (await isVmProcess(previous.pid, previous.uuid))) throw new VmAlreadyRunningError(previous.pid, previous.uuid);
  await rm(paths.stateFile, { force: true });
  await rm(paths.pidFile, { force: true });
  // Start the log empty so whatever it holds after a failure is this start's.
  await rm(paths.qemuLog, { force: true });
  const serialOffset = await serialLogSize(paths.serialLog);

  // Shared directories go to QEMU as descriptors opened without following symlinks, so what it
  // shares is what was checked here, whatever happens to the paths later.
  const passed: number[] = [];
  let child: ChildProcess;
  try {
    for (const share of spec.shares) {
      passed.push(openShareDir(share.path));
      // A confined QEMU reaches it with its own ids: say so now rather than let the guest find out.
      if (spec.confine) await checkShareAccess(passed.at(-1)!, share.path, spec.confine.uid, spec.confine.gid, !share.readonly);
    }
    // Opened here, as the service: QEMU may have dropped to a user that cannot open it by then.
    if (typeof spec.incoming === "object") passed.push(openSync(spec.incoming.file, "r"));
    const shares = spec.shares.map((share, i) => ({ ...share, path: `/proc/self/fd/${FIRST_PASSED_FD + i}` }));
    const args = buildQemuArgs({ ...spec, shares }, paths);
    const log = openSync(paths.qemuLog, "a", 0o600);
    passed.unshift(log);
    // detached: a session of its own, so a Ctrl-C on serve never reaches the VM. A confined
    // QEMU's umask keeps group access (9p files are meant for the VM group; what it creates as
    // root belongs to root's group); none ever grants anything to others.
    const umask = process.umask(spec.confine ? CONFINED_UMASK : 0o077);
    try {
      const [file, argv] = withOwnProc(spec, qemuBinary(opts.qemuBinary), args);
      child = spawn(file, argv, { stdio: ["ignore", log, log, ...passed.slice(1)], detached: true, cwd: "/" });
    } finally {
      process.umask(umask);
    }
  } finally {
    for (const fd of passed) closeSync(fd);
  }
  const spawned = child.pid !== undefined && opts.onSpawn ? await opts.onSpawn(child.pid).then(() => null, (err: Error) => err) : null;
  const started: Started<T> = spawned
    ? { ok: false, why: "QEMU could not be confined", detail: `${spawned.message}\n`, code: null }
    : await untilConnected(child, connect, opts.startTimeoutMs ?? 30_000, opts.signal);
  if (!started.ok) {
    if (child.pid !== undefined && child.exitCode === null) await killAndWait(child.pid);
    const log = await readFile(paths.qemuLog, "utf8").catch(() => "");
    throw new VmStartError(started.why, started.detail + log, started.code);
  }
  child.unref();
  const pid = child.pid!;
  const stat = await readProcStat(pid);
  const record: VmLaunchRecord = { uuid: spec.uuid, pid, startTime: stat?.startTime ?? 0, serialOffset, launchedAt: new Date().toISOString() };
  await writeFile(paths.stateFile, JSON.stringify(record) + "\n", { mode: 0o600 });
  return { record, connected: started.value };
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
 * How to run QEMU: as is, or, for a jailed QEMU with 9p shares, in a mount namespace of its own
 * with /proc mounted in its jail (its 9p server reaches extended attributes through
 * /proc/self/fd). `unshare` execs QEMU in place, so the pid stays QEMU's; the namespace and its
 * mount vanish with the process.
 */
function withOwnProc(spec: VmSpec, binary: string, args: string[]): [string, string[]] {
  if (!spec.confine || spec.shares.length === 0) return [binary, args];
  return ["unshare", [`--mount-proc=${join(spec.confine.chroot, "proc")}`, "--propagation", "private", "--", binary, ...args]];
}

type Started<T> = { ok: true; value: T } | { ok: false; why: string; detail: string; code: number | null };

/** Waits for `connect` to succeed while `child` runs, within `timeoutMs`; never rejects. */
function untilConnected<T>(child: ChildProcess, connect: (signal: AbortSignal) => Promise<T>, timeoutMs: number, signal?: AbortSignal): Promise<Started<T>> {
  return new Promise((resolve) => {
    const stop = new AbortController();
    let settled = false;
    const finish = (result: Started<T>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      stop.abort();
      resolve(result);
    };
    const onAbort = () => finish({ ok: false, why: "QEMU start aborted", detail: "", code: null });
    const timer = setTimeout(() => finish({ ok: false, why: `QEMU did not finish starting within ${timeoutMs} ms`, detail: "", code: null }), timeoutMs);
    child.once("error", (err) => finish({ ok: false, why: "QEMU failed to start", detail: `cannot run it: ${err.message}\n`, code: null }));
    child.once("exit", (code, sig) => finish({ ok: false, why: `QEMU failed to start (${sig ? `signal ${sig}` : `exit ${code}`})`, detail: "", code }));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    connect(stop.signal).then(
      (value) => {
        if (settled) return void closeIfPossible(value);
        finish({ ok: true, value });
      },
      (err: Error) => finish({ ok: false, why: "cannot connect to the QMP monitor of the new VM", detail: `${err.message}\n`, code: null }),
    );
  });
}

function closeIfPossible(value: unknown): void {
  (value as { close?: () => void } | null)?.close?.();
}
