// Running out of space (issue 10), simulated with small tmpfs mounts for the data dir and the RAM
// directory (snapshot RAM images): a RAM directory that fills up during a branch's memory copy fails
// the branch with a clear error and leaves the source running with every line it wrote. (A guest
// filling the data dir is disk-full.test.ts, on a loop-mounted ext4.)
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DoctorReport } from "../../sdk";
import { raw } from "../backend/support";
import { startBackend, type TestBackend } from "../helpers/backend";
import { counterProgram, parseTicks } from "../helpers/guest-programs";

jest.setTimeout(300_000);

let root: string;
let data: string;
let ram: string;
let b: TestBackend | undefined;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "vmbranch-space-"));
  data = join(root, "data");
  ram = join(root, "ram");
  mkdirSync(data, { mode: 0o700 });
  mkdirSync(ram, { mode: 0o700 });
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", data]);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=200m,mode=0700", "tmpfs", ram]);
  // serve keeps using the RAM directory recorded in the data dir while it is private and its own.
  writeFileSync(join(data, "ram-dir"), `${ram}\n`, { mode: 0o600 });
  // The memory copy waits 3 s after the snapshot's overlays exist: time to fill the RAM directory.
  b = await startBackend({ dataDir: data, args: ["--host-reserve-mb", "0"], env: { VMBRANCH_FAILPOINTS: "snapshot.after-overlays=delay:3000" } });
});

afterAll(async () => {
  await b?.stop().catch(() => undefined);
  for (const m of [ram, data]) execFileSync("umount", ["-l", m], { stdio: "ignore" });
  rmSync(root, { recursive: true, force: true });
});

async function doctor(): Promise<DoctorReport> {
  const res = await raw(b!, "GET", "/v1/doctor");
  return (res.body as { data: { doctor: DoctorReport[] } }).data.doctor[0]!;
}

/** Fill the filesystem of `dir` with a ballast file until it is full. */
function fill(dir: string): string {
  const ballast = join(dir, "ballast");
  try {
    execFileSync("dd", ["if=/dev/zero", `of=${ballast}`, "bs=1M"], { stdio: "ignore" });
  } catch {
    /* dd ends with ENOSPC: that is the point */
  }
  return ballast;
}

it("a RAM directory that fills during a branch fails the branch, and the source runs on with its data", async () => {
  const c = b!.client;
  await c.instances.create({ name: "src", image: "base", memory_mb: 128, args: counterProgram("/data"), volumes: [{ name: "src-data", size_mb: 8, at: "/data" }] });
  await c.instances.waitFor("src", "running", { timeoutMs: 120_000 });
  const log = async () => parseTicks((await c.instances.log("src", { limit: 1024 * 1024 })).output);
  const branching = b!.http("POST", "/v1/instances", { name: "br", branch_from: { name: "src" } });
  // The loader's RAM image exists now (sparse); fill the rest of the RAM directory during the delay.
  await new Promise((r) => setTimeout(r, 1000));
  const ballast = fill(ram);
  const res = await branching;
  if (res.status === 201) {
    const br = await c.instances.waitFor("br", ["error", "running"], { timeoutMs: 120_000 });
    expect(br.state).toBe("error");
    expect(br.branch?.message).toMatch(/copying memory|snapshot/i);
  } else {
    // Refused before the copy (no room left) or failed during it: either way a clear 5xx.
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(JSON.stringify(res.body)).toMatch(/Snapshot of instance 'src' failed|Not enough space in the RAM directory/);
  }
  rmSync(ballast);
  const report = await doctor();
  expect(report.vms.find((v) => v.name === "src")?.run_state).toBe("running");
  const seen = (await log()).length;
  const deadline = Date.now() + 60_000;
  while ((await log()).length < seen + 2) {
    if (Date.now() > deadline) throw new Error("src stopped ticking");
    await new Promise((r) => setTimeout(r, 250));
  }
  await raw(b!, "DELETE", "/v1/instances/br");
  expect((await doctor()).findings).toEqual([]);
  // What it wrote around the failed branch is on its disk: a cold start counts every line.
  const last = (await log()).at(-1)!.tick;
  await c.instances.stop("src", { timeout_s: 30 });
  const from = (await c.instances.log("src", { offset: -1, limit: 1 })).available;
  await c.instances.start("src");
  const until = Date.now() + 90_000;
  let first;
  while (!(first = parseTicks((await c.instances.log("src", { offset: from, limit: 65536 })).output)[0])) {
    if (Date.now() > until) throw new Error("no tick after the restart");
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(first.f0).toBeGreaterThanOrEqual(last + 1);
  await c.instances.delete("src");
});
