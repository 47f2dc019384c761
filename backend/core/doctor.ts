/**
 * `vmbranch doctor` (docs/architecture.md, "Doctor"): compares the store with what exists on each
 * online host this control plane drives — QEMU processes (by their names and pidfiles), their
 * run states, disk files and every qcow2 backing chain, snapshot files, raw-view FUSE mounts and
 * scratch directories — and reports
 * each disagreement. `repair` fixes what is safe to fix: it removes only what the store does not
 * own and no live process holds open, and it runs at every start of serve (after recovery.ts).
 * At run time it leaves files alone while any operation holds a lock, since an operation in
 * flight makes its files before it records them. Each host is judged against the rows that name
 * it; an offline host is not judged (nothing reaches it), and with more than one host each
 * finding's subject names its host (`box-2:/path`).
 */
import { join } from "node:path";
import type { DoctorFinding, DoctorFindingKind, DoctorReport } from "vmbranch/sdk";
import type { CoreContext, HostDrivers } from "./context";
import type { Disks } from "./disks";
import { drivenHere, hostStateOf, storedHost } from "./hosts";
import { IMPORT_DIR_PREFIX, SERVE_RUN, now } from "./identity";
import { Journal } from "./journal";
import { instanceKey } from "./locks";
import type { Runtime } from "./runtime";
import type { Snapshots } from "./snapshots";

/** A finding with how to fix it, when that is safe. */
interface Diagnosis extends DoctorFinding {
  kind: DoctorFindingKind;
  fix?: () => Promise<void>;
  /** The instance a fix acts on: it runs under that instance's lock, after the finding is checked again. */
  instance?: string;
}

const LIVE = new Set(["starting", "running", "stopping"]);

/** Audit and repair of the store against the host. */
export class Doctor {
  constructor(
    private readonly ctx: CoreContext,
    private readonly runtime: Runtime,
    private readonly disks: Disks,
    private readonly snapshots: Snapshots,
  ) {}

  /** Every disagreement found now, and each VM's run state as QEMU reports it. */
  async check(): Promise<DoctorReport> {
    const { findings, vms } = await this.diagnose();
    return { checked_at: now(), findings: findings.map(strip), vms };
  }

  /**
   * Fix what is safe to fix; the report lists what was repaired and what is left. A second pass
   * follows a first that repaired something: ending a leftover process can free files it held.
   */
  async repair(): Promise<DoctorReport> {
    const first = await this.repairOnce();
    if (first.repaired.length === 0) return { checked_at: now(), findings: first.left, repaired: [], vms: first.vms };
    const second = await this.repairOnce();
    return { checked_at: now(), findings: second.left, repaired: [...first.repaired, ...second.repaired], vms: second.vms };
  }

  private async repairOnce(): Promise<{ left: DoctorFinding[]; repaired: DoctorFinding[]; vms: DoctorReport["vms"] }> {
    const { findings, vms } = await this.diagnose();
    const repaired: DoctorFinding[] = [];
    const left: DoctorFinding[] = [];
    for (const f of findings) {
      if (!f.fix) {
        left.push(strip(f));
        continue;
      }
      // A repair never races an operation: files and processes are fixed only while nothing holds a
      // lock or has an open journal entry (an operation makes files before it records them), and a
      // fix of one instance runs under its lock.
      if (!f.instance && !this.quiet()) {
        left.push({ ...strip(f), problem: `${f.problem}; not repaired now: an operation is in flight` });
        continue;
      }
      try {
        if (f.instance) await this.ctx.locks.with([instanceKey(f.instance)], f.fix, { timeoutMs: 5_000 });
        else await f.fix();
        repaired.push(strip(f));
        this.ctx.log.warn({ kind: f.kind, subject: f.subject, problem: f.problem, repair: f.repair }, "doctor repaired");
      } catch (err) {
        left.push({ ...strip(f), problem: `${f.problem}; repair failed: ${(err as Error).message}` });
        this.ctx.log.error({ kind: f.kind, subject: f.subject, err: (err as Error).message }, "doctor could not repair");
      }
    }
    return { left, repaired, vms };
  }

  private async diagnose(): Promise<{ findings: Diagnosis[]; vms: DoctorReport["vms"] }> {
    const store = this.ctx.store;
    const config = this.ctx.config;
    const findings: Diagnosis[] = [];
    const instances = store.instances.all();
    // Files are judged only while nothing is in flight: an operation makes its files before it records them.
    const quiet = this.quiet();
    for (const [name, host] of this.ctx.hosts) {
      if (hostStateOf(storedHost(store), name) === "offline") continue;
      const at = this.ctx.hosts.size > 1 ? (subject: string) => `${name}:${subject}` : (subject: string) => subject;
      const here = (rec: { host?: string | null }) => (rec.host ?? config.hostName) === name;
      const hostFindings: Diagnosis[] = [];
      await this.checkHost(host, new Set(instances.filter(here).map((i) => i.uuid)), hostFindings, quiet);
      await this.checkDisks(host, here, hostFindings, quiet);
      if (quiet) await this.checkScratch(host, hostFindings);
      findings.push(...hostFindings.map((f) => ({ ...f, subject: at(f.subject) })));
    }

    const vms: DoctorReport["vms"] = [];
    for (const inst of instances) {
      const handle = this.runtime.handle(inst.uuid);
      // Nothing reaches a VM on an offline host: it is judged when its host is back.
      if (hostStateOf(storedHost(store), inst.host) === "offline") continue;
      if (handle) {
        const runState = await handle.runState().catch((err: Error) => `unknown (${err.message})`);
        vms.push({ instance: inst.uuid, name: inst.name, pid: handle.pid, run_state: runState });
        const busy = this.snapshots.isPending(inst.uuid) || this.ctx.locks.busy(instanceKey(inst.uuid));
        if (runState !== "running" && inst.state !== "error" && !busy)
          findings.push({
            kind: "vm-paused", subject: inst.name, problem: `QEMU reports '${runState}' while the instance is '${inst.state}'`, repair: "resume it", instance: inst.uuid,
            fix: async () => {
              // Checked again under the lock: an operation may have paused it on purpose meanwhile.
              if (this.runtime.handle(inst.uuid) !== handle || this.snapshots.isPending(inst.uuid)) return;
              if ((await handle.runState()) !== "running") await handle.resume();
            },
          });
      } else if (drivenHere(this.ctx, inst) && LIVE.has(inst.state) && inst.checkpoint === null && !this.runtime.isUnreachable(inst.uuid) && !this.ctx.locks.busy(instanceKey(inst.uuid))) {
        findings.push({
          kind: "vm-missing", subject: inst.name, problem: `recorded '${inst.state}' but vmbranch has no VM for it`, repair: "record it as stopped", instance: inst.uuid,
          fix: async () => {
            // Checked again under the lock: a start may have launched its VM meanwhile.
            const cur = this.ctx.store.instances.get({ uuid: inst.uuid });
            if (!cur || !LIVE.has(cur.state) || this.runtime.handle(inst.uuid)) return;
            this.runtime.setState(inst.uuid, { state: "stopped", pid: null, stoppedAt: now(), stopReason: "doctor found no VM process" });
          },
        });
      }
    }
    return { findings, vms };
  }

  /** One host's processes and run directories against the instances `owned` there. */
  private async checkHost(host: HostDrivers, owned: ReadonlySet<string>, findings: Diagnosis[], quiet: boolean): Promise<void> {
    const config = this.ctx.config;
    for (const l of await host.vm.leftovers(config.runDir, owned)) {
      if (l.kind === "confinement") {
        // A launch makes its cgroup and lends files before its QEMU exists: judged only while nothing is in flight.
        if (quiet) findings.push({ kind: "orphan-file", subject: l.what.slice(l.what.lastIndexOf(" ") + 1), problem: l.what, repair: "remove it (no process uses it)", fix: () => l.remove() });
        continue;
      }
      findings.push({ kind: l.kind === "loader" ? "loader" : "unowned-vm", subject: l.pid ? `pid ${l.pid}` : "files", problem: l.what, repair: "end it and remove its files", fix: () => l.remove() });
    }

    // Run directories of instances the store no longer knows (their VM, if any, is an unowned-vm above).
    for (const e of await host.vm.runDirNames(config.runDir)) {
      if (e.startsWith(".") || owned.has(e) || !quiet) continue;
      const dir = join(config.runDir, e);
      findings.push({ kind: "orphan-file", subject: dir, problem: "run directory of an instance the store does not know", repair: "remove it", fix: () => host.vm.removeRunDir(dir) });
    }
  }

  /** True while no operation holds a lock, has an open journal entry or is releasing disk layers. */
  private quiet(): boolean {
    return this.ctx.locks.idle() && this.disks.idle() && this.runtime.lent.idle() && new Journal(this.ctx).openEntries().length === 0;
  }

  /** One host's disk rows (`here`) against its files: missing files, wrong backing chains, rows nothing references, files no row names. */
  private async checkDisks(host: HostDrivers, here: (rec: { host?: string | null }) => boolean, findings: Diagnosis[], quiet: boolean): Promise<void> {
    const store = this.ctx.store;
    const storage = host.storage;
    const rows = store.disks.all();
    const byId = new Map(rows.map((d) => [d.id, d]));
    for (const d of rows.filter(here)) {
      const info = await storage.info(d.path).catch((err: Error) => err);
      // Read again: a disk released while the others were read is not a finding.
      const cur = store.disks.get({ id: d.id });
      if (!cur) continue;
      if (info instanceof Error) {
        findings.push({ kind: "missing-file", subject: d.path, problem: `disk ${d.id} is recorded but its file cannot be read (${info.message.split("\n")[0]})`, repair: null });
        continue;
      }
      const parent = cur.parentId ? (store.disks.get({ id: cur.parentId }) ?? byId.get(cur.parentId)) : null;
      if ((info.backing ?? null) !== (parent?.path ?? null)) {
        // A flatten that finished in the file but not in the store: the file stands alone, so record that.
        const flattened = info.backing === null && parent !== undefined && parent !== null;
        findings.push({
          kind: "backing-chain", subject: d.path, problem: `the file backs onto ${info.backing ?? "nothing"}, the store says ${parent?.path ?? "nothing"}`,
          repair: flattened ? "record that it stands alone and free its parent if nothing else uses it" : null,
          ...(flattened ? { fix: () => this.recordFlattened(d.id) } : {}),
        });
      }
    }
    if (!quiet) return;
    const open = await storage.openPaths();
    const candidates = [
      ...(await storage.listDataFiles(this.ctx.config.disksDir, ".qcow2")),
      ...(await storage.listDataFiles(this.ctx.config.snapshotsDir, ".devstate")),
      ...(await storage.listDataFiles(this.ctx.config.ramDir, ".ram")),
    ];

    // Leaks are judged at one instant, on a fresh read of the store, and only while nothing is in
    // flight then: an operation that began while the files above were read may have made a file
    // it has not recorded yet, or dropped a layer's last reference and not yet released it.
    if (!this.quiet()) return;
    for (const d of store.disks.all().filter(here))
      if (store.diskReferences(d.id) === 0)
        findings.push({ kind: "unreferenced-disk", subject: d.path, problem: `disk ${d.id} is recorded but nothing uses it`, repair: "forget it and delete its file", fix: () => this.disks.release(d.id) });
    const known = this.knownFiles(here);
    for (const { path, links: n } of candidates) {
      if (n === 0 || known.has(path)) continue;
      // Open by a process, or lent to a VM's jail (a second link): a disk is in use, whatever the
      // store says. A snapshot's RAM image or device state no row names is only read by VMs
      // restored from it, whose private mappings keep their memory when the file goes (as a
      // snapshot's release unlinks it under running branches): it is removed all the same.
      const inUse = open.has(path) || n > 1;
      const snapshotFile = !path.endsWith(".qcow2");
      if (inUse && !snapshotFile) {
        findings.push({ kind: "orphan-file", subject: path, problem: "a file the store does not know, in use by a process", repair: null });
        continue;
      }
      findings.push({
        kind: "orphan-file", subject: path,
        problem: inUse ? "a snapshot file the store does not know, still mapped by a VM restored from it" : "a file the store does not know",
        repair: "delete it",
        // Checked again when repaired: an operation may have recorded it since.
        fix: async () => {
          if (!this.knownFiles(here).has(path)) await storage.remove(path);
        },
      });
    }
  }

  /** Every disk and snapshot file the store names now on the host of `here`. */
  private knownFiles(here: (rec: { host?: string | null }) => boolean): Set<string> {
    const store = this.ctx.store;
    const copied = new Set(store.diskCopies.all().filter((c) => here({ host: c.host })).map((c) => c.diskId));
    return new Set([
      ...store.disks.all().filter((d) => here(d) || copied.has(d.id)).map((d) => d.path),
      ...store.snapshots.all().filter(here).flatMap((s) => [s.ramPath, s.devstatePath]).filter((p): p is string => p !== null),
    ]);
  }

  /**
   * Record that head `id` stands alone, as its file says. A running VM of ours writing it may hold
   * the flatten's mapping only in its cache (a flatten whose flush failed): it is flushed first, or
   * the layers freed now would be the only copy of that data. A VM that ended flushed as it quit.
   */
  private async recordFlattened(id: string): Promise<void> {
    const store = this.ctx.store;
    for (const v of store.volumes.all().filter((x) => x.headDisk === id))
      for (const a of store.attachments.writersOf(v.uuid)) await this.runtime.handle(a.instanceUuid)?.settleDisks();
    await this.disks.recordFlattened(id);
  }

  /** Raw views (FUSE) and import directories of a serve that died, on one host. */
  private async checkScratch(host: HostDrivers, findings: Diagnosis[]): Promise<void> {
    const storage = host.storage;
    for (const v of await storage.viewLeftovers(this.ctx.config.disksDir))
      findings.push({
        kind: "raw-view", subject: v.dir, problem: `scratch space of a disk operation that died (a raw view, a filesystem being made or a flatten copy)${v.mounted ? " (FUSE mount still there)" : ""}${v.daemonPid ? `, daemon pid ${v.daemonPid}` : ""}`,
        repair: "end its daemon, unmount and remove it", fix: () => v.remove(),
      });
    for (const e of await storage.importScratchNames(this.ctx.config.tmpDir, IMPORT_DIR_PREFIX)) {
      if (e.startsWith(`${IMPORT_DIR_PREFIX}${SERVE_RUN}-`)) continue;
      const dir = join(this.ctx.config.tmpDir, e);
      findings.push({ kind: "orphan-file", subject: dir, problem: "scratch directory of an import a dead serve did not finish", repair: "remove it", fix: () => storage.removeImportScratch(dir) });
    }
  }
}

function strip(f: Diagnosis): DoctorFinding {
  // Only the wire fields: the fix and the instance it locks stay inside.
  return { kind: f.kind, subject: f.subject, problem: f.problem, repair: f.repair };
}
