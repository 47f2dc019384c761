// Store migrations on a real SQLite file: a database left by an older vmbranch is brought up to
// date without changing what the API shows. Migration 5 (instance templates as a flag): templates
// stay templates with their history untouched, and take back the state they were converted in.
// Migration 6 (volume templates as a flag): volume templates stay templates in state available.
// Migration 8 (hosts): older rows name no host until serve's host adopts them; the host table's
// registration, heartbeats and staleness.
// The PostgreSQL migrations are one list beside SQLite's, version for version. A private copy of a
// file (what `store migrate` reads) is brought up to date without touching the file.
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { History } from "../../backend/core/history";
import { instanceView, volumeView } from "../../backend/core/views";
import { openCopy, openDatabase } from "../../backend/store/db";
import { MIGRATIONS } from "../../backend/store/migrations";
import { POSTGRES_MIGRATIONS } from "../../backend/store/postgres/migrations";
import { Store } from "../../backend/store/store";

const U = (n: number) => `0000000${n}-0000-4000-8000-000000000000`;
const net = { guestIp: "10.0.2.15", forwardIp: "127.0.0.1" };

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "vmbranch-migrations-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A database file at schema version `version`, as that vmbranch left it. */
function databaseAt(version: number): Database.Database {
  const db = new Database(join(dir, "vmbranch.db"));
  for (const sql of MIGRATIONS.slice(0, version)) db.exec(sql);
  db.pragma(`user_version = ${version}`);
  return db;
}

function insertInstance(db: Database.Database, n: number, name: string, state: string, snapshotUuid: string | null = null): void {
  db.prepare(
    `INSERT INTO instances (uuid, name, state, image, memory_mb, vcpus, args, env, hostname, mac, smbios_serial, created_at, snapshot_uuid)
     VALUES (?, ?, ?, 'base', 64, 1, '[]', '{}', ?, '52:54:00:00:00:0${n}', 'serial', '2026-01-01T00:00:00.000Z', ?)`,
  ).run(U(n), name, state, name, snapshotUuid);
}

function insertSnapshot(db: Database.Database, uuid: string, source: number, hasMemory: boolean): void {
  db.prepare(
    `INSERT INTO snapshots (uuid, source_uuid, source_name, purpose, state, has_memory, machine, created_at)
     VALUES (?, ?, 'src', 'template', 'ready', ?, '{}', '2026-01-01T00:00:00.000Z')`,
  ).run(uuid, U(source), hasMemory ? 1 : 0);
}

const setState = (db: Database.Database, n: number, state: string) => db.prepare("UPDATE instances SET state = ? WHERE uuid = ?").run(state, U(n));

describe("migration 5: instance templates as a flag", () => {
  it("keeps templates as templates with the state they were converted in and their history unchanged", () => {
    const old = databaseAt(4);
    // Converted from stopped (created stopped, ran, stopped, converted), as the version-4 code did it.
    insertInstance(old, 1, "cold-tpl", "stopped");
    for (const s of ["starting", "running", "stopping", "stopped", "template"]) setState(old, 1, s);
    // Converted from standby: holds a memory snapshot.
    insertSnapshot(old, U(7), 2, true);
    insertInstance(old, 2, "warm-tpl", "stopped");
    for (const s of ["starting", "running", "standby"]) setState(old, 2, s);
    old.prepare("UPDATE instances SET snapshot_uuid = ? WHERE uuid = ?").run(U(7), U(2));
    setState(old, 2, "template");
    // Converted before histories were kept (no transition says from what): its memory snapshot says standby.
    insertSnapshot(old, U(8), 3, true);
    insertInstance(old, 3, "old-warm-tpl", "template", U(8));
    insertInstance(old, 4, "old-cold-tpl", "template");
    old.prepare("DELETE FROM instance_transitions WHERE instance_uuid IN (?, ?)").run(U(3), U(4));
    // Not templates: an instance and a checkpoint.
    insertInstance(old, 5, "plain", "stopped");
    insertInstance(old, 6, "cp", "checkpoint");
    old.prepare("UPDATE instances SET checkpoint = '{}' WHERE uuid = ?").run(U(6));
    const history = old.prepare("SELECT * FROM instance_transitions ORDER BY id").all();
    old.close();

    const store = Store.open(join(dir, "vmbranch.db"));
    try {
      expect(store.instances.templates().map((r) => [r.name, r.state, r.isTemplate]).sort()).toEqual([
        ["cold-tpl", "stopped", true],
        ["old-cold-tpl", "stopped", true],
        ["old-warm-tpl", "standby", true],
        ["warm-tpl", "standby", true],
      ]);
      expect(store.instances.plain().map((r) => [r.name, r.isTemplate])).toEqual([["plain", false]]);
      expect(store.instances.checkpoints().map((r) => r.name)).toEqual(["cp"]);
      // No transition was added by the migration, none lost.
      expect(store.transitions.all().sort((a, b) => a.id - b.id).map((t) => t.id)).toEqual(history.map((h) => (h as { id: number }).id));
      // What the API shows is what it showed before.
      const histories = new History(store);
      for (const n of [1, 2, 3, 4]) expect(instanceView(store, store.instances.get({ uuid: U(n) })!, net).state).toBe("template");
      expect(instanceView(store, store.instances.get({ uuid: U(1) })!, net).template_autokill).toEqual({ time_ms: 0 });
      expect(instanceView(store, store.instances.get({ uuid: U(5) })!, net)).toMatchObject({ state: "stopped", template_autokill: null });
      expect(histories.transitions(store.instances.get({ uuid: U(2) })!).slice(-1)).toEqual([
        { at: expect.any(String), from: "standby", to: "template", reason: "converted into an instance template" },
      ]);
    } finally {
      store.close();
    }
  });

  it("records a conversion as the transition to 'template' it was, the state left as it is", () => {
    const store = Store.open(join(dir, "vmbranch.db"));
    try {
      const db = new Database(join(dir, "vmbranch.db"));
      insertInstance(db, 1, "to-convert", "stopped");
      db.close();
      store.instances.update({ uuid: U(1) }, { isTemplate: true });
      // Writing the flag again (an update that sets it to what it is) records nothing more.
      store.instances.update({ uuid: U(1) }, { isTemplate: true, tags: ["x"] });
      const rec = store.instances.get({ uuid: U(1) })!;
      expect([rec.state, rec.isTemplate]).toEqual(["stopped", true]);
      expect(new History(store).transitions(rec).map(({ from, to, reason }) => ({ from, to, reason }))).toEqual([
        { from: null, to: "stopped", reason: "created" },
        { from: "stopped", to: "template", reason: "converted into an instance template" },
      ]);
      expect(store.instances.templates().map((r) => r.name)).toEqual(["to-convert"]);
      expect(store.instances.plain()).toEqual([]);
    } finally {
      store.close();
    }
  });

  it("refuses a database newer than this vmbranch", () => {
    databaseAt(MIGRATIONS.length).pragma(`user_version = ${MIGRATIONS.length + 1}`);
    expect(() => Store.open(join(dir, "vmbranch.db"))).toThrow(`database schema version ${MIGRATIONS.length + 1} is newer than this vmbranch (${MIGRATIONS.length})`);
  });
});

function insertDisk(db: Database.Database, id: string, frozen: boolean, parentId: string | null = null): void {
  db.prepare(`INSERT INTO disks (id, path, parent_id, frozen, depth, size_mb, created_at) VALUES (?, ?, ?, ?, ?, 8, '2026-01-01T00:00:00.000Z')`)
    .run(id, `/data/disks/${id}.qcow2`, parentId, frozen ? 1 : 0, parentId ? 1 : 0);
}

function insertVolume(db: Database.Database, n: number, name: string, state: string, head: string, more: { owner?: number; template?: number } = {}): void {
  db.prepare(
    `INSERT INTO volumes (uuid, name, kind, state, size_mb, filesystem, persistent, owner_uuid, head_disk, template_uuid, populated, created_at)
     VALUES (?, ?, 'block', ?, 8, 'ext4', ?, ?, ?, ?, 1, '2026-01-01T00:00:00.000Z')`,
  ).run(U(n), name, state, more.owner ? 0 : 1, more.owner ? U(more.owner) : null, head, more.template ? U(more.template) : null);
}

describe("migration 6: volume templates as a flag", () => {
  it("keeps volume templates as templates in state available, and what the API shows unchanged", () => {
    const old = databaseAt(5);
    // A volume converted into a template, and a volume cloned from it.
    insertDisk(old, "d-golden", true);
    insertVolume(old, 1, "golden", "template", "d-golden");
    insertDisk(old, "d-copy", false, "d-golden");
    insertVolume(old, 2, "golden-copy", "available", "d-copy", { template: 1 });
    // An instance template's volume: the template's own, still attached to it, and the template itself (schema 5: a flag).
    insertInstance(old, 3, "tpl", "stopped");
    old.prepare("UPDATE instances SET is_template = 1 WHERE uuid = ?").run(U(3));
    insertDisk(old, "d-tpl", true);
    insertVolume(old, 4, "tpl-data", "template", "d-tpl", { owner: 3 });
    old.prepare(`INSERT INTO attachments (volume_uuid, instance_uuid, at, readonly, position) VALUES (?, ?, '/data', 0, 0)`).run(U(4), U(3));
    // Not templates: a plain volume, and one whose clone failed.
    insertDisk(old, "d-plain", false);
    insertVolume(old, 5, "plain", "available", "d-plain");
    insertVolume(old, 6, "broken", "error", "d-plain");
    const rowsBefore = old.prepare("SELECT * FROM volumes ORDER BY uuid").all() as Record<string, unknown>[];
    old.close();

    const store = Store.open(join(dir, "vmbranch.db"));
    try {
      expect(store.volumes.templates().map((r) => [r.name, r.state, r.isTemplate]).sort()).toEqual([
        ["golden", "available", true],
        ["tpl-data", "available", true],
      ]);
      expect(store.volumes.plain().map((r) => [r.name, r.state, r.isTemplate]).sort()).toEqual([
        ["broken", "error", false],
        ["golden-copy", "available", false],
        ["plain", "available", false],
      ]);
      // Every other column is as it was; only the templates' state moved into the flag.
      const file = new Database(join(dir, "vmbranch.db"), { readonly: true });
      const rowsAfter = file.prepare("SELECT * FROM volumes ORDER BY uuid").all() as Record<string, unknown>[];
      file.close();
      // `host` came later (migration 8), NULL until serve's host adopts the rows.
      expect(rowsAfter.map((r) => r.host)).toEqual(rowsAfter.map(() => null));
      expect(rowsAfter.map(({ is_template, state, host: _, ...rest }) => ({ ...rest, state: is_template === 1 ? "template" : state }))).toEqual(rowsBefore);
      // What the API shows is what it showed before: templates in state template, the clone's link and count.
      const view = (n: number) => volumeView(store, store.volumes.get({ uuid: U(n) })!);
      expect(view(1)).toMatchObject({ name: "golden", state: "template", template: null, clones: 1, attached_to: [], mounted_by: [], chain_depth: 0 });
      expect(view(2)).toMatchObject({ name: "golden-copy", state: "available", template: { uuid: U(1), name: "golden" }, clones: 0, chain_depth: 1 });
      expect(view(4)).toMatchObject({ name: "tpl-data", state: "template", persistent: false, attached_to: [{ uuid: U(3), name: "tpl" }], mounted_by: [] });
      expect(view(5)).toMatchObject({ name: "plain", state: "available", template: null });
      expect(view(6)).toMatchObject({ name: "broken", state: "error" });
    } finally {
      store.close();
    }
  });

  it("reads and writes the flag through the store, the state left as it is", () => {
    const store = Store.open(join(dir, "vmbranch.db"));
    try {
      const db = new Database(join(dir, "vmbranch.db"));
      insertDisk(db, "d-1", false);
      insertVolume(db, 1, "to-convert", "available", "d-1");
      db.close();
      expect(store.volumes.get({ uuid: U(1) })).toMatchObject({ state: "available", isTemplate: false });
      store.volumes.update({ uuid: U(1) }, { isTemplate: true });
      expect(store.volumes.get({ uuid: U(1) })).toMatchObject({ state: "available", isTemplate: true });
      expect(volumeView(store, store.volumes.get({ uuid: U(1) })!).state).toBe("template");
      expect(store.volumes.templates().map((r) => r.name)).toEqual(["to-convert"]);
      expect(store.volumes.plain()).toEqual([]);
    } finally {
      store.close();
    }
  });
});

describe("migration 10: copies of layers on other hosts", () => {
  it("records a layer's copies by host, one per host, and only of a layer that exists", () => {
    const store = Store.open(":memory:");
    try {
      store.disks.insert({ id: "L", path: "/d/L.qcow2", parentId: null, frozen: true, depth: 0, sizeMb: 8, createdAt: "2026-01-01T00:00:00.000Z", host: "box-1" });
      store.diskCopies.insert({ diskId: "L", host: "box-2", bytes: 196_608, copiedAt: "2026-01-01T00:01:00.000Z" });
      expect(store.diskCopies.hostsOf("L")).toEqual(["box-2"]);
      expect(store.diskCopies.onHost("box-2")).toEqual([{ diskId: "L", host: "box-2", bytes: 196_608, copiedAt: "2026-01-01T00:01:00.000Z" }]);
      expect(() => store.diskCopies.insert({ diskId: "L", host: "box-2", bytes: 1, copiedAt: "2026-01-01T00:02:00.000Z" })).toThrow();
      expect(() => store.diskCopies.insert({ diskId: "nope", host: "box-2", bytes: 1, copiedAt: "2026-01-01T00:02:00.000Z" })).toThrow();
    } finally {
      store.close();
    }
  });
});

describe("migration 9: the host of each disk and snapshot", () => {
  it("keeps older disks with no host until serve's host adopts them", () => {
    const old = databaseAt(8);
    old.prepare(`INSERT INTO disks (id, path, parent_id, frozen, depth, size_mb, created_at) VALUES ('d1', '/x/d1.qcow2', NULL, 1, 0, 8, '2026-01-01T00:00:00.000Z')`).run();
    old.close();
    const store = Store.open(join(dir, "vmbranch.db"));
    try {
      expect(store.disks.get({ id: "d1" })!.host).toBeNull();
      expect(store.adoptUnplaced("box-1")).toEqual({ instances: 0, volumes: 0, disks: 1, snapshots: 0 });
      expect(store.disks.get({ id: "d1" })!.host).toBe("box-1");
    } finally {
      store.close();
    }
  });
});

describe("migration 8: hosts", () => {
  it("keeps older instances and volumes with no host until serve's host adopts them, and nothing else", () => {
    const old = databaseAt(7);
    insertInstance(old, 1, "old-vm", "stopped");
    old.prepare(
      `INSERT INTO volumes (uuid, name, kind, state, size_mb, persistent, created_at) VALUES (?, 'old-vol', 'block', 'available', 8, 1, '2026-01-01T00:00:00.000Z')`,
    ).run(U(2));
    old.close();
    const store = Store.open(join(dir, "vmbranch.db"));
    try {
      expect(store.instances.get({ uuid: U(1) })!.host).toBeNull();
      expect(store.volumes.get({ uuid: U(2) })!.host).toBeNull();
      expect(store.hosts.byName()).toEqual([]);
      // What serve does at start (core/hosts.ts): register, then adopt the rows that name no host.
      store.hosts.register("box-1", "2026-02-01T00:00:00.000Z");
      expect(store.adoptUnplaced("box-1")).toEqual({ instances: 1, volumes: 1, disks: 0, snapshots: 0 });
      expect(store.adoptUnplaced("box-2")).toEqual({ instances: 0, volumes: 0, disks: 0, snapshots: 0 });
      expect(instanceView(store, store.instances.get({ uuid: U(1) })!, net).host).toBe("box-1");
      expect(volumeView(store, store.volumes.get({ uuid: U(2) })!).host).toBe("box-1");
      expect(store.hosts.instanceCounts()).toEqual(new Map([["box-1", 1]]));
      // The history records no transition for a host being given: only states are history.
      expect(store.transitionsOf(U(1)).map((t) => t.toState)).toEqual(["stopped"]);
    } finally {
      store.close();
    }
  });

  it("records hosts: registration, heartbeats with memory, and others going offline when their heartbeats stop", () => {
    const store = Store.open(":memory:");
    try {
      store.hosts.register("a", "2026-02-01T00:00:00.000Z");
      store.hosts.register("b", "2026-02-01T00:00:00.000Z");
      store.hosts.heartbeat("a", "2026-02-01T00:01:00.000Z", { totalMib: 4096, freeMib: 3000 });
      expect(store.hosts.markStale("2026-02-01T00:00:30.000Z", ["a"])).toEqual(["b"]);
      expect(store.hosts.byName()).toEqual([
        { name: "a", state: "online", memoryTotalMib: 4096, memoryFreeMib: 3000, lastHeartbeat: "2026-02-01T00:01:00.000Z", joinedAt: "2026-02-01T00:00:00.000Z" },
        { name: "b", state: "offline", memoryTotalMib: null, memoryFreeMib: null, lastHeartbeat: "2026-02-01T00:00:00.000Z", joinedAt: "2026-02-01T00:00:00.000Z" },
      ]);
      // Coming back keeps when it joined.
      store.hosts.register("b", "2026-02-01T00:02:00.000Z");
      expect(store.hosts.get({ name: "b" })).toMatchObject({ state: "online", lastHeartbeat: "2026-02-01T00:02:00.000Z", joinedAt: "2026-02-01T00:00:00.000Z" });
    } finally {
      store.close();
    }
  });
});

describe("one schema, two engines", () => {
  it("has a PostgreSQL migration for every SQLite migration, so a version means the same schema on both", () => {
    expect(POSTGRES_MIGRATIONS).toHaveLength(MIGRATIONS.length);
    for (const sql of POSTGRES_MIGRATIONS) expect(sql.trim()).not.toBe("");
  });
});

describe("a private copy of a state (store migrate's source)", () => {
  it("brings an older file's copy up to date and leaves the file at its version", () => {
    const old = databaseAt(4);
    insertInstance(old, 1, "cold-tpl", "stopped");
    setState(old, 1, "template");
    old.close();
    const copy = openCopy(join(dir, "vmbranch.db"));
    expect(copy.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    expect(copy.prepare("SELECT state, is_template FROM instances").get()).toEqual({ state: "stopped", is_template: 1 });
    copy.close();
    const file = new Database(join(dir, "vmbranch.db"), { readonly: true });
    expect(file.pragma("user_version", { simple: true })).toBe(4);
    expect(file.prepare("SELECT state FROM instances").get()).toEqual({ state: "template" });
    file.close();
  });

  it("sees what a live WAL holds that was not checkpointed into the file yet", () => {
    const live = openDatabase(join(dir, "vmbranch.db"));
    live.pragma("wal_autocheckpoint = 0");
    insertInstance(live, 1, "in-wal", "stopped");
    const copy = openCopy(join(dir, "vmbranch.db"));
    expect(copy.prepare("SELECT name FROM instances").all()).toEqual([{ name: "in-wal" }]);
    copy.close();
    live.close();
  });
});
