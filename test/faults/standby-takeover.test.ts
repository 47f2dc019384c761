// A standby serve (`serve --standby`) on the same data dir and PostgreSQL state takes over when the
// serve it waits behind is SIGKILLed in the middle of a branch, and again in the middle of a clone
// (each held at a failpoint delay, with its journal entry open in the database): the standby
// listens on the same address, settles the operation (completed or undone), the source's VM never
// stopped and still writes, every VM belongs to an instance, and doctor finds nothing. The standby begins the next term, and the dead serve's journal entries (of its term) are all settled.
import { spawn, type ChildProcess } from "node:child_process";
import { CLI, IMAGE_DIR, startBackend, type TestBackend } from "../helpers/backend";
import { counterProgram } from "../helpers/guest-programs";
import { doctorReport, waitWriting } from "../helpers/serve-checks";
import { startPostgres, type TestPostgres } from "../helpers/postgres";

jest.setTimeout(300_000);

/** Each serve here holds a branch and a clone this long at a failpoint, the window the kill lands in. */
const HOLD = "snapshot.after-transaction=delay:5000;clone.after-freeze=delay:5000";
/** The longest a takeover may take before the test fails (the standby polls every 100 ms). */
const TAKEOVER_DEADLINE_MS = 60_000;

let pg: TestPostgres;
let url: string;
let b: TestBackend;
/** The serve now answering (the first one's process is b's); and the standby waiting behind it. */
let active: { pid: number; proc?: ChildProcess } | null = null;
let waiting: ChildProcess | null = null;
const took: number[] = [];

beforeAll(async () => {
  pg = await startPostgres();
  url = pg.createDatabase("state");
  b = await startBackend({ testStore: false, args: ["--store", url], env: { VMBRANCH_FAILPOINTS: HOLD } });
  active = { pid: b.servePid() };
  await b.client.instances.create({ name: "src", image: "base", memory_mb: 256, args: counterProgram("/data"), volumes: [{ name: "src-data", size_mb: 16, at: "/data" }] });
  await b.client.instances.waitFor("src", "running", { timeoutMs: 120_000 });
  await waitWriting(b, "src");
}, 300_000);

afterAll(async () => {
  // The standbys this file started end first (b.stop() ends only the serve it started itself).
  for (const proc of [waiting, active?.proc]) {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) continue;
    const gone = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    await gone;
  }
  await b?.stop();
  pg?.stop();
  if (took.length > 0) console.log(`standby takeover after SIGKILL: ${took.map((ms) => `${ms} ms`).join(", ")}`);
});

/** A standby on b's data dir, address and database, which says when it listens. */
function startStandby(): { proc: ChildProcess; listening: Promise<void>; waitingNow: Promise<void> } {
  const listen = new URL(b.url).host;
  const proc = spawn(process.execPath, [CLI, "serve", "--data-dir", b.dataDir, "--listen", listen, "--store", url, "--standby"], {
    env: { ...process.env, VMBRANCH_TOKEN: b.token, VMBRANCH_IMAGE_DIR: IMAGE_DIR, VMBRANCH_LOG_LEVEL: "info", VMBRANCH_FAILPOINTS: HOLD },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const seen = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (out.includes(text)) resolve();
      };
      proc.stdout!.on("data", check);
      proc.once("exit", (code) => reject(new Error(`standby exited (${code}) before '${text}': ${out}`)));
      check();
    });
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  return { proc, listening: seen("vmbranch serve listening on"), waitingNow: seen("standby: waiting for the serve holding") };
}

/** Poll until `pred` holds (the state in the database, as psql reads it). */
async function until(what: string, pred: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`not reached: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * SIGKILL the active serve while `request` is held at its failpoint; the standby takes over.
 * Returns the killed serve's term and the terms of the journal entries open when it died.
 */
async function killDuring(request: () => Promise<unknown>, journalled: string): Promise<{ term: number; journal: number[] }> {
  const standby = startStandby();
  waiting = standby.proc;
  await standby.waitingNow;
  const pending = request().catch(() => undefined);
  // The operation is under way once the database shows it (the journal, or its row).
  await until(journalled, () => pg.psql(journalled, "state") !== "0");
  const term = Number(pg.psql("SELECT max(epoch) FROM terms", "state"));
  const journal = pg.psql("SELECT epoch FROM operations ORDER BY epoch", "state").split("\n").filter(Boolean).map(Number);
  const killedAt = Date.now();
  process.kill(active!.pid, "SIGKILL");
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      standby.listening,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("the standby did not take over in time")), TAKEOVER_DEADLINE_MS))),
    ]);
  } finally {
    clearTimeout(timer);
  }
  took.push(Date.now() - killedAt);
  active = { pid: standby.proc.pid!, proc: standby.proc };
  waiting = null;
  await pending;
  return { term, journal };
}

/** The standby began the next term and settled every journal entry of the one it took over from. */
function expectNextTerm(killed: { term: number }): void {
  expect(Number(pg.psql("SELECT max(epoch) FROM terms", "state"))).toBe(killed.term + 1);
  expect(pg.psql("SELECT count(*) FROM operations", "state")).toBe("0");
}

/** What a takeover must leave: the source running per QEMU and writing, doctor clean, no VM without an instance. */
async function expectTakenOver(): Promise<void> {
  const report = await doctorReport(b);
  expect(report.findings).toEqual([]);
  expect(report.vms.find((v) => v.name === "src")?.run_state).toBe("running");
  expect((await b.client.instances.get("src")).state).toBe("running");
  await waitWriting(b, "src");
  const live = (await b.client.instances.list()).filter((i) => i.state === "running" || i.state === "starting");
  expect(b.vmPids().length).toBe(live.length);
}

test("a standby takes over from a serve killed in the middle of a branch", async () => {
  const srcPid = b.vmPids()[0];
  const killed = await killDuring(() => b.http("POST", "/v1/instances", { name: "br", branch_from: { name: "src" }, quiesce: "off" }), "SELECT count(*) FROM operations");
  // The branch's journal entry was written in the killed serve's term.
  expect(killed.journal).toEqual([killed.term]);
  await expectTakenOver();
  expectNextTerm(killed);
  // The source's QEMU is the one it always was: a takeover reattaches, it never restarts a VM.
  expect(b.vmPids()).toContain(srcPid);
  // The branch was completed or undone: running, or failed and recorded so, or gone.
  const br = await b.http("GET", "/v1/instances/br");
  if (br.status === 200) expect(["running", "error"]).toContain(br.body.data.instances[0].state);
  else expect(br.status).toBe(404);
});

test("a standby takes over from a serve killed in the middle of a clone", async () => {
  const killed = await killDuring(() => b.http("POST", "/v1/volumes/clone", { name: "src-data", vol_name: "cl" }), "SELECT count(*) FROM volumes WHERE name = 'cl'");
  await expectTakenOver();
  expectNextTerm(killed);
  const cl = await b.http("GET", "/v1/volumes/cl");
  if (cl.status === 200) expect(["available", "error"]).toContain(cl.body.data.volumes[0].state);
  else expect(cl.status).toBe(404);
});
