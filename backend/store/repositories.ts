/**
 * Repositories: one typed table per record kind with the named queries core asks of it
 * (`attachments.ofInstance(uuid)`, `instances.plain()`), so every SQL string lives in backend/store
 * and the engine can change without core noticing. The SQL is SQLite's, written so PostgreSQL takes
 * it too (store/postgres/session-db.ts rewrites only parameters and json_extract): flags are tested
 * as booleans (`NOT readonly`, never `readonly = 0`, which PostgreSQL refuses), and `npm test` runs
 * the backend layer on both engines. Methods that write several rows do it in one transaction.
 */
import type {
  AttachmentRecord,
  HostRecord,
  InstanceRecord,
  OperationRecord,
  PortRecord,
  SnapshotDiskRecord,
  DiskCopyRecord,
  SnapshotRecord,
  TermRecord,
  TransitionRecord,
  VolumeRecord,
} from "./records";
import { StoreSuperseded } from "./engine";
import { Table } from "./table";

/** Instances, instance templates (`is_template` set) and checkpoints (`checkpoint` set). */
export class InstanceTable extends Table<InstanceRecord> {
  /** The instance, template or checkpoint named `name`, or null. */
  named(name: string): InstanceRecord | null {
    return this.select("name = ?", [name])[0] ?? null;
  }

  /** Instances proper: neither templates nor checkpoints. */
  plain(): InstanceRecord[] {
    return this.select("NOT is_template AND checkpoint IS NULL");
  }

  /** Instance templates. */
  templates(): InstanceRecord[] {
    return this.select("is_template");
  }

  /** Every row's name and state by uuid: what a volume list says of the instances it names (no other column decoded). */
  namesAndStates(): Map<string, Pick<InstanceRecord, "name" | "state">> {
    const rows = this.db.prepare(`SELECT uuid, name, state FROM ${this.name}`).all() as { uuid: string; name: string; state: InstanceRecord["state"] }[];
    return new Map(rows.map((r) => [r.uuid, { name: r.name, state: r.state }]));
  }

  /** Checkpoints, any state, oldest first. */
  checkpoints(): InstanceRecord[] {
    return this.select("checkpoint IS NOT NULL", [], "created_at, name");
  }

  /** Checkpoints whose capture is in progress. */
  capturingCheckpoints(): InstanceRecord[] {
    return this.select("checkpoint IS NOT NULL AND state = 'starting'");
  }

  /** Checkpoints captured from instance `uuid` (the checkpoint column names it as source), oldest first. */
  checkpointsOf(uuid: string): InstanceRecord[] {
    return this.select("json_extract(checkpoint, '$.sourceUuid') = ?", [uuid], "created_at, name");
  }

  /** Instances recorded with a VM (starting, running, stopping); checkpoints have none of their own. */
  live(): InstanceRecord[] {
    return this.select("state IN ('starting', 'running', 'stopping') AND checkpoint IS NULL");
  }

  /** Templates and checkpoints with a delete-on-idle policy. */
  withAutokill(): InstanceRecord[] {
    return this.select("autokill_ms > 0");
  }

  /** Remove instance `uuid` with its attachments and ports, in one transaction (the one deletion path). */
  remove(uuid: string): void {
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM ports WHERE instance_uuid = ?").run(uuid);
      this.db.prepare("DELETE FROM attachments WHERE instance_uuid = ?").run(uuid);
      this.delete({ uuid });
    })();
  }
}

/** Volumes and volume templates (`is_template` set). */
export class VolumeTable extends Table<VolumeRecord> {
  /** The volume or template named `name`, or null. */
  named(name: string): VolumeRecord | null {
    return this.select("name = ?", [name])[0] ?? null;
  }

  /** Volumes proper (not templates). */
  plain(): VolumeRecord[] {
    return this.select("NOT is_template");
  }

  /** Volume templates. */
  templates(): VolumeRecord[] {
    return this.select("is_template");
  }

  /** Managed (host directory) volumes. */
  managed(): VolumeRecord[] {
    return this.select("kind = 'managed'");
  }

  /** Volumes whose clone is in progress. */
  pending(): VolumeRecord[] {
    return this.select("state = 'pending'");
  }

  /** How many volumes were made from volume template `uuid`. */
  clonesOf(templateUuid: string): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM volumes WHERE template_uuid = ?").get(templateUuid) as { n: number }).n;
  }

  /** `clonesOf` for every template at once: template uuid → volumes made from it. */
  cloneCounts(): Map<string, number> {
    const rows = this.db.prepare("SELECT template_uuid, COUNT(*) AS n FROM volumes WHERE template_uuid IS NOT NULL GROUP BY template_uuid").all() as { template_uuid: string; n: number }[];
    return new Map(rows.map((r) => [r.template_uuid, Number(r.n)]));
  }

  /** Remove volume `uuid` with its attachments, in one transaction. */
  remove(uuid: string): void {
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM attachments WHERE volume_uuid = ?").run(uuid);
      this.delete({ uuid });
    })();
  }
}

/** Which volume is mounted where on which instance. */
export class AttachmentTable extends Table<AttachmentRecord> {
  /** The attachments of instance `uuid` in device order. */
  ofInstance(instanceUuid: string): AttachmentRecord[] {
    return this.select("instance_uuid = ?", [instanceUuid], "position");
  }

  /** The read-write attachments of instance `uuid`. */
  readWriteOf(instanceUuid: string): AttachmentRecord[] {
    return this.select("instance_uuid = ? AND NOT readonly", [instanceUuid], "position");
  }

  /** The attachments of volume `uuid`. */
  ofVolume(volumeUuid: string): AttachmentRecord[] {
    return this.select("volume_uuid = ?", [volumeUuid]);
  }

  /** The read-write attachments of volume `uuid`. */
  writersOf(volumeUuid: string): AttachmentRecord[] {
    return this.select("volume_uuid = ? AND NOT readonly", [volumeUuid]);
  }

  /** Every attachment, by instance, each instance's in device order (one query, for lists). */
  byInstance(): Map<string, AttachmentRecord[]> {
    return groupBy(this.select("TRUE", [], "instance_uuid, position"), (a) => a.instanceUuid);
  }

  /** Every attachment grouped by volume, each group in the order `ofVolume` gives (the table's). */
  byVolume(): Map<string, AttachmentRecord[]> {
    return groupBy(this.select(), (a) => a.volumeUuid);
  }

  /** The device position after the last one of instance `uuid`. */
  nextPosition(instanceUuid: string): number {
    return this.ofInstance(instanceUuid).reduce((m, a) => Math.max(m, a.position + 1), 0);
  }
}

/** Published ports. */
export class PortTable extends Table<PortRecord> {
  /** The ports of instance `uuid`, by guest port and protocol. */
  ofInstance(instanceUuid: string): PortRecord[] {
    return this.select("instance_uuid = ?", [instanceUuid], "guest_port, protocol");
  }

  /** Every published port, by instance, each instance's as `ofInstance` orders them (one query, for lists). */
  byInstance(): Map<string, PortRecord[]> {
    return groupBy(this.select("TRUE", [], "instance_uuid, guest_port, protocol"), (p) => p.instanceUuid);
  }

  /** Host ports published by instances other than `uuid`. */
  hostPortsOfOthers(instanceUuid: string): number[] {
    return this.select("instance_uuid != ?", [instanceUuid]).map((p) => p.hostPort);
  }

  /** The port of another instance than `instanceUuid` that publishes host port `hostPort` (any protocol), or null. */
  holderOf(hostPort: number, instanceUuid: string): PortRecord | null {
    return this.select("host_port = ? AND instance_uuid != ?", [hostPort, instanceUuid])[0] ?? null;
  }

  /** Give back every port of instance `uuid`. */
  removeOf(instanceUuid: string): void {
    this.db.prepare("DELETE FROM ports WHERE instance_uuid = ?").run(instanceUuid);
  }
}

/** Snapshots (memory and frozen disks of an instant). */
export class SnapshotTable extends Table<SnapshotRecord> {
  /** Snapshots taken for branches: each is needed only until its branch is restored (or kept by a branch that names it). */
  branchSnapshots(): SnapshotRecord[] {
    return this.select("purpose = 'branch'");
  }

  /** Remove snapshot `uuid` with its disk rows, in one transaction. */
  remove(uuid: string): void {
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM snapshot_disks WHERE snapshot_uuid = ?").run(uuid);
      this.delete({ uuid });
    })();
  }
}

/** The disks of snapshots. */
export class SnapshotDiskTable extends Table<SnapshotDiskRecord> {
  /** The disks of snapshot `uuid` in device order. */
  ofSnapshot(snapshotUuid: string): SnapshotDiskRecord[] {
    return this.select("snapshot_uuid = ?", [snapshotUuid], "position");
  }
}

/** Copies of frozen layers on other hosts than their own. */
export class DiskCopyTable extends Table<DiskCopyRecord> {
  /** The hosts holding a copy of disk `id`. */
  hostsOf(diskId: string): string[] {
    return this.select("disk_id = ?", [diskId]).map((c) => c.host);
  }

  /** The disks copied to `host`. */
  onHost(host: string): DiskCopyRecord[] {
    return this.select("host = ?", [host]);
  }
}

/** State transitions, written by the database's triggers (migration 2); read-only for the code. */
export class TransitionTable extends Table<TransitionRecord> {
  /** The transitions of instance `uuid`, oldest first. */
  ofInstance(instanceUuid: string): TransitionRecord[] {
    return this.select("instance_uuid = ?", [instanceUuid], "id");
  }
}

/** The operation journal (core/journal.ts). */
export class OperationTable extends Table<OperationRecord> {
  /** Open entries, oldest first. */
  open(): OperationRecord[] {
    return this.select("TRUE", [], "started_at");
  }

  /** Insert an entry; StoreSuperseded when the database refuses it for a term that is no longer the newest (migration 7's trigger). */
  override insert(record: OperationRecord): void {
    try {
      super.insert(record);
    } catch (err) {
      if (String((err as { message?: unknown } | null)?.message).includes("the operation belongs to a superseded term"))
        throw new StoreSuperseded(`journal entry of term ${record.epoch} refused: a newer term has begun (another serve took the state)`, { cause: err });
      throw err;
    }
  }
}

/** How many terms are kept: enough to read back a history of takeovers, never a growing table. */
const TERMS_KEPT = 100;

export class TermTable extends Table<TermRecord> {
  /** The newest term, or null before the first. */
  latest(): TermRecord | null {
    return this.select("TRUE", [], "epoch DESC")[0] ?? null;
  }

  /** Begin the term after the newest one, for `holder` from `at`; call inside a transaction. */
  begin(holder: string, at: string): { term: TermRecord; previous: TermRecord | null } {
    const previous = this.latest();
    const term = { epoch: (previous?.epoch ?? 0) + 1, holder, startedAt: at };
    this.insert(term);
    this.db.prepare(`DELETE FROM ${this.name} WHERE epoch <= ?`).run(term.epoch - TERMS_KEPT);
    return { term, previous };
  }
}

/** Hosts (migration 8). */
export class HostTable extends Table<HostRecord> {
  /** Every host, by name. */
  byName(): HostRecord[] {
    return this.select("TRUE", [], "name");
  }

  /** Record host `name` as online from `at` (joining now when it is new), in one transaction. */
  register(name: string, at: string): HostRecord {
    return this.db.transaction(() => {
      if (this.get({ name })) this.update({ name }, { state: "online", lastHeartbeat: at });
      else this.insert({ name, state: "online", memoryTotalMib: null, memoryFreeMib: null, lastHeartbeat: at, joinedAt: at });
      return this.get({ name })!;
    })();
  }

  /** Record a heartbeat of host `name` at `at` with its memory figures (MiB, null when unread). */
  heartbeat(name: string, at: string, memory: { totalMib: number | null; freeMib: number | null }): void {
    this.update({ name }, { state: "online", lastHeartbeat: at, memoryTotalMib: memory.totalMib, memoryFreeMib: memory.freeMib });
  }

  /** Mark `offline` every online host (other than those in `except`) whose last heartbeat is older than `before`; their names. */
  markStale(before: string, except: readonly string[]): string[] {
    const stale = this.select("state = 'online' AND (last_heartbeat IS NULL OR last_heartbeat < ?)", [before]).filter((h) => !except.includes(h.name));
    for (const h of stale) this.update({ name: h.name }, { state: "offline" });
    return stale.map((h) => h.name);
  }

  /** How many instances proper (not templates or checkpoints) each host holds. */
  instanceCounts(): Map<string, number> {
    const rows = this.db
      .prepare("SELECT host, COUNT(*) AS n FROM instances WHERE host IS NOT NULL AND NOT is_template AND checkpoint IS NULL GROUP BY host")
      .all() as { host: string; n: number | bigint }[];
    return new Map(rows.map((r) => [r.host, Number(r.n)]));
  }
}

/** `rows` grouped by `key`, each group in the rows' order. */
function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const group = out.get(key(row));
    if (group) group.push(row);
    else out.set(key(row), [row]);
  }
  return out;
}
