// The state database going down in the middle of a multi-step operation, at the step where the
// host has done its part and the store has not written it down yet. Each step is held by a `delay`
// failpoint; while it waits, the test stops PostgreSQL (`pg_ctl stop -m immediate`) and starts it
// again a few seconds later, so the next store write meets a database that is down. Cases: a
// volume delete whose row is gone and whose disk is not yet released; a branch whose source's
// disks switched to their overlays, and one whose disks are made and whose restore is next; a
// volume clone whose source switched under its running VM, and one whose source is frozen. Each
// operation finishes as it would have without the outage, the source keeps running and writing,
// and doctor finds nothing: no disk nothing references, no file the store does not know.
import { raw } from "../backend/support";
import { startBackend, type TestBackend } from "../helpers/backend";
import { counterProgram } from "../helpers/guest-programs";
import { doctorReport, waitWriting } from "../helpers/serve-checks";
import { startPostgres, type TestPostgres } from "../helpers/postgres";

jest.setTimeout(300_000);

/** How long each failpoint holds its step: long enough to stop PostgreSQL under it. */
const HOLD_MS = 2500;
/** How long PostgreSQL stays down: past the hold, so the step's next write meets the outage. */
const DOWN_MS = 4000;
const POINTS = ["delete.after-volume-row", "snapshot.after-capture", "branch.before-restore", "freeze.after-transaction", "clone.after-freeze"] as const;
type Point = (typeof POINTS)[number];

let pg: TestPostgres;
let b: TestBackend;

beforeAll(async () => {
  pg = await startPostgres();
  const failpoints = POINTS.map((p) => `${p}=delay:${HOLD_MS}`).join(";");
  b = await startBackend({ testStore: false, args: ["--store", pg.createDatabase("state")], env: { VMBRANCH_FAILPOINTS: failpoints } });
  await b.client.instances.create({ name: "src", image: "base", memory_mb: 128, args: counterProgram("/data"), volumes: [{ name: "src-data", size_mb: 16, at: "/data" }] });
  await b.client.instances.waitFor("src", "running", { timeoutMs: 120_000 });
  await waitWriting(b, "src");
}, 240_000);

afterAll(async () => {
  await b?.stop();
  pg?.stop();
});

/** How often serve has passed failpoint `point` so far. */
function passes(point: Point): number {
  return b.serveLog().split(`failpoint ${point}: delay`).length - 1;
}

/**
 * Run `act`; once it holds at `point`, stop PostgreSQL for DOWN_MS, then start it again. Returns
 * what `act` answered (it may answer only once the database is back).
 */
async function outageAt<T>(point: Point, act: () => Promise<T>): Promise<T> {
  const before = passes(point);
  const answer = act();
  const deadline = Date.now() + 60_000;
  while (passes(point) === before) {
    if (Date.now() > deadline) throw new Error(`serve did not reach failpoint ${point}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  pg.halt();
  try {
    await new Promise((r) => setTimeout(r, DOWN_MS));
  } finally {
    pg.start();
  }
  return answer;
}

/** The state of `kind/name` once it is no longer in progress ("gone" for a 404). */
async function settled(kind: "instances" | "volumes", name: string): Promise<string> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const res = await raw(b, "GET", `/v1/${kind}/${name}`);
    if (res.status === 404) return "gone";
    const state = res.status === 200 ? (res.body as { data: Record<string, { state: string }[]> }).data[kind]![0]!.state : null;
    if (state !== null && !["pending", "starting"].includes(state)) return state;
    if (Date.now() > deadline) throw new Error(`${kind}/${name} did not settle (last: ${res.status} ${state})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What every case must leave: doctor clean, the source running and writing. */
async function expectConsistent(): Promise<void> {
  expect((await doctorReport(b)).findings).toEqual([]);
  expect((await b.client.instances.get("src")).state).toBe("running");
  await waitWriting(b, "src");
  expect(b.serveLog()).not.toMatch(/unhandled|uncaught/i);
}

test("a volume delete whose row is gone releases its disk once the database is back", async () => {
  await b.client.volumes.create({ name: "doomed", size_mb: 8 });
  const res = await outageAt("delete.after-volume-row", () => raw(b, "DELETE", "/v1/volumes/doomed", { deadlineMs: 120_000 }));
  expect(res.status).toBeGreaterThanOrEqual(200);
  expect(res.status).toBeLessThan(300);
  expect(await settled("volumes", "doomed")).toBe("gone");
  await expectConsistent();
});

test("a branch whose source's disks switched is recorded once the database is back, and finishes", async () => {
  const res = await outageAt("snapshot.after-capture", () =>
    raw(b, "POST", "/v1/instances", { body: { name: "br-switched", branch_from: { name: "src" }, autostart: false, quiesce: "off" }, deadlineMs: 120_000 }),
  );
  expect(res.status).toBe(201);
  expect(await settled("instances", "br-switched")).toBe("stopped");
  await expectConsistent();
});

test("a branch whose restore meets the database down is restored once it is back", async () => {
  // The request answers once the snapshot is recorded; the restore holds at its failpoint after that.
  const res = await outageAt("branch.before-restore", () => raw(b, "POST", "/v1/instances", { body: { name: "br-restore", branch_from: { name: "src" }, autostart: false, quiesce: "off" } }));
  expect(res.status).toBe(201);
  expect(await settled("instances", "br-restore")).toBe("stopped");
  expect((await b.client.instances.get("br-restore")).branch?.phase).toBe("Succeeded");
  await expectConsistent();
});

test("a clone whose source switched under its running VM, or was frozen, is made once the database is back", async () => {
  for (const point of ["freeze.after-transaction", "clone.after-freeze"] as const) {
    const name = `cl-${point.split(".")[0]}`;
    // The request answers with a pending clone at once; the clone holds at its failpoint after that.
    const res = await outageAt(point, () => raw(b, "POST", "/v1/volumes/clone", { body: { name: "src-data", vol_name: name } }));
    expect(res.status).toBe(201);
    expect({ name, state: await settled("volumes", name) }).toEqual({ name, state: "available" });
    await expectConsistent();
  }
});
