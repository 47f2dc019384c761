// Losing the state database (docs/operations.md, "Losing the state"): a serve started on a data dir
// whose vmbranch.db is gone while its disks remain refuses to start with a message saying what it
// found, and changes nothing (no database created, every disk file as it was); with the database
// put back, the same data dir serves its volumes again. The same for a serve on PostgreSQL pointed
// at a database that holds no state.
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBackend, type TestBackend } from "../helpers/backend";
import { startPostgres } from "../helpers/postgres";
import { api, contentDigest, useBackend, volumeOf } from "./support";

jest.setTimeout(60_000);
// This file is about the SQLite file; its PostgreSQL case below brings its own database.
const backend = useBackend({ testStore: false });
const DB_FILES = ["vmbranch.db", "vmbranch.db-wal", "vmbranch.db-shm"];

test("a data dir whose state database is missing is refused, untouched, and serves again once it is back", async () => {
  const b = backend();
  const created = await api(b, "POST", "/v1/volumes", { name: "kept", size_mb: 16 });
  expect(created.status).toBe(201);
  const volume = volumeOf(created);
  await b.halt();

  const disksDir = join(b.dataDir, "disks");
  const disks = readdirSync(disksDir).sort();
  expect(disks.length).toBeGreaterThan(0);
  const digests = disks.map((f) => contentDigest(join(disksDir, f)));
  const aside = mkdtempSync(join(tmpdir(), "vmbranch-test-db-aside-"));
  try {
    for (const f of DB_FILES) if (existsSync(join(b.dataDir, f))) renameSync(join(b.dataDir, f), join(aside, f));

    await expect(b.relaunch({})).rejects.toThrow(
      `vmbranch serve: the state database ${join(b.dataDir, "vmbranch.db")} is missing, but its data dir still holds ${disks.length} disk file${disks.length === 1 ? "" : "s"}: ` +
        "starting would record an empty state and delete them as debris. Put the database back " +
        '(docs/operations.md, "Losing the state"), or move disks/, snapshots/ and run/ away to start empty; nothing in the data dir was changed',
    );
    expect(DB_FILES.filter((f) => existsSync(join(b.dataDir, f)))).toEqual([]);
    expect(readdirSync(disksDir).sort()).toEqual(disks);
    expect(disks.map((f) => contentDigest(join(disksDir, f)))).toEqual(digests);

    for (const f of readdirSync(aside)) renameSync(join(aside, f), join(b.dataDir, f));
  } finally {
    rmSync(aside, { recursive: true, force: true });
  }
  await b.relaunch({});
  const again = await api(b, "GET", "/v1/volumes/kept");
  expect(again.status).toBe(200);
  expect(volumeOf(again).uuid).toBe(volume.uuid);
  expect(readdirSync(disksDir).sort()).toEqual(disks);
});

test("a serve on PostgreSQL pointed at a database with no state, beside a data dir holding disks, is refused the same way", async () => {
  const pg = await startPostgres();
  let b: TestBackend | undefined;
  try {
    const state = pg.createDatabase("state");
    const empty = pg.createDatabase("empty");
    b = await startBackend({ testStore: false, args: ["--store", state] });
    expect((await api(b, "POST", "/v1/volumes", { name: "kept", size_mb: 16 })).status).toBe(201);
    const disksDir = join(b.dataDir, "disks");
    const disks = readdirSync(disksDir).sort();

    await expect(b.restart(["--store", empty])).rejects.toThrow(
      new RegExp(
        "vmbranch serve: the PostgreSQL database postgresql://vmbranch@localhost:\\d+/empty\\?host=\\S+ holds no state, " +
          "but its data dir still holds 1 disk file: starting would record an empty state and delete them as debris",
      ),
    );
    expect(readdirSync(disksDir).sort()).toEqual(disks);
    expect(pg.psql("SELECT count(*) FROM volumes", "empty")).toBe("0");

    await b.relaunch({});
    expect((await api(b, "GET", "/v1/volumes/kept")).status).toBe(200);
  } finally {
    await b?.stop();
    pg.stop();
  }
});
