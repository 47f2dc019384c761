/**
 * A running QEMU VM as core sees it (vm-driver.ts `VmHandle`): readiness and exit with the
 * guest app's exit code, power-off and kill, port forwards, and the snapshot operations —
 * live copy-on-write snapshots for branching, live disk freezes for clones, and suspend.
 */
import type { HostConfinement, ProcessConfinement } from "../confinement/confinement";
import { lendFile, withdrawFile } from "../confinement/jail";
import { failpoint } from "../failpoints";
import { EXIT_MARKER, READY_MARKER } from "../images/guest-protocol";
import { consoleTail, rotateConsoleLog } from "../qemu/console-log";
import { NETDEV_ID, diskNames, hostfwdRemoveRule, hostfwdRule } from "../qemu/vm-devices";
import type { VmExitInfo, VmProcess } from "../qemu/vm-process";
import type { QmpEvent } from "../qemu/qmp/monitor";
import { readProcessStats } from "../metrics/process-stats";
import { establishedConnections } from "../metrics/tcp-connections";
import { readTraffic, trafficFiles, type TrafficTotals } from "../metrics/traffic-counter";
import { DiskSwitchError, type DiskFreeze, type LiveSnapshot, type QuiesceMode, type SnapshotFiles, type VmExit, type VmForward, type VmHandle, type VmLaunchSpec, type VmAlert, type VmStats } from "../vm-driver";
import { agentCommand, agentRequest } from "./guest-agent";
import { startLoader } from "./loader";
import { captured, completed, copyEtaMs, waitMigration } from "./migration";
import { digHoles } from "./ram-files";
import { randomBytes } from "node:crypto";

const SNAPSHOT_TIMEOUT_MS = 10 * 60_000;
/**
 * Seconds a snapshot's freeze lasts at most in the guest: the agent thaws by itself after them
 * when no thaw comes (a serve that died mid-snapshot). Writers in the guest wait that long at worst.
 */
export const FREEZE_SECONDS = 10;
/**
 * The capture must follow the freeze's answer within this, or the guest may have thawed by itself
 * before it (the guest's clock runs no faster than ours; its deadline is counted in whole seconds).
 */
const FREEZE_GUARD_MS = (FREEZE_SECONDS - 2) * 1000;
/** How long the agent has to answer a freeze (it flushes dirty data first) and a thaw. */
const FREEZE_ANSWER_MS = 2000;
const THAW_ANSWER_MS = 2000;
/** After an agent did not answer, snapshots of this VM pause instead of asking it again for this long. */
const AGENT_SILENT_BACKOFF_MS = 60_000;

/** What asking the guest agent to freeze gave: every disk to switch frozen, or why not. */
type FreezeOutcome = { frozen: true; /** When the freeze was sent (performance.now()). */ sentAt: number } | { frozen: false; why: string };

/** An overlay added to QEMU for one disk: the disk's current node and the new overlay's node and file. */
interface OverlayLink {
  diskId: string;
  path: string;
  node: string;
  overlay: string;
}

function warn(message: string): void {
  process.stderr.write(`vmbranch: ${message}\n`);
}

/** Measures a guest pause from QEMU's STOP and RESUME events (their timestamps are QEMU's clock). */
class PauseClock {
  private stopAt: number | null = null;
  private resumeAt: number | null = null;
  private wake: (() => void) | null = null;

  observe(ev: QmpEvent): void {
    const t = ev.timestamp.seconds * 1000 + ev.timestamp.microseconds / 1000;
    if (ev.event === "STOP" && this.stopAt === null) this.stopAt = t;
    if (ev.event === "RESUME" && this.stopAt !== null) {
      this.resumeAt = t;
      this.wake?.();
    }
  }

  /** Resolve once the RESUME event arrived (events may trail the command replies slightly). */
  resumed(timeoutMs: number): Promise<void> {
    if (this.resumeAt !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** The pause in milliseconds (NaN if an event was missed). */
  ms(): number {
    return this.stopAt !== null && this.resumeAt !== null ? this.resumeAt - this.stopAt : NaN;
  }
}

function describeExit(info: VmExitInfo): string {
  if (info.killed) return "the VM was killed";
  switch (info.shutdownReason) {
    case "guest-shutdown":
      return "the guest powered off";
    case "guest-reset":
      return "the guest rebooted (instances stop on reboot)";
    case "host-qmp-quit":
    case "host-qmp-system-reset":
      return "QEMU was told to quit";
    case "host-signal":
      return "QEMU was stopped by a signal";
    case "guest-panic":
      return "the guest kernel panicked";
    default:
      return "the QEMU process ended unexpectedly";
  }
}

/**
 * What a QEMU event means for the VM's state: a disk error that paused it (virtio-blk stops the
 * guest on ENOSPC rather than failing its writes), a guest panic that paused it, or running again.
 * Our own pauses (snapshots) emit STOP/RESUME too but no error, so only an error marks a stall.
 */
export function alertOf(ev: QmpEvent): VmAlert | null {
  if (ev.event === "BLOCK_IO_ERROR" && ev.data.action === "stop") {
    const what = ev.data.nospace === true ? "disk full" : `disk I/O error${typeof ev.data.reason === "string" ? ` (${ev.data.reason})` : ""}`;
    return { kind: "stalled", reason: `${what}: the VM is paused until space is freed and it is started again` };
  }
  if (ev.event === "GUEST_PANICKED") return { kind: "stalled", reason: "the guest kernel panicked" };
  if (ev.event === "RESUME") return { kind: "resumed" };
  return null;
}

/** The last app exit code the init printed in this run's part of the serial log, if any (only its tail is read). */
async function exitCodeFromLog(path: string, offset: number): Promise<number | null> {
  const text = await consoleTail(path, offset, 64 * 1024).catch(() => "");
  const matches = [...text.matchAll(new RegExp(`${EXIT_MARKER} (\\d+)`, "g"))];
  const last = matches.at(-1);
  return last ? Number(last[1]) : null;
}

/** How often a live VM's console log is checked against its cap. */
const CONSOLE_CHECK_MS = 250;
/** Every how many of those checks its traffic dumps are consumed (every 2 s). */
const TRAFFIC_EVERY_TICKS = 8;

/** What a handle needs beyond its process: the console cap and how the process is confined. */
export interface HandleContext {
  consoleLogMaxBytes: number;
  host: HostConfinement;
  confinement: ProcessConfinement;
}

/** VmHandle over a VmProcess. */
export class QemuHandle implements VmHandle {
  readonly exited: Promise<VmExit>;
  private readonly consoleTimer: NodeJS.Timeout;
  private readonly alertListeners: ((alert: VmAlert) => void)[] = [];
  /** Until when (performance.now()) snapshots do not ask the guest agent, after it failed to answer. */
  private agentSilentUntil = 0;

  constructor(
    private readonly proc: VmProcess,
    readonly spec: VmLaunchSpec,
    private readonly launchedAt: number,
    /** True when the guest is already running its app (restored from memory). */
    private readonly warm: boolean,
    private readonly context: HandleContext,
  ) {
    const { consoleLogMaxBytes } = context;
    // A guest may write to its console, and send frames, without end: keep the console log within
    // its cap, and consume the traffic dumps (which gives their space back) even when nobody asks
    // for metrics, while it runs.
    let rotating = false;
    let ticks = 0;
    this.consoleTimer = setInterval(() => {
      if (rotating) return;
      rotating = true;
      const dumps = ++ticks % TRAFFIC_EVERY_TICKS === 0 ? this.countTraffic() : Promise.resolve();
      Promise.all([rotateConsoleLog(proc.paths.serialLog, consoleLogMaxBytes), dumps])
        .catch((err: Error) => process.stderr.write(`vmbranch: console log or traffic dumps of ${proc.uuid} not kept in bounds: ${err.message}\n`))
        .finally(() => (rotating = false));
    }, CONSOLE_CHECK_MS).unref();
    proc.on("event", (ev: QmpEvent) => {
      const alert = alertOf(ev);
      if (alert) for (const l of this.alertListeners) l(alert);
    });
    this.exited = proc.exited.then(async (info) => {
      clearInterval(this.consoleTimer);
      await context.confinement.release();
      return { exitCode: await exitCodeFromLog(proc.paths.serialLog, proc.serialOffset), reason: describeExit(info) };
    });
  }

  get uuid(): string {
    return this.proc.uuid;
  }
  get pid(): number {
    return this.proc.pid;
  }
  get vmgenid(): string {
    return this.spec.vmgenid;
  }
  get machineType(): string {
    return this.spec.machineType;
  }
  get guestAgent(): boolean {
    return this.spec.guestAgent === true;
  }

  /** Resolves at the guest's ready marker (at once when restored from memory). */
  async ready(timeoutMs: number): Promise<{ bootTimeMs: number }> {
    if (this.warm) return { bootTimeMs: 0 };
    await this.proc.waitForSerial(READY_MARKER, { timeoutMs });
    return { bootTimeMs: Date.now() - this.launchedAt };
  }

  powerdown(): Promise<void> {
    return this.proc.powerdown();
  }

  async kill(): Promise<void> {
    await this.proc.kill();
  }

  onAlert(listener: (alert: VmAlert) => void): void {
    this.alertListeners.push(listener);
  }

  detach(): void {
    clearInterval(this.consoleTimer);
    this.proc.detach();
  }

  addForward(f: VmForward): Promise<void> {
    return this.proc.qmp.hostfwdAdd(NETDEV_ID, hostfwdRule(f));
  }

  removeForward(f: VmForward): Promise<void> {
    return this.proc.qmp.hostfwdRemove(NETDEV_ID, hostfwdRemoveRule(f));
  }

  /** A loader for a snapshot of this VM into `files`, confined as this VM is. */
  private async startLoader(files: SnapshotFiles) {
    const disks = (await this.currentDisks()).map((d) => ({ id: d.id, file: d.file }));
    return startLoader(this.spec, files.ramPath, disks, this.context.host, this.context.confinement.jail);
  }

  /** Current top node and file of each of this VM's disks (they move with every freeze). */
  private async currentDisks(): Promise<{ id: string; node: string; file: string }[]> {
    const blocks = await this.proc.qmp.queryBlock();
    return this.spec.disks.map((d) => {
      const dev = diskNames(d.id).deviceId;
      const b = blocks.find((x) => x.qdev === dev || x.qdev?.startsWith(`/machine/peripheral/${dev}/`));
      if (!b?.inserted) throw new Error(`disk ${d.id} has no medium in QEMU`);
      return { id: d.id, node: b.inserted["node-name"], file: b.inserted.file };
    });
  }

  /**
   * Add the overlays as unattached nodes: done before the pause, so the pause only relinks. On
   * failure the nodes added so far are removed again and the error thrown.
   */
  private async addOverlays(disks: DiskFreeze[]): Promise<OverlayLink[]> {
    const current = await this.currentDisks();
    const out: OverlayLink[] = [];
    const jail = this.context.confinement.jail;
    try {
      for (const f of disks) {
        const cur = current.find((c) => c.id === f.diskId);
        if (!cur) throw new Error(`unknown disk ${f.diskId}`);
        const overlay = `ovl${randomBytes(8).toString("hex")}`;
        // A jailed QEMU opens the overlay through its jail, at the same path; it stays lent while the VM runs.
        if (jail) await lendFile(jail, f.overlayPath);
        await this.proc.qmp.blockdevAdd({ driver: "qcow2", "node-name": overlay, file: { driver: "file", "node-name": `${overlay}f`, filename: f.overlayPath }, backing: null });
        out.push({ diskId: f.diskId, path: f.overlayPath, node: cur.node, overlay });
      }
    } catch (err) {
      await this.removeOverlays(out);
      throw err;
    }
    return out;
  }

  /** Take overlays QEMU does not use out of it again (their nodes and the links lent to the jail). */
  private async removeOverlays(links: OverlayLink[]): Promise<void> {
    const jail = this.context.confinement.jail;
    for (const l of links) {
      await this.proc.qmp.blockdevDel(l.overlay).catch((err: Error) => warn(`could not remove the unused overlay node ${l.overlay} of ${this.uuid}: ${err.message}`));
      if (jail) await withdrawFile(jail, l.path).catch((err: Error) => warn(`could not take ${l.path} back from the jail of ${this.uuid}: ${err.message}`));
    }
  }

  /** The transaction that switches every disk of `links` to its overlay at one instant, or none. */
  private switchDisks(links: OverlayLink[]): Promise<void> {
    return this.proc.qmp.transaction(links.map((l) => ({ type: "blockdev-snapshot" as const, data: { node: l.node, overlay: l.overlay } })));
  }

  /**
   * After a failure with `links` added and their switch maybe attempted: find out from QEMU which
   * disks run on their overlays, take the unused overlays out, make sure the guest runs again when
   * we paused it, and throw. Every disk QEMU cannot vouch for counts as switched: keeping an
   * overlay is always safe, deleting one a live VM writes is not.
   */
  private async failAfterSwitch(err: unknown, links: OverlayLink[], attempted: boolean, pausedByUs: boolean): Promise<never> {
    const message = (err as Error).message ?? String(err);
    let onOverlay: Set<string> | null = null;
    if (attempted) {
      onOverlay = await this.currentDisks().then(
        (cur) => new Set(cur.filter((c) => links.some((l) => l.diskId === c.id && l.path === c.file)).map((c) => c.id)),
        () => null,
      );
    }
    const switched = !attempted ? [] : onOverlay === null ? links : links.filter((l) => onOverlay.has(l.diskId));
    await this.removeOverlays(links.filter((l) => !switched.includes(l)));
    if (pausedByUs) await this.resume().catch((e: Error) => warn(`${this.uuid} stays paused after a failed snapshot: ${e.message}`));
    if (switched.length === 0) throw err;
    throw new DiskSwitchError(message, switched.map((l) => l.diskId));
  }

  async freezeDisks(disks: DiskFreeze[]): Promise<void> {
    await this.settleJobs();
    const links = await this.addOverlays(disks);
    try {
      // One transaction: every disk switches at the same instant, or none does.
      await this.switchDisks(links);
      await failpoint("freeze.after-transaction");
    } catch (err) {
      await this.failAfterSwitch(err, links, true, false);
    }
  }

  /** Resume the guest after our own pause: `cont`, checked against QEMU's run state, retried once. */
  async resume(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.proc.qmp.cont();
        return;
      } catch (err) {
        const status = await this.proc.qmp.queryStatus().catch(() => null);
        if (status?.running) return;
        if (attempt >= 1) throw err;
      }
    }
  }

  async discardOverlay(path: string): Promise<void> {
    const nodes = await this.proc.qmp.queryNamedBlockNodes();
    const node = nodes.find((n) => n.file === path && n["node-name"].startsWith("ovl") && !n["node-name"].endsWith("f"));
    const current = await this.currentDisks();
    if (current.some((c) => c.file === path)) throw new Error(`${path} is in use by ${this.uuid}`);
    await this.removeOverlays(node ? [{ diskId: "", path, node: "", overlay: node["node-name"] }] : []);
    if (!node && this.context.confinement.jail) await withdrawFile(this.context.confinement.jail, path);
  }

  async runState(): Promise<string> {
    return (await this.proc.qmp.queryStatus()).status;
  }

  async diskFiles(): Promise<{ diskId: string; path: string }[]> {
    return (await this.currentDisks()).map((d) => ({ diskId: d.id, path: d.file }));
  }

  /**
   * Finish block jobs a dead serve left in QEMU (they run on without it, and ours are not
   * auto-dismissed): wait for running ones to conclude, then dismiss every concluded one, so no
   * disk stays busy. Their effect on the store is doctor's (a flatten done in the file is recorded).
   */
  private async settleJobs(): Promise<void> {
    for (let round = 0; round < 2; round++) {
      const jobs = await this.proc.qmp.queryJobs();
      if (jobs.length === 0) return;
      for (const j of jobs) {
        if (j.status !== "concluded") {
          const stop = new AbortController();
          const concluded = this.proc.monitor.waitForEvent("JOB_STATUS_CHANGE", (ev) => ev.data.id === j.id && ev.data.status === "concluded", SNAPSHOT_TIMEOUT_MS, stop.signal);
          concluded.catch(() => undefined);
          // It may have concluded between the query and the wait: ask again before waiting.
          const now = (await this.proc.qmp.queryJobs()).find((x) => x.id === j.id);
          if (now && now.status !== "concluded") await concluded.catch(() => undefined);
          stop.abort();
        }
        await this.proc.qmp.jobDismiss(j.id).catch((err: Error) => warn(`could not dismiss job ${j.id} of ${this.uuid}: ${err.message}`));
      }
    }
  }

  /**
   * Settle what a dead serve may have left in this VM's disks before doctor judges their files:
   * its block jobs end, then every disk is flushed. A flatten's stream rewrote its head's header
   * (no backing file) at once, while the mapping of the copied clusters may still be only in
   * QEMU's cache (flattenDisk): recorded as flattened unflushed, the head would lose that data
   * with the process. Called when a serve reattaches the VM.
   */
  async settleDisks(): Promise<void> {
    await this.settleJobs();
    for (const d of await this.currentDisks()) await this.proc.qmp.flushNode(d.node);
  }

  async flattenDisk(diskId: string): Promise<void> {
    await this.settleJobs();
    const cur = (await this.currentDisks()).find((d) => d.id === diskId);
    if (!cur) throw new Error(`unknown disk ${diskId}`);
    const job = `flatten-${randomBytes(4).toString("hex")}`;
    // The job stays until we dismiss it, so its end is read from QEMU (concluded, with or without
    // an error) rather than guessed from it vanishing.
    const concluded = this.proc.monitor.waitForEvent("JOB_STATUS_CHANGE", (ev) => ev.data.id === job && ev.data.status === "concluded", SNAPSHOT_TIMEOUT_MS);
    concluded.catch(() => undefined);
    // No base: stream everything below the top into it; QEMU then drops the backing reference.
    await this.proc.qmp.blockStream({ "job-id": job, device: cur.node, "auto-dismiss": false });
    try {
      await concluded;
    } catch (err) {
      await this.proc.qmp.jobCancel(job).catch((e: Error) => warn(`could not cancel the unfinished flatten job ${job} of ${this.uuid}: ${e.message}`));
      throw new Error(`flattening ${diskId} did not finish: ${(err as Error).message}`);
    }
    const info = (await this.proc.qmp.queryJobs()).find((j) => j.id === job);
    await this.proc.qmp.jobDismiss(job).catch((err: Error) => warn(`could not dismiss job ${job} of ${this.uuid}: ${err.message}`));
    if (!info) throw new Error(`flattening ${diskId}: QEMU lost track of job ${job}`);
    if (info.error) throw new Error(`flattening ${diskId} failed: ${info.error}`);
    // Concluded without an error: the top must stand alone now (QEMU dropped its backing file).
    const after = (await this.proc.qmp.queryNamedBlockNodes()).find((n) => n["node-name"] === cur.node);
    if (after?.backing_file) throw new Error(`flattening ${diskId} ended but the disk still backs onto ${after.backing_file}`);
    await failpoint("flatten.before-flush");
    // The job's end rewrote the file's header (no backing file) at once, but the L2 tables that map
    // the copied clusters are still only in QEMU's qcow2 cache: killed now (a forced stop, a host
    // crash), the file would stand alone holding none of the data, and the caller is about to free
    // the layers that have it. So the top is flushed before this says the flatten is done.
    await this.proc.qmp.flushNode(cur.node).catch((err: Error) => {
      throw new Error(`flattening ${diskId}: could not flush the flattened disk: ${err.message}`);
    });
  }

  /**
   * Ask the guest agent to freeze the filesystems of every disk in `links`. Anything short of all
   * of them frozen is a no: what it froze is thawed again before this returns, so the caller can
   * switch inside a pause of its own as if there were no agent.
   */
  private async freezeGuest(links: OverlayLink[], quiesce: QuiesceMode): Promise<FreezeOutcome> {
    if (quiesce === "off") return { frozen: false, why: "quiescing is turned off" };
    if (!this.guestAgent) return { frozen: false, why: "the VM has no guest agent channel (launched before it existed)" };
    if (performance.now() < this.agentSilentUntil) return { frozen: false, why: "the guest agent did not answer a recent freeze" };
    const serials = links.map((l) => this.spec.disks.find((d) => d.id === l.diskId)?.serial ?? "");
    if (serials.some((s) => s === "")) return { frozen: false, why: "a disk to switch has no serial" };
    const sentAt = performance.now();
    try {
      const answer = await agentRequest(this.proc.paths.agentSocket, (n) => agentCommand("freeze", n, FREEZE_SECONDS, serials), FREEZE_ANSWER_MS);
      if (answer.kind === "frozen" && serials.every((s) => answer.serials.includes(s))) return { frozen: true, sentAt };
      await this.thawGuest();
      const missing = answer.kind === "frozen" ? serials.filter((s) => !answer.serials.includes(s)) : serials;
      return { frozen: false, why: answer.kind === "frozen" ? `the guest could not freeze the filesystem of disk(s) ${missing.join(", ")} (not mounted, raw, or swap in use)` : `the guest agent answered ${answer.kind}` };
    } catch (err) {
      this.agentSilentUntil = performance.now() + AGENT_SILENT_BACKOFF_MS;
      // It may still freeze late: a thaw now, or its own deadline, undoes that.
      await this.thawGuest();
      return { frozen: false, why: (err as Error).message };
    }
  }

  /** Thaw whatever the guest agent froze; false when it did not answer (it thaws by itself in FREEZE_SECONDS). */
  async thawGuest(): Promise<boolean> {
    if (!this.guestAgent) return false;
    try {
      const answer = await agentRequest(this.proc.paths.agentSocket, (n) => agentCommand("thaw", n), THAW_ANSWER_MS);
      if (answer.kind === "expired") warn(`the guest agent of ${this.uuid} had thawed by itself before the host's thaw`);
      return answer.kind === "thawed" || answer.kind === "expired";
    } catch (err) {
      warn(`could not thaw the guest of ${this.uuid} (it thaws by itself within ${FREEZE_SECONDS} s): ${(err as Error).message}`);
      return false;
    }
  }

  async snapshot(disks: DiskFreeze[], files: SnapshotFiles, quiesce: QuiesceMode = "auto"): Promise<LiveSnapshot> {
    const qmp = this.proc.qmp;
    await this.settleJobs();
    // The loader is needed only at the capture: it starts while the overlays are added and the
    // guest freezes, so its launch (about 55 ms on the bench host, the freeze 84) adds nothing to a
    // frozen snapshot's time; a loader slower than the freeze holds the guest's writers for the
    // rest of its launch. Whatever happens meanwhile, a loader that started ends with the snapshot.
    // Its block query is sent first, so it is given the disks' files from before any switch.
    const starting = this.startLoader(files);
    starting.catch(() => undefined);
    // The guest's pause as QEMU saw it: from its STOP event to its RESUME event.
    const pause = new PauseClock();
    const onEvent = (ev: QmpEvent) => pause.observe(ev);
    this.proc.on("event", onEvent);
    let takenAt: Date;
    let wallMs = 0;
    let links: OverlayLink[] = [];
    // Once the transaction is sent, the disks may run on their overlays: a failure then rolls forward.
    let attempted = false;
    let paused = false;
    let frozen = false;
    let switchedFrozen = false;
    let frozenMs: number | null = null;
    let skipped: string | null = null;
    try {
      links = await this.addOverlays(disks);
      await failpoint("snapshot.after-overlays");
      // background-snapshot needs userfaultfd write-protection from the host kernel; without it,
      // fall back to copying RAM with the guest stopped (correct, but the pause is the whole copy).
      // VMBRANCH_SNAPSHOT_MODE=stop-copy forces the fallback (tests exercise it on hosts that do not need it).
      const background = process.env.VMBRANCH_SNAPSHOT_MODE !== "stop-copy" && await qmp.migrateSetCapabilities({ "background-snapshot": true, "x-ignore-shared": false }).then(
        () => true,
        (err: Error) => {
          process.stderr.write(`vmbranch: background snapshots unavailable (${err.message}); pausing ${this.uuid} for a full copy\n`);
          return false;
        },
      );
      if (links.length > 0 && background) {
        const outcome = await this.freezeGuest(links, quiesce);
        frozen = outcome.frozen;
        if (!outcome.frozen) skipped = outcome.why;
        if (outcome.frozen) {
          switchedFrozen = true;
          const loader = await starting;
          // Frozen filesystems issue no writes: switching now, while the guest runs, gives the
          // disks the same content as at the capture below.
          takenAt = new Date();
          attempted = true;
          await this.switchDisks(links);
          await failpoint("snapshot.after-transaction");
          const t0 = performance.now();
          await this.captureInOwnPause(loader.uri);
          wallMs = performance.now() - t0;
          // Past the guard the guest may have thawed by itself before the capture: the memory could
          // then be newer than the disks. Refused rather than risked (the switch rolls forward).
          if (performance.now() - outcome.sentAt > FREEZE_GUARD_MS) throw new Error(`the capture came more than ${FREEZE_GUARD_MS / 1000} s after the guest froze; its freeze may have ended first`);
          frozen = false;
          await this.thawGuest();
          frozenMs = performance.now() - outcome.sentAt;
        }
      }
      if (!attempted) {
        const loader = await starting;
        takenAt = new Date();
        const t0 = performance.now();
        if (links.length === 0 && background) {
          // No disk to switch: QEMU's own pause (capture devices, write-protect RAM) is the whole pause.
          await this.captureInOwnPause(loader.uri);
        } else {
          // Disks switch to their overlays in the same pause as QEMU captures devices and
          // write-protects RAM; RAM itself is copied after `cont`, copy-on-write (or, without
          // background snapshots, before it).
          await qmp.stop();
          paused = true;
          if (links.length > 0) {
            attempted = true;
            await this.switchDisks(links);
            await failpoint("snapshot.after-transaction");
          }
          await qmp.migrate(loader.uri);
          if (background) await waitMigration(qmp, captured, { timeoutMs: 30_000, spin: true, what: "background snapshot" });
          else await waitMigration(qmp, completed, { timeoutMs: SNAPSHOT_TIMEOUT_MS, what: "stopped snapshot" });
          await this.resume();
          paused = false;
          await pause.resumed(5_000);
        }
        wallMs = performance.now() - t0;
      }
    } catch (err) {
      this.proc.off("event", onEvent);
      await qmp.migrateCancel().catch((e: Error) => warn(`could not cancel the snapshot migration of ${this.uuid} after a failed snapshot: ${e.message}`));
      await starting.then((l) => l.abort(), () => undefined);
      await qmp.migrateSetCapabilities({ "background-snapshot": false }).catch((e: Error) => warn(`could not turn background snapshots off again on ${this.uuid} after a failed snapshot: ${e.message}`));
      if (frozen) await this.thawGuest();
      return this.failAfterSwitch(err, links, attempted, paused);
    }
    this.proc.off("event", onEvent);
    const loader = await starting;
    const copyFrom = performance.now();
    let copying = true;
    const done = (async () => {
      try {
        await waitMigration(qmp, completed, { timeoutMs: SNAPSHOT_TIMEOUT_MS, what: "background snapshot" });
        await loader.finish(files, SNAPSHOT_TIMEOUT_MS);
      } catch (err) {
        await qmp.migrateCancel().catch((e: Error) => warn(`could not cancel the background snapshot of ${this.uuid} after it failed: ${e.message}`));
        await loader.abort();
        throw err;
      } finally {
        copying = false;
        await qmp.migrateSetCapabilities({ "background-snapshot": false }).catch((e: Error) => warn(`could not turn background snapshots off again on ${this.uuid}: ${e.message}`));
      }
      void digHoles(files.ramPath);
    })();
    // QEMU's events time the pause exactly; our own round trips only bound it from above.
    const measured = pause.ms();
    const diskSwitch = links.length === 0 ? "none" : switchedFrozen ? "guest-frozen" : "paused";
    const copyEta = async (): Promise<number | null> => {
      if (!copying) return null;
      const info = await qmp.queryMigrate();
      // Copied: what is left is the loader writing the device state, a few milliseconds.
      if (info.status === "completed") return 0;
      if (info.status !== "active" || !info.ram) return null;
      return copyEtaMs(info.ram, performance.now() - copyFrom);
    };
    return { pauseMs: Number.isFinite(measured) ? measured : wallMs, takenAt: takenAt!, completed: done, diskSwitch, quiesceSkipped: skipped, frozenMs, copyEta };
  }

  /** Start the background snapshot and wait until QEMU resumed the guest after its own capture pause. */
  private async captureInOwnPause(uri: string): Promise<void> {
    const resumed = this.proc.monitor.waitForEvent("RESUME", () => true, 30_000);
    resumed.catch(() => undefined);
    await this.proc.qmp.migrate(uri);
    await resumed;
  }

  /** The traffic totals of this run, into the guest and out of it (consuming the dumps). */
  private countTraffic(): Promise<[TrafficTotals, TrafficTotals]> {
    const runId = `${this.pid}-${this.launchedAt}`;
    const dumps = trafficFiles(this.spec.runDir);
    return Promise.all([readTraffic(dumps.toGuest, runId), readTraffic(dumps.fromGuest, runId)]);
  }

  async stats(hostPorts: readonly number[]): Promise<VmStats> {
    const [proc, blocks, [into, out], open] = await Promise.all([
      readProcessStats(this.pid),
      this.proc.qmp.queryBlockstats(),
      this.countTraffic(),
      establishedConnections(hostPorts),
    ]);
    const disks = this.spec.disks.map((d) => {
      const dev = diskNames(d.id).deviceId;
      const b = blocks.find((x) => x.qdev === dev || x.qdev?.startsWith(`/machine/peripheral/${dev}/`));
      const st = b?.stats ?? { rd_bytes: 0, wr_bytes: 0, rd_operations: 0, wr_operations: 0 };
      return { diskId: d.id, readBytes: st.rd_bytes, writeBytes: st.wr_bytes, readOps: st.rd_operations, writeOps: st.wr_operations };
    });
    return {
      ...proc,
      disks,
      net: {
        inFrames: into.frames, inBytes: into.bytes, outFrames: out.frames, outBytes: out.bytes,
        inboundConnectionsOpened: into.syns, inboundConnectionsOpen: open,
      },
    };
  }

  async saveAndQuit(files: SnapshotFiles): Promise<void> {
    const qmp = this.proc.qmp;
    const loader = await this.startLoader(files);
    try {
      await qmp.migrateSetCapabilities({ "background-snapshot": false, "x-ignore-shared": false });
      await qmp.stop();
      await qmp.migrate(loader.uri);
      await waitMigration(qmp, completed, { timeoutMs: SNAPSHOT_TIMEOUT_MS, what: "suspend" });
      await loader.finish(files, SNAPSHOT_TIMEOUT_MS);
    } catch (err) {
      await qmp.migrateCancel().catch((e: Error) => warn(`could not cancel the suspend migration of ${this.uuid} after it failed: ${e.message}`));
      await loader.abort();
      await this.resume().catch((e: Error) => warn(`${this.uuid} stays paused after a failed suspend: ${e.message}`));
      throw err;
    }
    await this.proc.kill();
    // Punching zero pages out only saves memory: the suspend succeeded whether or not it works.
    await digHoles(files.ramPath).catch((err: Error) => warn(`zero pages of ${files.ramPath} stay allocated: ${err.message}`));
  }
}
