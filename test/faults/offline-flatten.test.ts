// An offline flatten killed or failing at any instant loses nothing (issue 10): the standalone copy
// is made beside the head and renamed over it only once on disk, so serve killed before the rename
// leaves the head untouched on its chain (and a scratch copy that the restart sweeps), a failing one
// cleans up at once, and the next flatten makes the head stand alone with the same bytes. Branching a
// stopped instance deepens its volume's chain without booting anything, so no guest runs here.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { DoctorReport } from "../../sdk";
import { contentDigest, raw, storeQuery, tarWithEntry } from "../backend/support";
import { startBackend, type TestBackend } from "../helpers/backend";

jest.setTimeout(180_000);

let b: TestBackend;
let branches = 0;

beforeAll(async () => {
  // Bound 1: every second branch of the stopped source makes its volume's chain deep enough to flatten.
  b = await startBackend({ env: { VMBRANCH_MAX_CHAIN_DEPTH: "1" } });
  expect((await raw(b, "POST", "/v1/volumes", { body: { name: "cold-data", size_mb: 16 } })).status).toBe(201);
  const imported = await raw(b, "PUT", "/v1/volumes/cold-data/import", { body: tarWithEntry("kept.txt", "kept across flattens\n"), headers: { "content-type": "application/x-tar" } });
  expect(imported.status).toBe(200);
  const created = await raw(b, "POST", "/v1/instances", { body: { name: "cold", image: "base", memory_mb: 128, autostart: false, volumes: [{ name: "cold-data", at: "/data" }] } });
  expect(created.status).toBe(201);
});
afterAll(async () => {
  await b?.stop();
});

/** The head file of the source's volume and the file the store says it backs onto. */
function head(): { path: string; parent: string } {
  const [path = "", parent = ""] = storeQuery(b.dataDir, "SELECT d.path, coalesce(p.path, '') FROM volumes v JOIN disks d ON d.id = v.head_disk LEFT JOIN disks p ON p.id = d.parent_id WHERE v.name = 'cold-data'").split("|");
  return { path, parent };
}

/** The backing file the qcow2 header names, or "" when it stands alone. */
function backingOf(path: string): string {
  return (JSON.parse(execFileSync("qemu-img", ["info", "-U", "--output=json", path], { encoding: "utf8" })) as { "backing-filename"?: string })["backing-filename"] ?? "";
}

function flattenScratch(): string[] {
  return readdirSync(join(b.dataDir, "disks")).filter((e) => e.startsWith(".flatten-"));
}

async function doctor(): Promise<DoctorReport> {
  const res = await raw(b, "GET", "/v1/doctor");
  expect(res.status).toBe(200);
  return (res.body as { data: { doctor: DoctorReport[] } }).data.doctor[0]!;
}

async function waitFor(cond: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("condition not met in 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The depth of the source volume's chain as the API reports it. */
async function chainDepth(): Promise<number> {
  return (await raw(b, "GET", "/v1/volumes/cold-data")).body.data.volumes[0].chain_depth as number;
}

/** Branch the stopped source (nothing boots) at least once and until its chain is past the bound, then wait for `done`. */
async function branchUntilFlatten(done: () => boolean): Promise<void> {
  do {
    const res = await raw(b, "POST", "/v1/instances", { body: { name: `cold-b${++branches}`, branch_from: { name: "cold" }, autostart: false } });
    expect(res.status).toBe(201);
  } while ((await chainDepth()) <= 1);
  await waitFor(done);
}

it.each(["kill", "error"] as const)("an offline flatten that is %sed before its rename leaves the head whole on its chain", async (action) => {
  await b.relaunch({ VMBRANCH_FAILPOINTS: `flatten.before-rename=${action}` }, "SIGTERM");
  const before = head();
  const digest = contentDigest(before.path);
  await branchUntilFlatten(() => b.serveLog().includes(`failpoint flatten.before-rename: ${action}`));
  expect(b.serveLog()).toContain(`failpoint flatten.before-rename: ${action}`);
  if (action === "kill") {
    await b.serveExited();
    // Killed with the standalone copy on disk (the branch's head may be flattened beside it): scratch is all it left.
    expect(flattenScratch().length).toBeGreaterThanOrEqual(1);
  } else {
    await waitFor(() => b.serveLog().includes("flattening failed"));
    expect(flattenScratch()).toEqual([]);
  }
  const now = head();
  expect(now.parent).not.toBe("");
  expect(backingOf(now.path)).toBe(now.parent);
  expect(contentDigest(now.path)).toBe(digest);

  await b.relaunch({}, "SIGTERM");
  expect((await doctor()).findings).toEqual([]);
  expect(flattenScratch()).toEqual([]);
  expect(contentDigest(head().path)).toBe(digest);
});

it("the next flatten makes the head stand alone with the same content", async () => {
  const digest = contentDigest(head().path);
  await branchUntilFlatten(() => head().parent === "");
  const now = head();
  expect(backingOf(now.path)).toBe("");
  expect(contentDigest(now.path)).toBe(digest);
  expect(flattenScratch()).toEqual([]);
  const volume = await raw(b, "GET", "/v1/volumes/cold-data");
  expect(volume.body.data.volumes[0].chain_depth).toBe(0);
  expect((await doctor()).findings).toEqual([]);
});
