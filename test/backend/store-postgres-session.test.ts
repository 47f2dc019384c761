// The store on PostgreSQL (backend/store/postgres/session-db.ts) against a real PostgreSQL 15: the
// same typed tables as on SQLite through a synchronous session whose connection lives in a worker
// thread of the bundle. Records round-trip with their types, SQLite's SQL runs rewritten, text
// orders byte by byte whatever the database's collation, unique violations name their columns,
// transactions and savepoints roll back what they must, and a database that stops or restarts
// fails statements as StoreUnavailable (503 through serve), then serves again with nothing lost.
// Terms: a session after the first goes on only while the serve's term is the newest; once a
// standby began a newer one, every statement is refused and serve stops. Sessions probe a dead peer.
import type { DiskRecord, OperationRecord } from "../../backend/store/records";
import { StoreSuperseded, StoreUnavailable } from "../../backend/store/engine";
import { connectPostgres } from "../../backend/store/postgres/connection";
import { Store } from "../../backend/store/store";
import { UniqueViolation } from "../../backend/store/table";
import { CLI, startBackend, type TestBackend } from "../helpers/backend";
import { startPostgres, type TestPostgres } from "../helpers/postgres";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { api, expectError } from "./support";

jest.setTimeout(90_000);
let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(() => pg?.stop());

const disk = (id: string, over: Partial<DiskRecord> = {}): DiskRecord => ({
  id, path: `/d/${id}.qcow2`, parentId: null, frozen: false, depth: 0, sizeMb: 64, createdAt: "2026-12-03T10:00:00.000Z", host: "box-1", ...over,
});
const operation = (id: string, startedAt: string): OperationRecord => ({
  id, kind: "resize", subject: id, intent: { kind: "resize", volumeUuid: id, sizeMb: 64 }, startedAt, epoch: 0,
});

/** A store on a new database of the cluster; closed after `fn`. */
async function withStore(name: string, fn: (store: Store) => void | Promise<void>, createSql?: string): Promise<void> {
  if (createSql) pg.psql(createSql);
  const store = Store.openPostgres(createSql ? pg.url(name) : pg.createDatabase(name), CLI);
  try {
    await fn(store);
  } finally {
    store.close();
  }
}

test("records round-trip with their types; SQLite's SQL runs as it is written for the store", () =>
  withStore("roundtrip", (store) => {
    expect(store.isEmpty()).toBe(true);
    store.disks.insert(disk("base", { frozen: true, sizeMb: 4096 }));
    store.disks.insert(disk("head", { parentId: "base", depth: 1 }));
    expect(store.disks.get({ id: "base" })).toEqual(disk("base", { frozen: true, sizeMb: 4096 }));
    expect(store.disks.get({ id: "head" })).toEqual(disk("head", { parentId: "base", depth: 1 }));
    store.disks.update({ id: "head" }, { frozen: true, depth: 2 });
    expect(store.disks.get({ id: "head" })).toMatchObject({ frozen: true, depth: 2 });
    // Counts are numbers (BIGINT arrives as a number, as SQLite's integers do).
    expect(store.diskReferences("base")).toBe(1);
    expect(store.isEmpty()).toBe(false);
    store.disks.delete({ id: "head" });
    expect(store.disks.get({ id: "head" })).toBeNull();
  }));

test("text orders byte by byte, as on SQLite, in a database whose collation would put 'a' before 'B'", () =>
  withStore(
    "icu",
    (store) => {
      for (const [id, at] of [["1", "a"], ["2", "B"], ["3", "_"]] as const) store.operations.insert(operation(id, at));
      expect(store.operations.open().map((o) => o.startedAt)).toEqual(["B", "_", "a"]);
    },
    `CREATE DATABASE icu TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`,
  ));

test("a unique violation names its columns, as SQLite's does", () =>
  withStore("uniques", (store) => {
    store.disks.insert(disk("a"));
    let err: unknown;
    try {
      store.disks.insert(disk("b", { path: "/d/a.qcow2" }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UniqueViolation);
    expect((err as UniqueViolation).columns).toEqual(["path"]);
    expect(store.disks.get({ id: "b" })).toBeNull();
  }));

test("a transaction that throws leaves nothing; a savepoint that throws leaves its outer transaction's rows", () =>
  withStore("tx", (store) => {
    expect(() =>
      store.tx(() => {
        store.disks.insert(disk("gone"));
        throw new Error("undo");
      }),
    ).toThrow("undo");
    expect(store.disks.get({ id: "gone" })).toBeNull();

    store.tx(() => {
      store.disks.insert(disk("outer"));
      expect(() =>
        store.tx(() => {
          store.disks.insert(disk("inner"));
          throw new Error("inner undo");
        }),
      ).toThrow("inner undo");
      store.disks.insert(disk("after"));
    });
    expect(store.disks.all().map((d) => d.id).sort()).toEqual(["after", "outer"]);
  }));

test("a database that stops fails statements as StoreUnavailable, a restart inside a transaction rolls it back, and the session comes back", () =>
  withStore("outage", (store) => {
    store.disks.insert(disk("kept"));
    expect(() =>
      store.tx(() => {
        store.disks.insert(disk("lost"));
        pg.halt();
        pg.start();
        store.disks.insert(disk("also-lost"));
      }),
    ).toThrow(StoreUnavailable);
    expect(store.disks.all().map((d) => d.id)).toEqual(["kept"]);

    pg.halt();
    try {
      expect(() => store.disks.get({ id: "kept" })).toThrow(StoreUnavailable);
    } finally {
      pg.start();
    }
    expect(store.disks.get({ id: "kept" })).toEqual(disk("kept"));
  }));

/**
 * `read` just after its session was cut: the statement that meets the cut fails as any lost
 * session does (unless the session's end was seen first), the next one gets a new session.
 */
function afterCut<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof StoreUnavailable) || err instanceof StoreSuperseded) throw err;
    return read();
  }
}

test("a lost session goes on in the same term; once a standby began a newer one, every statement is refused and the serve is told once", () =>
  withStore("terms", (store) => {
    const told: string[] = [];
    const { term, previous } = store.beginTerm("host-a pid 10", "2026-12-03T10:00:00.000Z", (why) => told.push(why));
    expect([term.epoch, previous]).toEqual([1, null]);
    pg.halt();
    pg.start();
    expect(store.terms.latest()).toEqual(term);
    // A database that comes back without the term (a failover to a replica the commit had not
    // reached) is given it back by the next session, and the journal takes the serve's entries.
    pg.psql(`DELETE FROM terms; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'terms' AND application_name = 'vmbranch'`, "terms");
    expect(afterCut(() => store.terms.latest())).toEqual(term);
    store.operations.insert({ ...operation("mine", "a"), epoch: 1 });
    store.operations.delete({ id: "mine" });

    // The session is cut (as a network partition ends it) and a standby takes the lock and begins term 2.
    pg.psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'terms' AND application_name = 'vmbranch'`);
    const standby = Store.openPostgres(pg.url("terms"), CLI);
    try {
      expect(standby.beginTerm("host-b pid 20", "2026-12-03T10:05:00.000Z", () => undefined).previous).toEqual(term);
      expect(() => afterCut(() => store.disks.all())).toThrow(StoreSuperseded);
      // A journal entry of term 1 is refused by the database itself, whoever writes it.
      expect(() => standby.operations.insert(operation("stale", "a"))).toThrow(StoreSuperseded);
      standby.operations.insert({ ...operation("current", "a"), epoch: 2 });
    } finally {
      standby.close();
    }
    // With the standby gone and the lock free, the superseded store still goes no further.
    expect(() => store.disks.all()).toThrow("another vmbranch serve took this database's state (term 2; this serve's was 1)");
    expect(told).toEqual(["another vmbranch serve took this database's state (term 2; this serve's was 1)"]);
  }));

test("every session asks to probe a dead peer: keepalives, and the connection checked while a statement runs", async () => {
  const client = await connectPostgres(pg.createDatabase("probes"));
  try {
    const res = await client.query(`SELECT name, setting, source FROM pg_settings WHERE name IN ('tcp_keepalives_idle','tcp_keepalives_interval','tcp_keepalives_count','client_connection_check_interval') ORDER BY name`);
    // Every one is set by the session itself; over this cluster's Unix socket the keepalives read 0
    // (they apply to TCP only), the check of the connection applies to both.
    expect(res.rows.map((r) => [r.name, r.source])).toEqual([
      ["client_connection_check_interval", "client"], ["tcp_keepalives_count", "client"], ["tcp_keepalives_idle", "client"], ["tcp_keepalives_interval", "client"],
    ]);
    expect(res.rows[0].setting).toBe("5000");
  } finally {
    await client.end();
  }
});

describe("serve on PostgreSQL", () => {
  let b: TestBackend | undefined;
  afterAll(async () => {
    await b?.stop();
  });

  test("answers 503 STORE_UNAVAILABLE while its database is down, and serves everything again once it is back", async () => {
    b = await startBackend({ testStore: false, args: ["--store", pg.createDatabase("serve")] });
    for (const name of ["v1", "v2"]) expect((await api(b, "POST", "/v1/volumes", { name, size_mb: 8 })).status).toBe(201);

    const disks = readdirSync(join(b.dataDir, "disks")).sort();
    pg.halt();
    try {
      const message = "The state database cannot be reached: retry once it is back";
      expectError(await api(b, "GET", "/v1/volumes"), 503, "STORE_UNAVAILABLE", message);
      expectError(await api(b, "POST", "/v1/volumes", { name: "v3", size_mb: 8 }), 503, "STORE_UNAVAILABLE", message);
    } finally {
      pg.start();
    }
    // The refused create left no file behind.
    expect(readdirSync(join(b.dataDir, "disks")).sort()).toEqual(disks);
    const up = await api(b, "GET", "/v1/volumes");
    expect(up.status).toBe(200);
    expect(up.body.data.volumes.map((v: { name: string }) => v.name).sort()).toEqual(["v1", "v2"]);
    expect((await api(b, "POST", "/v1/volumes", { name: "v3", size_mb: 8 })).status).toBe(201);
  });

  test("a second serve on the same database is refused while the first runs", async () => {
    const url = pg.url("serve");
    await expect(startBackend({ testStore: false, args: ["--store", url] })).rejects.toThrow(
      /vmbranch serve: PostgreSQL at postgresql:\/\/vmbranch@localhost:\d+\/serve\?host=\S+: another vmbranch serve holds this database's state/,
    );
    expect((await api(b!, "GET", "/v1/volumes")).status).toBe(200);
  });

  test("a serve whose term is over (its session lost while a standby began a newer one) answers 503 and stops, its files untouched", async () => {
    expect(pg.psql(`SELECT epoch FROM terms`, "serve")).toBe("1");
    const disks = readdirSync(join(b!.dataDir, "disks")).sort();
    // A standby's term, then the cut: the serve's next statement needs a new session.
    pg.psql(
      `INSERT INTO terms (epoch, holder, started_at) VALUES (2, 'host-b pid 20', '2026-12-03T10:05:00.000Z');
       SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'serve' AND application_name = 'vmbranch'`,
      "serve",
    );
    // The statement that meets the cut session fails as any lost session does; the next one's new
    // session finds term 2.
    const superseded = "This serve no longer holds the state: another serve took it over and answers in its place";
    const seen: string[] = [];
    while (!seen.includes(superseded) && seen.length < 5) {
      const res = await api(b!, "GET", "/v1/volumes");
      expectError(res, 503, "STORE_UNAVAILABLE");
      seen.push(res.body.errors[0].message);
    }
    expect(seen.slice(0, -1).every((m) => m === "The state database cannot be reached: retry once it is back")).toBe(true);
    expect(seen.at(-1)).toBe(superseded);
    await b!.serveExited();
    expect(b!.serveLog()).toContain("vmbranch serve: stopping: another vmbranch serve took this database's state (term 2; this serve's was 1)");
    expect(readdirSync(join(b!.dataDir, "disks")).sort()).toEqual(disks);
  });
});
