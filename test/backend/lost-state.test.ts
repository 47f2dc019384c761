// Losing the state database (docs/operations.md, "Losing the state"): a serve started on a data dir
// whose vmbranch.db is gone while its disks remain refuses to start with a message saying what it
// found, and changes nothing (no database created, every disk file as it was); with the database
// put back, the same data dir serves its volumes again.
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { api, contentDigest, useBackend, volumeOf } from "./support";

jest.setTimeout(60_000);
const backend = useBackend();
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
        '(docs/operations.md, "Losing the state"), or move disks/, snapshots/ and run/ away to start empty; nothing was changed',
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
