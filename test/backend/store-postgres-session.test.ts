// The store on PostgreSQL (backend/store/postgres/session-db.ts) against a real PostgreSQL 15: the
// same typed tables as on SQLite through a synchronous session whose connection lives in a worker
// thread of the bundle. Records round-trip with their types, SQLite's SQL runs rewritten, text
// orders byte by byte whatever the database's collation, unique violations name their columns,
// transactions and savepoints roll back what they must, and a database that stops or restarts
// fails statements as StoreUnavailable (503 through serve), then serves again with nothing lost.
import type { DiskRecord, OperationRecord } from "../../backend/store/records";
import { StoreUnavailable } from "../../backend/store/engine";
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
  id, path: `/d/${id}.qcow2`, parentId: null, frozen: false, depth: 0, sizeMb: 64, createdAt: "2026-12-03T10:00:00.000Z", ...over,
});
const operation = (id: string, startedAt: string): OperationRecord => ({
  id, kind: "resize", subject: id, intent: { kind: "resize", volumeUuid: id, sizeMb: 64 }, startedAt,
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
});
