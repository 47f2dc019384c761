// A bounded stress run (issue 10): four clients for a fixed time send random branch, clone, start,
// stop, attach, detach, patch and delete requests at two instances and two volumes (and at what the
// branches and clones made). Afterwards: no request took longer than its deadline, none answered
// 5xx, every volume and clone passes `e2fsck -n` (checked on copies of the disks of stopped VMs,
// the journal replayed first as a mount would), and doctor finds nothing. Chains deeper than 3 are
// flattened meanwhile (and the run must flatten some). The counts are printed
// for the record (operations per kind and their statuses).
import { execFileSync } from "node:child_process";
import type { DoctorReport } from "../../sdk";
import { raw, withRawCopy } from "../backend/support";
import { startBackend, type TestBackend } from "../helpers/backend";

jest.setTimeout(420_000);

/** How long the clients run. */
const RUN_MS = 40_000;
/** The longest a request may take: the 60 s lock wait, then the operation itself. */
const REQUEST_DEADLINE_MS = 120_000;
const CLIENTS = 4;

let b: TestBackend;

beforeAll(async () => {
  // Chains deeper than 3 are flattened (the default is 8), so flattens run among everything else,
  // online and offline; info logs let the run count them.
  b = await startBackend({ env: { VMBRANCH_MAX_CHAIN_DEPTH: "3", VMBRANCH_LOG_LEVEL: "info" } });
  for (const v of ["v1", "v2"]) expect((await b.http("POST", "/v1/volumes", { name: v, size_mb: 16 })).status).toBe(201);
  // Each guest appends to /data/t when a volume is there (attach and detach move them around).
  const writer = ["sh", "-c", "while :; do date >> /data/t 2>/dev/null; sync; sleep 1; done"];
  expect((await b.http("POST", "/v1/instances", { name: "i1", image: "base", memory_mb: 96, args: writer, volumes: [{ name: "v1", at: "/data" }] })).status).toBe(201);
  expect((await b.http("POST", "/v1/instances", { name: "i2", image: "base", memory_mb: 96, args: writer })).status).toBe(201);
});
afterAll(async () => {
  await b?.stop();
});

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

type Answer = { status: number; body: unknown };
type Op = () => Promise<Answer>;

/** `method path` with the test's deadline: a request still unanswered then counts as a hang (status 0). */
async function request(method: string, path: string, body?: unknown): Promise<Answer> {
  const { status, body: answer } = await raw(b, method, path, { body, deadlineMs: REQUEST_DEADLINE_MS });
  return { status, body: answer };
}

async function names(kind: "instances" | "volumes"): Promise<{ name: string; state: string }[]> {
  const res = await request("GET", `/v1/${kind}`);
  return ((res.body as { data?: Record<string, { name: string; state: string }[]> }).data?.[kind] ?? []);
}

function randomOp(client: number, seq: number): [string, Op] {
  const made = `s${client}-${seq}`;
  const ops: [string, Op][] = [
    ["branch", () => request("POST", "/v1/instances", { name: made, branch_from: { name: pick(["i1", "i2"]) }, autostart: false })],
    ["clone", async () => {
      // A clone of one of the two volumes, or of a clone made earlier (chains grow and get flattened).
      const vols = (await names("volumes")).filter((v) => v.state === "available").map((v) => v.name);
      return request("POST", "/v1/volumes/clone", { name: pick(vols.length > 0 && Math.random() < 0.3 ? vols : ["v1", "v2"]), vol_name: made });
    }],
    ["start", () => request("PUT", `/v1/instances/${pick(["i1", "i2"])}/start`)],
    ["stop", () => request("PUT", `/v1/instances/${pick(["i1", "i2"])}/stop`, { force: true })],
    ["attach", () => request("PUT", `/v1/volumes/${pick(["v1", "v2"])}/attach`, { attach_to: { name: pick(["i1", "i2"]) }, at: "/data" })],
    ["detach", () => request("PUT", `/v1/volumes/${pick(["v1", "v2"])}/detach`, {})],
    ["patch", () => request("PATCH", `/v1/instances/${pick(["i1", "i2"])}`, [{ prop: "tags", op: "add", value: [`t${seq % 5}`] }])],
    ["delete", async () => {
      // Delete something an earlier request of any client made (a branch, else a clone).
      const victim = pick([...(await names("instances")).filter((i) => i.name.startsWith("s")).map((i) => `instances/${i.name}`), null]);
      if (victim) return request("DELETE", `/v1/${victim}`);
      const vol = pick([...(await names("volumes")).filter((v) => v.name.startsWith("s") && v.state !== "pending").map((v) => `volumes/${v.name}`), null]);
      return vol ? request("DELETE", `/v1/${vol}`) : { status: 204, body: null };
    }],
  ];
  return pick(ops);
}

/** Wait until no clone or branch is still being made and no VM is between states. */
async function settle(): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const vols = await names("volumes");
    const insts = await names("instances");
    if (!vols.some((v) => v.state === "pending") && !insts.some((i) => ["starting", "stopping"].includes(i.state))) {
      const busy = insts.map((i) => i.name);
      // A branch still copying is `stopped` with a phase: wait for every branch to end its restore.
      const phases = await Promise.all(busy.map(async (n) => ((await request("GET", `/v1/instances/${n}`)).body as { data?: { instances?: { branch?: { phase: string } | null }[] } }).data?.instances?.[0]?.branch?.phase));
      if (!phases.some((p) => p !== undefined && p !== "Succeeded" && p !== "Failed")) return;
    }
    if (Date.now() > deadline) throw new Error("operations did not settle");
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Findings with what the store and serve's log say of the disk each names: a failure in CI is
 * then read from its output (the data directory is gone by then).
 */
function explained(findings: DoctorReport["findings"], db: string): unknown[] {
  const sql = (q: string) => execFileSync("sqlite3", ["-header", db, q], { encoding: "utf8" }).trim();
  const log = b.serveLog().split("\n");
  return findings.map((f) => {
    const id = /disk ([0-9a-f-]{36})/.exec(f.problem)?.[1];
    if (!id) return f;
    return {
      ...f,
      row: sql(`SELECT * FROM disks WHERE id = '${id}'`),
      children: sql(`SELECT id, depth FROM disks WHERE parent_id = '${id}'`),
      journal: sql("SELECT * FROM operations"),
      log: log.filter((l) => l.includes(id) || /"level":(40|50)/.test(l)).slice(-30),
    };
  });
}

it("random concurrent operations end in answers, not hangs or 5xx, and leave consistent disks", async () => {
  const counts = new Map<string, Map<number, number>>();
  const slow: string[] = [];
  const failures: string[] = [];
  let longest = 0;
  const started = Date.now();
  const end = started + RUN_MS;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let seq = 0; Date.now() < end; seq++) {
        const [name, op] = randomOp(client, seq);
        const t0 = Date.now();
        const res = await op();
        const took = Date.now() - t0;
        longest = Math.max(longest, took);
        const per = counts.get(name) ?? new Map<number, number>();
        per.set(res.status, (per.get(res.status) ?? 0) + 1);
        counts.set(name, per);
        if (res.status === 0 || took > REQUEST_DEADLINE_MS) slow.push(`${name} took ${took} ms`);
        if (res.status >= 500) failures.push(`${name} → ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
      }
    }),
  );
  const total = [...counts.values()].reduce((n, per) => n + [...per.values()].reduce((a, c) => a + c, 0), 0);
  // For the record (the issue asks for the counts).
  process.stdout.write(
    `stress: ${total} requests from ${CLIENTS} clients in ${Date.now() - started} ms (longest ${longest} ms); per kind and status: ` +
      `${JSON.stringify(Object.fromEntries([...counts].sort().map(([k, v]) => [k, Object.fromEntries(v)])))}\n`,
  );
  expect(failures).toEqual([]);
  expect(slow).toEqual([]);
  expect(total).toBeGreaterThan(CLIENTS);

  // Quiesce: background clones and branches finish, every VM stops (a disk is checked only while
  // no guest has it mounted), then doctor and the disks are checked.
  await settle();
  for (const i of await names("instances"))
    if (["running", "error", "standby"].includes(i.state)) expect((await request("PUT", `/v1/instances/${i.name}/stop`, { force: true })).status).toBe(200);
  await settle();
  expect(b.vmPids()).toEqual([]);
  const report = (await raw(b, "GET", "/v1/doctor")).body as { data: { doctor: DoctorReport[] } };
  const db = `${b.dataDir}/vmbranch.db`;
  expect(explained(report.data.doctor[0]!.findings, db)).toEqual([]);
  const heads = execFileSync("sqlite3", [db, "SELECT v.name || '|' || d.path FROM volumes v JOIN disks d ON d.id = v.head_disk WHERE v.kind = 'block'"], { encoding: "utf8" })
    .trim().split("\n").filter(Boolean).map((l) => l.split("|") as [string, string]);
  expect(heads.length).toBeGreaterThanOrEqual(2);
  const broken: string[] = [];
  for (const [name, path] of heads)
    withRawCopy(path, (rawFile) => {
      // A disk frozen from a running VM, or of a VM turned off, is as after a power cut: its
      // journal is replayed first, on the copy, as the next mount would.
      try {
        execFileSync("e2fsck", ["-p", "-E", "journal_only", rawFile], { stdio: "ignore" });
      } catch {
        /* nothing to replay, or replayed with notes: the read-only check below decides */
      }
      try {
        execFileSync("e2fsck", ["-n", "-f", rawFile], { stdio: "pipe", encoding: "utf8" });
      } catch (err) {
        // What the failure is about: the chain the copy was read through, and the superblock's bytes.
        const chain = execFileSync("qemu-img", ["info", "-U", "--backing-chain", path], { encoding: "utf8" }).split("\n").filter((l) => /^(image|backing file|virtual size|disk size):/.test(l)).join("; ");
        const magic = execFileSync("od", ["-A", "d", "-t", "x1", "-j", "1080", "-N", "2", rawFile], { encoding: "utf8" }).trim().split("\n")[0];
        broken.push(`${name}: ${((err as { stdout?: string }).stdout ?? (err as Error).message).split("\n").slice(0, 3).join(" / ")} [chain: ${chain}] [magic at 1080: ${magic}]`);
      }
    });
  expect(broken).toEqual([]);
  // The run must have flattened, or the check above says nothing about flattening.
  const flattens = b.serveLog().split("\n").filter((l) => l.includes("flattened a deep backing chain"));
  const failedFlattens = b.serveLog().split("\n").filter((l) => l.includes("flattening failed"));
  process.stdout.write(`stress: e2fsck -n passed on ${heads.length} volumes and clones (${heads.map(([n]) => n).join(", ")}); ${flattens.length} flattens (${flattens.filter((l) => l.includes('"online":true')).length} online), ${failedFlattens.length} given up\n`);
  expect(flattens.length).toBeGreaterThan(0);
});
