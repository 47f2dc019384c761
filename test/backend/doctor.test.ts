// `vmbranch doctor` and `GET /v1/doctor` (issue 10) against a real serve without guests: a clean
// data dir agrees; a qcow2 file no row names, a disk row without its file, and the scratch directory
// of a dead import are reported; `--repair` removes what is safe and leaves the rest reported.
import { execFile } from "node:child_process";
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import type { DoctorReport } from "../../sdk";
import { CLI } from "../helpers/backend";
import { raw, useBackend } from "./support";

const run = promisify(execFile);
const backend = useBackend();

async function doctorCli(...args: string[]): Promise<{ code: number; out: string }> {
  const b = backend();
  try {
    const { stdout } = await run(process.execPath, [CLI, "doctor", "--url", b.url, ...args], { env: { ...process.env, VMBRANCH_TOKEN: b.token } });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

async function report(): Promise<DoctorReport> {
  const res = await raw(backend(), "GET", "/v1/doctor");
  expect(res.status).toBe(200);
  return (res.body as { data: { doctor: DoctorReport[] } }).data.doctor[0]!;
}

describe("doctor", () => {
  it("finds nothing in a data dir serve made, and says so", async () => {
    expect((await report()).findings).toEqual([]);
    const cli = await doctorCli();
    expect(cli).toEqual({ code: 0, out: "doctor: the store and the host agree\n" });
  });

  it("reports what the store does not own and repairs only what is safe", async () => {
    const b = backend();
    // A volume whose disk file then disappears: reported, never "repaired".
    const before = new Set(readdirSync(join(b.dataDir, "disks")));
    await b.client.volumes.create({ name: "gone", size_mb: 8 });
    const file = join(b.dataDir, "disks", readdirSync(join(b.dataDir, "disks")).find((f) => !before.has(f))!);
    unlinkSync(file);
    const orphan = join(b.dataDir, "disks", "00000000-0000-4000-8000-000000000000.qcow2");
    writeFileSync(orphan, "not a disk the store knows\n");
    const scratch = join(b.dataDir, "tmp", "import-deadbeef-xyz");
    mkdirSync(scratch);
    writeFileSync(join(scratch, "f"), "half an import\n");

    const found = await report();
    expect(found.findings).toEqual(expect.arrayContaining([
      expect.objectContaining({ kind: "orphan-file", subject: orphan, repair: "delete it" }),
      expect.objectContaining({ kind: "orphan-file", subject: scratch, repair: "remove it" }),
      expect.objectContaining({ kind: "missing-file", subject: file, repair: null }),
    ]));
    expect(existsSync(orphan)).toBe(true);
    const cli = await doctorCli();
    expect(cli.code).toBe(1);
    expect(cli.out).toContain(`orphan-file  ${orphan}: a file the store does not know (--repair: delete it)`);

    const repaired = await doctorCli("--repair");
    // The missing file cannot be repaired: it is still reported, so the status stays 1.
    expect(repaired.code).toBe(1);
    expect(repaired.out).toContain(`repaired  orphan-file  ${orphan}`);
    expect(repaired.out).toContain(`manual    missing-file  ${file}`);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(scratch)).toBe(false);
    expect((await report()).findings.map((f) => f.kind)).toEqual(["missing-file"]);
    await b.client.volumes.delete("gone");
    expect((await report()).findings).toEqual([]);
  });

  it("finds the confinement an ended VM left (its cgroup, files lent to its jail) and removes it, never a live one's", async () => {
    const b = backend();
    const inst = await b.client.instances.create({ name: "ended", image: "base", autostart: false, volumes: [{ name: "ended-d", size_mb: 8, at: "/data" }] });
    const head = readdirSync(join(b.dataDir, "disks")).map((f) => join(b.dataDir, "disks", f)).find((f) => statSync(f).nlink === 1)!;
    // As a VM that ended while no serve watched leaves them: a disk hard-linked into its jail, and its cgroup.
    const jail = join(b.dataDir, "run", inst.uuid, "jail");
    mkdirSync(join(jail, dirname(head)), { recursive: true });
    linkSync(head, join(jail, head));
    writeFileSync(`${jail}.lent`, JSON.stringify([head]));
    const own = readFileSync(`/proc/${b.servePid()}/cgroup`, "utf8").split("\n").find((l) => l.startsWith("0::"))?.slice(3) ?? null;
    const parent = [own ? join("/sys/fs/cgroup", own, "vmbranch") : null, "/sys/fs/cgroup/vmbranch"].find((p) => p !== null && existsSync(p)) ?? null;
    const group = parent ? join(parent, `vm-${inst.uuid}`) : null;
    if (group) mkdirSync(group);
    try {
      const found = (await report()).findings;
      expect(found).toEqual(expect.arrayContaining([expect.objectContaining({ kind: "orphan-file", problem: `files still lent to the jail of an ended VM: ${jail}` })]));
      if (group) expect(found).toEqual(expect.arrayContaining([expect.objectContaining({ kind: "orphan-file", subject: group, problem: `cgroup of an ended VM: ${group}` })]));
      const repaired = await doctorCli("--repair");
      expect(repaired.code).toBe(0);
      expect(statSync(head).nlink).toBe(1);
      expect(existsSync(`${jail}.lent`)).toBe(false);
      if (group) expect(existsSync(group)).toBe(false);
      expect((await report()).findings).toEqual([]);
    } finally {
      if (group && existsSync(group)) rmdirSync(group);
    }
    await b.client.instances.delete("ended");
  });

  it("reports no leak for volumes made and deleted while it reads the disks: what changed meanwhile is judged on a fresh read", async () => {
    const b = backend();
    // Each round, the doctor reads every disk while a dozen volumes go and new ones come: a row
    // gone with its file, or a file made before its row, is no finding.
    for (let round = 0; round < 4; round++) {
      const old = Array.from({ length: 12 }, (_, i) => `scan-${round}-${i}`);
      for (const name of old) await b.client.volumes.create({ name, size_mb: 8 });
      const [first, ...rest] = await Promise.all([
        report(),
        ...old.map((name) => b.client.volumes.delete(name)),
        ...[0, 1, 2].map((i) => b.client.volumes.create({ name: `scan-${round}-new-${i}`, size_mb: 8 })),
        report(),
      ]);
      expect([first, rest.at(-1)].map((r) => (r as DoctorReport).findings)).toEqual([[], []]);
    }
    expect((await report()).findings).toEqual([]);
    for (let round = 0; round < 4; round++) for (const i of [0, 1, 2]) await b.client.volumes.delete(`scan-${round}-new-${i}`);
  }, 120_000);

  it("says clearly when no serve answers, with the exit status of the other client commands", async () => {
    const cli = await doctorCli("--url", "http://127.0.0.1:1");
    expect(cli.code).toBe(6);
    expect(cli.out).toMatch(/^vmbranch doctor: cannot reach the server: /);
  });

  it("connects like the other client commands: --endpoint, $VMBRANCH_ENDPOINT, --token", async () => {
    const b = backend();
    const viaFlags = await run(process.execPath, [CLI, "doctor", "--endpoint", b.url, "--token", b.token, "--json"], { env: { ...process.env, VMBRANCH_TOKEN: "" } });
    expect(JSON.parse(viaFlags.stdout)).toEqual(expect.objectContaining({ findings: [] }));
    const viaEnv = await run(process.execPath, [CLI, "doctor"], { env: { ...process.env, VMBRANCH_ENDPOINT: b.url, VMBRANCH_TOKEN: b.token } });
    expect(viaEnv.stdout).toBe("doctor: the store and the host agree\n");
    const wrongToken = await doctorCli("--token", "not-the-token");
    expect(wrongToken.code).toBe(5);
  });
});
