// The start-up guard of backend/cli/lost-state.ts on real directories: what counts as files a lost
// state database described (disks, snapshot files, VM run directories), and what does not (a new
// data dir, scratch, or a database that is there).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { refuseLostState, StateMissing } from "../../backend/cli/lost-state";

let dir: string;
let dirs: { disksDir: string; snapshotsDir: string; runDir: string };
const db = () => join(dir, "vmbranch.db");

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vmbranch-test-lost-state-"));
  dirs = { disksDir: join(dir, "disks"), snapshotsDir: join(dir, "snapshots"), runDir: join(dir, "run") };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("a data dir that does not hold anything yet starts", () => {
  expect(() => refuseLostState(db(), dirs)).not.toThrow();
  for (const d of Object.values(dirs)) mkdirSync(d);
  writeFileSync(join(dir, "ballast"), "");
  mkdirSync(join(dir, "tmp"));
  writeFileSync(join(dir, "tmp", "scratch"), "");
  expect(() => refuseLostState(db(), dirs)).not.toThrow();
});

test("disks, snapshot files and run directories without a database are refused, each counted", () => {
  for (const d of Object.values(dirs)) mkdirSync(d);
  writeFileSync(join(dirs.disksDir, "a.qcow2"), "");
  writeFileSync(join(dirs.disksDir, "b.qcow2"), "");
  writeFileSync(join(dirs.snapshotsDir, "s.devstate"), "");
  mkdirSync(join(dirs.runDir, "0b7c"));
  let err: unknown;
  try {
    refuseLostState(db(), dirs);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(StateMissing);
  expect((err as Error).message).toContain(`the state database ${db()} is missing, but its data dir still holds 2 disk files, 1 snapshot file, 1 VM run directory: `);
});

test("a database that is there is never second-guessed", () => {
  mkdirSync(dirs.disksDir);
  writeFileSync(join(dirs.disksDir, "a.qcow2"), "");
  writeFileSync(db(), "");
  expect(() => refuseLostState(db(), dirs)).not.toThrow();
});
