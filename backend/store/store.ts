/**
 * The store: one object giving typed tables for every record kind over one database (SQLite or PostgreSQL),
 * plus the few queries that span tables (references that keep a disk or a snapshot alive).
 */
import { openDatabase } from "./db";
import type { Statement, StoreDb } from "./engine";
import { PostgresSessionDb } from "./postgres/session-db";
import type { DiskRecord, InstanceRecord, TermRecord, TransitionRecord } from "./records";
import {
  AttachmentTable,
  HostTable,
  InstanceTable,
  OperationTable,
  PortTable,
  SnapshotDiskTable,
  DiskCopyTable,
  SnapshotTable,
  TermTable,
  TransitionTable,
  VolumeTable,
} from "./repositories";
import { Table } from "./table";

const disks = (db: StoreDb) =>
  new Table<DiskRecord>(db, "disks", {
    id: ["id", "text"], path: ["path", "text"], parentId: ["parent_id", "text"], frozen: ["frozen", "bool"],
    depth: ["depth", "int"], sizeMb: ["size_mb", "int"], createdAt: ["created_at", "text"], host: ["host", "text"],
  }, ["id"]);

const volumes = (db: StoreDb) =>
  new VolumeTable(db, "volumes", {
    uuid: ["uuid", "text"], name: ["name", "text"], kind: ["kind", "text"], state: ["state", "text"], isTemplate: ["is_template", "bool"],
    sizeMb: ["size_mb", "int"], filesystem: ["filesystem", "text"], hostPath: ["host_path", "text"],
    uid: ["uid", "int"], gid: ["gid", "int"], persistent: ["persistent", "bool"], ownerUuid: ["owner_uuid", "text"],
    headDisk: ["head_disk", "text"], templateUuid: ["template_uuid", "text"], clone: ["clone", "json"],
    tags: ["tags", "json"], deleteLock: ["delete_lock", "bool"], populated: ["populated", "bool"], error: ["error", "text"],
    createdAt: ["created_at", "text"], host: ["host", "text"],
  }, ["uuid"]);

const instances = (db: StoreDb) =>
  new InstanceTable(db, "instances", {
    uuid: ["uuid", "text"], name: ["name", "text"], state: ["state", "text"], isTemplate: ["is_template", "bool"], image: ["image", "text"],
    memoryMb: ["memory_mb", "int"], vcpus: ["vcpus", "int"], args: ["args", "json"], env: ["env", "json"],
    hostname: ["hostname", "text"], mac: ["mac", "text"], smbiosSerial: ["smbios_serial", "text"],
    tags: ["tags", "json"], annotations: ["annotations", "json"], deleteLock: ["delete_lock", "bool"],
    autostart: ["autostart", "bool"], outboundNetwork: ["outbound_network", "bool"], createdAt: ["created_at", "text"], startedAt: ["started_at", "text"],
    stoppedAt: ["stopped_at", "text"], bootTimeMs: ["boot_time_ms", "real"], exitCode: ["exit_code", "int"],
    stopReason: ["stop_reason", "text"], startCount: ["start_count", "int"], accelerator: ["accelerator", "text"],
    snapshotUuid: ["snapshot_uuid", "text"], template: ["template", "json"], branch: ["branch", "json"],
    pid: ["pid", "int"], error: ["error", "text"], checkpoint: ["checkpoint", "json"], fromCheckpoint: ["from_checkpoint", "json"],
    lineage: ["lineage", "json"], autokillMs: ["autokill_ms", "int"], lastUsedAt: ["last_used_at", "text"],
    host: ["host", "text"],
  }, ["uuid"]);

const attachments = (db: StoreDb) =>
  new AttachmentTable(db, "attachments", {
    volumeUuid: ["volume_uuid", "text"], instanceUuid: ["instance_uuid", "text"], at: ["at", "text"],
    readonly: ["readonly", "bool"], position: ["position", "int"],
  }, ["volumeUuid", "instanceUuid"]);

const ports = (db: StoreDb) =>
  new PortTable(db, "ports", {
    instanceUuid: ["instance_uuid", "text"], guestPort: ["guest_port", "int"], protocol: ["protocol", "text"],
    hostPort: ["host_port", "int"], requested: ["requested", "bool"],
  }, ["instanceUuid", "guestPort", "protocol"]);

const snapshots = (db: StoreDb) =>
  new SnapshotTable(db, "snapshots", {
    uuid: ["uuid", "text"], sourceUuid: ["source_uuid", "text"], sourceName: ["source_name", "text"],
    purpose: ["purpose", "text"], state: ["state", "text"], hasMemory: ["has_memory", "bool"],
    ramPath: ["ram_path", "text"], devstatePath: ["devstate_path", "text"], machine: ["machine", "json"],
    pauseMs: ["pause_ms", "real"], createdAt: ["created_at", "text"], host: ["host", "text"],
  }, ["uuid"]);

const snapshotDisks = (db: StoreDb) =>
  new SnapshotDiskTable(db, "snapshot_disks", {
    snapshotUuid: ["snapshot_uuid", "text"], volumeUuid: ["volume_uuid", "text"], diskId: ["disk_id", "text"],
    at: ["at", "text"], readonly: ["readonly", "bool"], position: ["position", "int"],
  }, ["snapshotUuid", "volumeUuid"]);

const diskCopies = (db: StoreDb) =>
  new DiskCopyTable(db, "disk_copies", {
    diskId: ["disk_id", "text"], host: ["host", "text"], bytes: ["bytes", "int"], copiedAt: ["copied_at", "text"],
  }, ["diskId", "host"]);

const transitions = (db: StoreDb) =>
  new TransitionTable(db, "instance_transitions", {
    id: ["id", "int"], instanceUuid: ["instance_uuid", "text"], at: ["at", "text"], fromState: ["from_state", "text"],
    toState: ["to_state", "text"], stopReason: ["stop_reason", "text"], error: ["error", "text"], exitCode: ["exit_code", "int"],
    bootTimeMs: ["boot_time_ms", "real"],
  }, ["id"]);

const operations = (db: StoreDb) =>
  new OperationTable(db, "operations", {
    id: ["id", "text"], kind: ["kind", "text"], subject: ["subject", "text"], intent: ["intent", "json"], startedAt: ["started_at", "text"],
    epoch: ["epoch", "int"],
  }, ["id"]);

const terms = (db: StoreDb) =>
  new TermTable(db, "terms", { epoch: ["epoch", "int"], holder: ["holder", "text"], startedAt: ["started_at", "text"] }, ["epoch"]);

const hosts = (db: StoreDb) =>
  new HostTable(db, "hosts", {
    name: ["name", "text"], state: ["state", "text"], memoryTotalMib: ["memory_total_mib", "int"], memoryFreeMib: ["memory_free_mib", "int"],
    lastHeartbeat: ["last_heartbeat", "text"], joinedAt: ["joined_at", "text"],
  }, ["name"]);

/** True when SQLite says its filesystem is full. */
function isFull(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === "SQLITE_FULL";
}

/** Typed tables over one database. */
export class Store {
  readonly disks: Table<DiskRecord>;
  readonly volumes: VolumeTable;
  readonly instances: InstanceTable;
  readonly attachments: AttachmentTable;
  readonly ports: PortTable;
  readonly snapshots: SnapshotTable;
  readonly snapshotDisks: SnapshotDiskTable;
  /** Frozen layers' files copied to other hosts. */
  readonly diskCopies: DiskCopyTable;
  /** Written by triggers (migration 2); read-only for the code. */
  readonly transitions: TransitionTable;
  /** The operation journal (core/journal.ts). */
  readonly operations: OperationTable;
  /** Terms of office: one per serve that took the state (beginTerm). */
  readonly terms: TermTable;
  /** Hosts instances and volumes are placed on (migration 8). */
  readonly hosts: HostTable;
  /** The term this store's serve holds; 0 until beginTerm (tests and tools that open a store directly). */
  epoch = 0;

  constructor(private readonly db: StoreDb) {
    // Each SQL text is compiled once: the repositories run the same few statements many times (a
    // list of 1000 instances runs thousands), and compiling was most of their cost. Writes outside
    // a transaction are retried once when the filesystem was full and `whenFull` made room.
    const prepare = db.prepare.bind(db);
    const compiled = new Map<string, Statement>();
    db.prepare = ((sql: string) => {
      let stmt = compiled.get(sql);
      if (!stmt) {
        stmt = this.retriedWhenFull(prepare(sql));
        compiled.set(sql, stmt);
      }
      return stmt;
    }) as StoreDb["prepare"];
    this.disks = disks(db);
    this.volumes = volumes(db);
    this.instances = instances(db);
    this.attachments = attachments(db);
    this.ports = ports(db);
    this.snapshots = snapshots(db);
    this.snapshotDisks = snapshotDisks(db);
    this.diskCopies = diskCopies(db);
    this.transitions = transitions(db);
    this.operations = operations(db);
    this.terms = terms(db);
    this.hosts = hosts(db);
  }

  /** Open the store in the SQLite file `file` (":memory:" for tests). */
  static open(file: string): Store {
    return new Store(openDatabase(file));
  }

  /**
   * Open the store in the PostgreSQL database at `url`, through a session whose worker thread runs
   * `workerEntry` (the bundle, which starts ./postgres/session-worker.ts for it). Connecting and
   * bringing the schema up to date happen at the first statement.
   */
  static openPostgres(url: string, workerEntry: string): Store {
    return new Store(new PostgresSessionDb(url, workerEntry));
  }

  /**
   * Run `fn` in one transaction. When its filesystem is full (SQLITE_FULL), the handler of
   * `whenFull` may free room, and the transaction (rolled back by SQLite) runs once more.
   */
  tx<T>(fn: () => T): T {
    const run = this.db.transaction(fn);
    try {
      return run();
    } catch (err) {
      if (this.db.inTransaction || !isFull(err) || !this.freeRoom()) throw err;
      return run();
    }
  }

  private freeRoom: () => boolean = () => false;

  /**
   * `free` is called when a write finds the filesystem full; it returns true when it made room
   * (the data dir's ballast, host/storage/ballast.ts), and the write is tried once more. Single
   * writes outside a transaction are retried the same way.
   */
  whenFull(free: () => boolean): void {
    this.freeRoom = free;
  }

  private retriedWhenFull(stmt: Statement): Statement {
    const db = this.db;
    const run = stmt.run.bind(stmt);
    // Inside a transaction the whole transaction is retried by `tx`, not one statement of it.
    stmt.run = ((...args: unknown[]) => {
      try {
        return run(...args);
      } catch (err) {
        if (db.inTransaction || !isFull(err) || !this.freeRoom()) throw err;
        return run(...args);
      }
    }) as typeof stmt.run;
    return stmt;
  }

  /**
   * Begin a new term for `holder` (host and pid of a serve taking the state): the next epoch, which
   * every journal entry this serve opens carries. On engines whose session can be lost, each new
   * session first checks that no later term began; when one did, `superseded` is called once and
   * every statement fails with StoreSuperseded from then on.
   */
  beginTerm(holder: string, at: string, superseded: (why: string) => void): { term: TermRecord; previous: TermRecord | null } {
    const begun = this.tx(() => this.terms.begin(holder, at));
    this.epoch = begun.term.epoch;
    this.db.fence?.(begun.term, superseded);
    return begun;
  }

  /** How many things keep disk `id` alive: child disks, volumes whose data it is, snapshots. */
  diskReferences(id: string): number {
    const row = this.db
      .prepare(
        `SELECT (SELECT COUNT(*) FROM disks WHERE parent_id = ?) + (SELECT COUNT(*) FROM volumes WHERE head_disk = ?)
              + (SELECT COUNT(*) FROM snapshot_disks WHERE disk_id = ?) AS n`,
      )
      .get(id, id, id) as { n: number };
    return row.n;
  }

  /** True when the state records no disk, volume or instance (a new database). */
  isEmpty(): boolean {
    const row = this.db
      .prepare(`SELECT (SELECT COUNT(*) FROM disks) + (SELECT COUNT(*) FROM volumes) + (SELECT COUNT(*) FROM instances) AS n`)
      .get() as { n: number };
    return row.n === 0;
  }

  /**
   * Give host `name` every instance and volume that names no host (rows older than migration 8),
   * in one transaction; how many of each it took.
   */
  adoptUnplaced(name: string): { instances: number; volumes: number; disks: number; snapshots: number } {
    return this.tx(() => ({
      instances: this.db.prepare(`UPDATE instances SET host = ? WHERE host IS NULL`).run(name).changes,
      volumes: this.db.prepare(`UPDATE volumes SET host = ? WHERE host IS NULL`).run(name).changes,
      disks: this.db.prepare(`UPDATE disks SET host = ? WHERE host IS NULL`).run(name).changes,
      snapshots: this.db.prepare(`UPDATE snapshots SET host = ? WHERE host IS NULL`).run(name).changes,
    }));
  }

  /** How many instances still hold snapshot `uuid` (standby or template). */
  snapshotReferences(uuid: string): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM instances WHERE snapshot_uuid = ?`).get(uuid) as { n: number }).n;
  }

  /** Checkpoints captured from instance `uuid` (the checkpoint column names it as source), oldest first. */
  checkpointsOf(uuid: string): InstanceRecord[] {
    return this.instances.checkpointsOf(uuid);
  }

  /** State transitions of instance `uuid`, oldest first. */
  transitionsOf(uuid: string): TransitionRecord[] {
    return this.transitions.ofInstance(uuid);
  }

  /** Close the database. */
  close(): void {
    this.db.close();
  }
}
