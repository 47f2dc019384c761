// A serve on PostgreSQL whose database restarts under it (issue 14's "`pg_ctl restart -m immediate`
// during load yields brief 503s and nothing lost"). Three clients create, delete, list and get
// volumes and instances while the test restarts PostgreSQL three times (`-m immediate`: every
// session cut as by a crash), each time with a branch of the running source and a clone of its
// volume in flight. Every answer is a success or 503 STORE_UNAVAILABLE, none hangs, serve lives
// on and answers again after each restart; afterwards every create that answered 2xx exists, every
// delete that did is gone, the branches and clones finished, the source still runs and writes,
// and doctor finds nothing. Then serve's own background work meets a database that is down: a
// VM's QEMU dies and a checkpoint's autokill falls due while PostgreSQL is stopped; serve stays
// up and, once the database is back, records the instance stopped and deletes the checkpoint.
// Figures (requests, 503s, how long each 503 window lasted) are printed for the record.
import { raw } from "../backend/support";
import { startBackend, type TestBackend } from "../helpers/backend";
import { counterProgram } from "../helpers/guest-programs";
import { doctorReport, waitWriting } from "../helpers/serve-checks";
import { startPostgres, type TestPostgres } from "../helpers/postgres";

jest.setTimeout(420_000);

const CLIENTS = 3;
const RESTARTS = 3;
/** Answers the clients must have had between two restarts (so each restart lands among requests). */
const ANSWERS_BETWEEN = 30;
/** The longest a request may take before it counts as hung: a statement waits at most 30 s, a lock 60 s. */
const REQUEST_DEADLINE_MS = 120_000;
/** Clones hold after their freeze, so the one fired just before a restart is in flight across it. */
const FAILPOINTS = "clone.after-freeze=delay:1500";

let pg: TestPostgres;
let b: TestBackend;
const figures: string[] = [];

beforeAll(async () => {
  pg = await startPostgres();
  b = await startBackend({ testStore: false, args: ["--store", pg.createDatabase("state")], env: { VMBRANCH_FAILPOINTS: FAILPOINTS } });
  await b.client.instances.create({ name: "src", image: "base", memory_mb: 128, args: counterProgram("/data"), volumes: [{ name: "src-data", size_mb: 16, at: "/data" }] });
  await b.client.instances.waitFor("src", "running", { timeoutMs: 120_000 });
  await waitWriting(b, "src");
}, 300_000);

afterAll(async () => {
  await b?.stop();
  pg?.stop();
  for (const line of figures) console.log(line);
});

type Answer = { status: number; code?: string; body: unknown; sentAt: number; answeredAt: number; what: string };

/** `method path` with the test's deadline; an unanswered request is status 0 (a hang or a dead serve). */
async function request(what: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const sentAt = Date.now();
  const res = await raw(b, method, path, { body, deadlineMs: REQUEST_DEADLINE_MS });
  const code = (res.body as { errors?: { code?: string }[] } | null)?.errors?.[0]?.code;
  return { status: res.status, code, body: res.body, sentAt, answeredAt: Date.now(), what: `${what}: ${method} ${path}` };
}

const ok = (a: Answer) => a.status >= 200 && a.status < 300;
const unavailable = (a: Answer) => a.status === 503 && a.code === "STORE_UNAVAILABLE";

/** Poll until `probe` holds (through 503s while the database comes back). */
async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The state of `kind/name` as serve has it now, "gone" for a 404, null while it cannot say (503). */
async function stateOf(kind: "instances" | "volumes", name: string): Promise<string | null> {
  const res = await request("check", "GET", `/v1/${kind}/${name}`);
  if (res.status === 404) return "gone";
  if (!ok(res)) return null;
  return (res.body as { data: Record<string, { state: string }[]> }).data[kind]![0]!.state;
}

/** Serve's process is alive (a signal 0 reaches it). */
function serveAlive(): boolean {
  try {
    process.kill(b.servePid(), 0);
    return true;
  } catch {
    return false;
  }
}

test("pg_ctl restart -m immediate under load: successes or 503 STORE_UNAVAILABLE only, and nothing lost", async () => {
  const answers: Answer[] = [];
  /** What answered 2xx: made (and not yet deleted), and deleted; a 503 leaves the outcome unknown. */
  const made = new Map<string, "instances" | "volumes">();
  const deleted = new Map<string, "instances" | "volumes">();
  const unknown = new Set<string>();
  /** Branches and clones fired across a restart; each answered 2xx must finish. */
  const inflight: Promise<void>[] = [];
  let stop = false;
  const record = (a: Answer) => {
    answers.push(a);
    return a;
  };

  const client = async (n: number) => {
    for (let seq = 0; !stop; seq++) {
      const mine = [...made].filter(([name]) => name.startsWith(`c${n}-`));
      const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(Math.random() * xs.length)];
      const roll = Math.random();
      if (roll < 0.2) {
        const name = `c${n}-v${seq}`;
        const a = record(await request("create volume", "POST", "/v1/volumes", { name, size_mb: 8 }));
        if (ok(a)) made.set(name, "volumes");
        else unknown.add(name);
      } else if (roll < 0.3) {
        const name = `c${n}-i${seq}`;
        const a = record(await request("create instance", "POST", "/v1/instances", { name, image: "base", memory_mb: 64, autostart: false }));
        if (ok(a)) made.set(name, "instances");
        else unknown.add(name);
      } else if (roll < 0.45 && mine.length > 0) {
        const [name, kind] = pick(mine)!;
        made.delete(name);
        const a = record(await request(`delete ${kind}`, "DELETE", `/v1/${kind}/${name}`));
        if (ok(a)) deleted.set(name, kind);
        else unknown.add(name);
      } else if (roll < 0.65 && mine.length > 0) {
        const [name, kind] = pick(mine)!;
        const a = record(await request(`get ${kind}`, "GET", `/v1/${kind}/${name}`));
        // Made and not deleted: it is there whenever serve can say.
        if (a.status === 404) throw new Error(`${name} answered 2xx at its creation but is not found`);
      } else if (roll < 0.75) {
        record(await request("get instance", "GET", "/v1/instances/src"));
      } else if (roll < 0.88) {
        record(await request("list volumes", "GET", "/v1/volumes"));
      } else {
        record(await request("list instances", "GET", "/v1/instances"));
      }
    }
  };

  /** Fire a branch of the running source and a clone of its volume; they run on across the restart. */
  const fireInflight = (r: number) => {
    const branch = `br${r}`;
    const clone = `cl${r}`;
    inflight.push(
      request("branch", "POST", "/v1/instances", { name: branch, branch_from: { name: "src" }, autostart: false, quiesce: "off" }).then((a) => {
        record(a);
        if (ok(a)) made.set(branch, "instances");
        else unknown.add(branch);
      }),
      request("clone", "POST", "/v1/volumes/clone", { name: "src-data", vol_name: clone }).then((a) => {
        record(a);
        if (ok(a)) made.set(clone, "volumes");
        else unknown.add(clone);
      }),
    );
  };

  const clients = Array.from({ length: CLIENTS }, (_, n) => client(n));
  const restarts: { at: number; back: number }[] = [];
  const driver = (async () => {
    try {
      for (let r = 0; r < RESTARTS; r++) {
        const from = answers.length;
        await until(`${ANSWERS_BETWEEN} answers before restart ${r + 1}`, () => answers.length >= from + ANSWERS_BETWEEN);
        fireInflight(r);
        const at = Date.now();
        await pg.restart();
        // Serve answers again: a success to a request sent after the database was back.
        const started = Date.now();
        await until(`a success after restart ${r + 1}`, () => answers.some((a) => a.sentAt >= started && ok(a)));
        restarts.push({ at, back: Math.min(...answers.filter((a) => a.sentAt >= started && ok(a)).map((a) => a.answeredAt)) });
      }
      const from = answers.length;
      await until("answers after the last restart", () => answers.length >= from + ANSWERS_BETWEEN);
    } finally {
      stop = true;
    }
  })();
  await Promise.all([driver, ...clients, ...inflight]);
  await Promise.all(inflight);

  // Every answer: a success or 503 STORE_UNAVAILABLE; none hung (status 0), none a 500.
  const odd = answers.filter((a) => !ok(a) && !unavailable(a)).map((a) => `${a.what} -> ${a.status} ${JSON.stringify(a.body)}`);
  expect(odd).toEqual([]);
  expect(serveAlive()).toBe(true);
  const refused = answers.filter(unavailable);
  // The restarts landed among the requests: some were refused while the database was down.
  expect(refused.length).toBeGreaterThan(0);
  const windows = restarts.map(({ at, back }) => {
    const inWindow = refused.filter((a) => a.answeredAt >= at && a.sentAt <= back);
    return inWindow.length === 0 ? "none" : `${Math.max(...inWindow.map((a) => a.answeredAt)) - Math.min(...inWindow.map((a) => a.sentAt))} ms (${inWindow.length})`;
  });

  // Nothing lost: the branches and clones finish, what answered 2xx at its creation is there,
  // what answered 2xx at its deletion is gone.
  for (const [name, kind] of made) {
    const settled = kind === "volumes" ? ["available"] : ["stopped"];
    await until(`${name} settled`, async () => {
      const s = await stateOf(kind, name);
      return s !== null && s !== "pending" && s !== "starting";
    });
    expect({ name, state: await stateOf(kind, name) }).toEqual({ name, state: expect.stringMatching(new RegExp(`^(${settled.join("|")})$`)) });
  }
  for (const [name, kind] of deleted) expect({ name, state: await stateOf(kind, name) }).toEqual({ name, state: "gone" });

  // The source ran through it all and still writes; every disk file belongs to the store and back.
  const report = await doctorReport(b);
  expect(report.findings).toEqual([]);
  expect(report.vms.find((v) => v.name === "src")?.run_state).toBe("running");
  expect((await b.client.instances.get("src")).state).toBe("running");
  await waitWriting(b, "src");
  const live = (await b.client.instances.list()).filter((i) => i.state === "running" || i.state === "starting");
  expect(b.vmPids().length).toBe(live.length);
  expect(b.serveLog()).not.toMatch(/unhandled|uncaught/i);

  figures.push(
    `pg_ctl restart -m immediate x${RESTARTS} under ${CLIENTS} clients: ${answers.length} requests, ${refused.length} answered 503 STORE_UNAVAILABLE, ` +
      `0 other failures; 503 windows ${windows.join(", ")}; ${made.size} resources made and kept, ${deleted.size} deleted, ${unknown.size} left unknown by a 503`,
  );
});

test("background work meets a database that is down: a VM's exit and an autokill are recorded once it is back", async () => {
  await b.client.instances.create({ name: "victim", image: "base", memory_mb: 96, args: counterProgram("/tmp") });
  await b.client.instances.waitFor("victim", "running", { timeoutMs: 120_000 });
  const victim = await b.client.instances.get("victim");
  const pid = (await doctorReport(b)).vms.find((v) => v.name === "victim")!.pid;
  expect((await raw(b, "POST", "/v1/instances", { body: { name: "rest", image: "base", autostart: false } })).status).toBe(201);
  // Due 3 s from now: the database is down before then (stopping it takes a fraction of that).
  const cp = await raw(b, "POST", "/v1/instances/checkpoints", { body: [{ from: { name: "rest" }, name: "idle", autokill: { time_ms: 3000 } }] });
  expect(cp.status).toBe(201);

  const down = Date.now();
  pg.halt();
  try {
    // A QEMU that dies while serve cannot write the state.
    process.kill(pid, "SIGKILL");
    await until("serve tried to record the exit", () => b.serveLog().includes(`recording the exit of instance ${victim.uuid}: the state database is unavailable`));
    await until("serve tried the autokill", () => b.serveLog().includes("autokill: the state database is unavailable"));
    expect(serveAlive()).toBe(true);
  } finally {
    pg.start();
  }
  const outage = Date.now() - down;

  // Recorded as it is once the database is back: the instance stopped, the checkpoint deleted.
  await until("victim recorded stopped", async () => (await stateOf("instances", "victim")) === "stopped");
  await until("idle autokilled", async () => (await raw(b, "GET", "/v1/instances/checkpoints/idle")).status === 404);
  expect(serveAlive()).toBe(true);
  const report = await doctorReport(b);
  expect(report.findings).toEqual([]);
  expect(report.vms.map((v) => v.name).sort()).toEqual(["src"]);
  expect(b.serveLog()).not.toMatch(/unhandled|uncaught/i);
  figures.push(`background work with PostgreSQL down ${outage} ms: the exit of a killed QEMU and a due autokill were recorded once it was back; serve stayed up`);
});
