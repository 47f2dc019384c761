/**
 * The supervisor of one running QEMU process, started by us (`launch`) or found again after a
 * restart of `serve` (`attach`). The process may not be our child (it outlives serve), so its exit
 * is seen as the QMP socket closing, confirmed by the pid disappearing. Owns the QMP connection,
 * exit detection, kill/power-down and removing the runtime files once the process is gone.
 * Deciding what an exit means for the instance (stopped, error, restart) is core's.
 */
import { EventEmitter } from "node:events";
import { QmpCommands } from "./qmp/commands";
import { QmpMonitor, type QmpEvent } from "./qmp/monitor";
import { waitForSerialPattern, type SerialMatch } from "./serial-log";
import { launchQemu, readLaunchRecord, readPidFile, type QemuStartOptions } from "./vm-launch";
import { isVmProcess, readProcStat, waitForPidGone } from "./vm-processes";
import { prepareVmPaths, removeVmRuntimeFiles, type VmPaths } from "./vm-paths";
import type { VmSpec } from "./vm-spec";

/** How a VM process ended, as far as the host could see. */
export interface VmExitInfo {
  /** `reason` of QEMU's last SHUTDOWN event (`guest-shutdown`, `guest-reset`, `host-qmp-quit`, `host-signal`, …), null if none came. */
  shutdownReason: string | null;
  /** True when this handle's kill() ended it. */
  killed: boolean;
  at: Date;
}

/** Options of `VmProcess.launch` and `VmProcess.attach`. */
export interface VmProcessOptions extends QemuStartOptions {
  /** Deadline to connect to QMP (default 5 s). */
  qmpTimeoutMs?: number;
  /** Default deadline of each QMP command (default 30 s). */
  commandTimeoutMs?: number;
}

/** A live QEMU process and its QMP connection. Emits `event` (QmpEvent) and `exit` (VmExitInfo). */
export class VmProcess extends EventEmitter {
  /** Typed QMP commands on this VM's monitor. */
  readonly qmp: QmpCommands;
  /** Settles once the process is gone (never rejects; stays pending after detach()). */
  readonly exited: Promise<VmExitInfo>;
  private resolveExited!: (info: VmExitInfo) => void;
  private exitInfo: VmExitInfo | null = null;
  private shutdownReason: string | null = null;
  private killedByUs = false;
  private detached = false;

  private constructor(
    /** Instance UUID (the process is named `vmbranch-<uuid>`). */
    readonly uuid: string,
    /** Process id of the QEMU daemon. */
    readonly pid: number,
    readonly paths: VmPaths,
    /** Serial log size when this run started (where its console output begins). */
    readonly serialOffset: number,
    readonly monitor: QmpMonitor,
  ) {
    super();
    this.qmp = new QmpCommands(monitor);
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    monitor.on("event", (ev: QmpEvent) => {
      if (ev.event === "SHUTDOWN") this.shutdownReason = String(ev.data.reason ?? "unknown");
      this.emit("event", ev);
    });
    void monitor.closed.then(() => this.onMonitorClosed());
  }

  /**
   * Starts a VM (in a session of its own, outliving serve) and connects to its QMP monitor. Precondition: the guest configuration
   * file (`paths.guestConfig`) is written. Throws VmSpecError, VmAlreadyRunningError or
   * VmStartError (with QEMU's stderr); nothing is left running on failure.
   */
  static async launch(spec: VmSpec, paths: VmPaths, opts: VmProcessOptions = {}): Promise<VmProcess> {
    const connect = (signal: AbortSignal) =>
      QmpMonitor.connect(paths.qmpSocket, { timeoutMs: opts.startTimeoutMs ?? 30_000, retry: true, commandTimeoutMs: opts.commandTimeoutMs, signal });
    const { record, connected: monitor } = await launchQemu(spec, paths, connect, opts);
    return new VmProcess(spec.uuid, record.pid, paths, record.serialOffset, monitor);
  }

  /**
   * Finds the VM of `paths` again (after `serve` restarted) and connects to it; null when it is not
   * running. The pid must be alive and named `vmbranch-<uuid>` (and have the recorded start time),
   * so a recycled pid never passes. `uuid` defaults to the one recorded at launch. Throws only when
   * the VM is alive but its monitor cannot be reached (e.g. another client holds it).
   */
  static async attach(paths: VmPaths, opts: VmProcessOptions & { uuid?: string } = {}): Promise<VmProcess | null> {
    const record = await readLaunchRecord(paths);
    const uuid = opts.uuid ?? record?.uuid;
    const pid = await readPidFile(paths);
    if (!uuid || pid === null || (record && record.uuid !== uuid)) return null;
    if (!(await isVmProcess(pid, uuid))) return null;
    if (record && record.pid === pid && record.startTime) {
      const stat = await readProcStat(pid);
      if (stat?.startTime !== record.startTime) return null;
    }
    // The short link lives in the temp dir, which a cleaner may have emptied meanwhile.
    await prepareVmPaths(paths);
    let monitor: QmpMonitor;
    try {
      monitor = await QmpMonitor.connect(paths.qmpSocket, { timeoutMs: opts.qmpTimeoutMs ?? 5_000, commandTimeoutMs: opts.commandTimeoutMs, signal: opts.signal });
    } catch (err) {
      if (!(await isVmProcess(pid, uuid))) return null;
      throw err;
    }
    return new VmProcess(uuid, pid, paths, record?.pid === pid ? record.serialOffset : 0, monitor);
  }

  /** True once the process is known to be gone. */
  get hasExited(): boolean {
    return this.exitInfo !== null;
  }

  /**
   * Waits for `pattern` in this run's serial console output (from `from`, default where this run
   * began). Rejects with SerialWaitError on timeout, abort, or when the VM exits first.
   */
  waitForSerial(pattern: string | RegExp, opts: { timeoutMs: number; signal?: AbortSignal; from?: number }): Promise<SerialMatch> {
    return waitForSerialPattern(this.paths.serialLog, pattern, { ...opts, from: opts.from ?? this.serialOffset, giveUp: this.exited });
  }

  /** Presses the ACPI power button; the guest decides (our init stops the app, syncs and powers off). */
  async powerdown(): Promise<void> {
    await this.qmp.systemPowerdown();
  }

  /** Power-down with a deadline: presses the button, waits up to `timeoutMs`, then kills. */
  async shutdown(timeoutMs: number): Promise<VmExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    await this.powerdown().catch(() => undefined);
    const timer = new Promise<null>((r) => setTimeout(r, timeoutMs, null).unref());
    return (await Promise.race([this.exited, timer])) ?? this.kill();
  }

  /** Ends the process at once (SIGKILL) and waits until it is gone and its runtime files removed. */
  async kill(): Promise<VmExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    // Re-check identity right before signalling: never kill a pid that is no longer this VM.
    if (await isVmProcess(this.pid, this.uuid)) {
      this.killedByUs = true;
      try {
        process.kill(this.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    if (this.detached) {
      await waitForPidGone(this.pid, 10_000);
      return this.finish();
    }
    return this.exited;
  }

  /** Closes the QMP connection and stops watching; the VM keeps running (what a dying `serve` does). */
  detach(): void {
    this.detached = true;
    this.monitor.close();
  }

  private async onMonitorClosed(): Promise<void> {
    if (this.detached) return;
    // The socket closes a moment before the process is reaped; poll fast, then patiently.
    if (!(await waitForPidGone(this.pid, 5_000))) {
      while (await isVmProcess(this.pid, this.uuid)) await new Promise((r) => setTimeout(r, 250));
    }
    await this.finish();
  }

  private async finish(): Promise<VmExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    await removeVmRuntimeFiles(this.paths).catch(() => undefined);
    if (this.exitInfo) return this.exitInfo;
    this.exitInfo = { shutdownReason: this.shutdownReason, killed: this.killedByUs, at: new Date() };
    this.resolveExited(this.exitInfo);
    this.emit("exit", this.exitInfo);
    return this.exitInfo;
  }
}
