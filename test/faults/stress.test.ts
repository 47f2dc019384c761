// A bounded stress run (issue 10): four clients for a fixed time send random branch, clone, start,
// stop, attach, detach, patch and delete requests at two instances and two volumes. Afterwards no
// request took longer than the lock deadline plus the operation, none answered 5xx, every volume and
// clone passes `e2fsck -n`, and doctor finds nothing. The counts are printed for the record.
import { execFileSync } from "node:child_process";
import type { DoctorReport, Volume } from "../../sdk";
import { raw, withRawCopy } from "../backend/support";
import { startBackend, type TestBackend } from "../helpers/backend";

jest.setTimeout(600_000);

/** How long the clients run. */
const RUN_MS = 60_000;
/** The longest a request may take: the 60 s lock wait and a slow operation after it. */
const REQUEST_DEADLINE_MS = 150_000;

let b: TestBackend;

beforeAll(async () => {
  b = await startBackend();
  for (const v of ["v1", "v2"]) expect((await b.http("POST", "/v1/volumes", { name: v, size_mb: 16 })).status).toBe(201);
  for (const i of ["i1", "i2"])
    expect((await b.http("POST", "/v1/instances", { name: i, image: "base", memory_mb: 96, args: ["sh", "-c", "while :; do date >> /data/t 2>/dev/null; sync; sleep 1; done"] })).status).toBe(201);
});
afterAll(async () => {
  await b?.stop();
});

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

type Op = () => Promise<{ status: number; body: unknown }>;

function randomOp(client: number, seq: number): [string, Op] {
  const inst = pick(["i1", "i2"]);
  const vol = pick(["v1", "v2"]);
  const made = `s${client}-${seq}`;
  const ops: [string, Op][] = [
    ["branch", () => b.http("POST", "/v1/instances", { name: made, branch_from: { name: inst }, autostart: false })],
    ["clone", () => b.http("POST", "/v1/volumes/clone", { name: vol, vol_name: made })],
    ["start", () => b.http("PUT", `/v1/instances/${inst}/start`)],
    ["stop", () => b.http("PUT", `/v1/instances/${inst}/stop`, { force: true })],
    ["attach", () => b.http("PUT", `/v1/volumes/${vol}/attach`, { attach_to: { name: inst }, at: "/data" })],
    ["detach", () => b.http("PUT", `/v1/volumes/${vol}/detach`, {})],
    ["patch", () => b.http("PATCH", `/v1/instances/${inst}`, [{ prop: "tags", op: "add", value: [`t${seq % 5}`] }])],
    ["delete", async () => {
      // Delete something an earlier request of any client made (instances first, then volumes).
      const list = (await b.http("GET", "/v1/instances")).body as { data?: { instances?: { name: string }[] } };
      const victim = list.data?.instances?.map((i) => i.name).find((n) => n.startsWith("s"));
      if (victim) return b.http("DELETE", `/v1/instances/${victim}`);
      const vols = (await b.http("GET", "/v1/volumes")).body as { data?: { volumes?: { name: string; state: string }[] } };
      const v = vols.data?.volumes?.find((x) => x.name.startsWith("s") && x.state !== "pending");
      return v ? b.http("DELETE", `/v1/volumes/${v.name}`) : { status: 204, body: null };
    }],
  ];
  return pick(ops);
}

it("random concurrent operations end in answers, not hangs or 5xx, and leave consistent disks", async () => {
  const counts = new Map<string, Map<number, number>>();
  const slow: string[] = [];
  const failures: string[] = [];
  const end = Date.now() + RUN_MS;
  await Promise.all(
    [0, 1, 2, 3].map(async (client) => {
      for (let seq = 0; Date.now() < end; seq++) {
        const [name, op] = randomOp(client, seq);
        const t0 = Date.now();
        const res = await op();
        const took = Date.now() - t0;
        const per = counts.get(name) ?? new Map<number, number>();
        per.set(res.status, (per.get(res.status) ?? 0) + 1);
        counts.set(name, per);
        if (took > REQUEST_DEADLINE_MS) slow.push(`${name} took ${took} ms`);
        if (res.status >= 500) failures.push(`${name} → ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
      }
    }),
  );
  // For the record (the issue asks for the counts).
  process.stdout.write(`stress counts: ${JSON.stringify(Object.fromEntries([...counts].map(([k, v]) => [k, Object.fromEntries(v)])))}\n`);
  expect(failures).toEqual([]);
  expect(slow).toEqual([]);

  // Quiesce: background clones and branches finish, every VM stops, then the disks are checked.
  const deadline = Date.now() + 180_000;
  for (;;) {
    const vols = ((await b.http("GET", "/v1/volumes")).body as { data: { volumes: Volume[] } }).data.volumes;
    const insts = ((await b.http("GET", "/v1/instances")).body as { data: { instances: { name: string; state: string }[] } }).data.instances;
    if (!vols.some((v) => v.state === "pending") && !insts.some((i) => i.state === "starting" || i.state === "stopping")) break;
    if (Date.now() > deadline) throw new Error("operations did not settle");
    await new Promise((r) => setTimeout(r, 500));
  }
  const insts = ((await b.http("GET", "/v1/instances")).body as { data: { instances: { name: string; state: string }[] } }).data.instances;
  for (const i of insts) if (i.state === "running" || i.state === "error") expect((await b.http("PUT", `/v1/instances/${i.name}/stop`, { force: true })).status).toBe(200);
  const report = (await raw(b, "GET", "/v1/doctor")).body as { data: { doctor: DoctorReport[] } };
  expect(report.data.doctor[0]!.findings).toEqual([]);
  const db = `${b.dataDir}/vmbranch.db`;
  const heads = execFileSync("sqlite3", [db, "SELECT d.path FROM volumes v JOIN disks d ON d.id = v.head_disk WHERE v.kind = 'block'"], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  expect(heads.length).toBeGreaterThanOrEqual(2);
  for (const path of heads)
    withRawCopy(path, (rawFile) => {
      // A disk frozen or stopped while mounted holds a journal to replay, as a mount would: on the copy.
      try {
        execFileSync("e2fsck", ["-p", "-E", "journal_only", rawFile], { stdio: "ignore" });
      } catch {
        /* nothing to replay, or replayed with notes: the read-only check below decides */
      }
      execFileSync("e2fsck", ["-n", "-f", rawFile], { stdio: "ignore" });
    });
  process.stdout.write(`stress: e2fsck -n passed on ${heads.length} volumes and clones\n`);
});
