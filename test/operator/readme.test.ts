// The README's "Using it" block, pasted into bash in the repository as a new user would, with a
// home of its own (so `~/.vmbranch` is fresh) and the test run's image store (so the image build
// is the no-op it is on a second run): `vmbranch` is on PATH, the server starts, an instance is
// made and branched, and `vmbranch tree` and `logs` show it. Afterwards the test removes the
// instances, stops the server and deletes what it left.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IMAGE_DIR } from "../helpers/backend";
import { ROOT, sh } from "./support/shell";

jest.setTimeout(360_000);

/** Processes whose environment has HOME=`home` (what the pasted block started, and their children). */
function pidsWithHome(home: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(`HOME=${home}`)) pids.push(Number(entry));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return pids;
}

/** The first sh block under "## Using it". */
function usingItBlock(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Using it\n"));
  const m = /```sh\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error("README.md has no sh block under 'Using it'");
  return m[1]!;
}

describe("README, Using it", () => {
  const home = mkdtempSync(join(tmpdir(), "vmbranch-readme-"));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, VMBRANCH_IMAGE_DIR: IMAGE_DIR };
  for (const k of ["VMBRANCH_TOKEN", "VMBRANCH_ENDPOINT", "VMBRANCH_DATA_DIR"]) delete env[k];
  env.PATH = (env.PATH ?? "").split(":").filter((d) => !d.endsWith("node_modules/.bin")).join(":");
  let servePid: number | undefined;

  afterAll(async () => {
    const cli = join(ROOT, "node_modules", ".bin", "vmbranch");
    let ram: string | undefined;
    try {
      ram = readFileSync(join(home, ".vmbranch", "ram-dir"), "utf8").trim();
    } catch {
      /* serve never started */
    }
    if (servePid) await sh(`${cli} rm db-2 db >/dev/null 2>&1 || true`, env, 120_000);
    // Whatever the block started (serve, and VMs if the removal failed) carries this test's HOME.
    for (const pid of pidsWithHome(home)) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        /* gone meanwhile */
      }
    }
    const deadline = Date.now() + 30_000;
    while (pidsWithHome(home).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    for (const pid of pidsWithHome(home)) process.kill(pid, "SIGKILL");
    if (ram) rmSync(ram, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }, 180_000);

  it("works when pasted into a shell in the repository", async () => {
    const block = usingItBlock();
    // The block as written, then where the test's cleanup finds the server it started.
    const r = await sh(`cd ${JSON.stringify(ROOT)}\nset -e\n${block}\necho "SERVE_PID=$!"`, env, 300_000);
    servePid = Number(/SERVE_PID=(\d+)/.exec(r.stdout)?.[1]) || undefined;
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    expect(r.stdout).toMatch(/^db-2$/m);
    expect(r.stdout).toMatch(/^db\s+running\s+\d+[smhd]$/m);
    expect(r.stdout).toMatch(/^└─ db-2\s+running\s+[\d.]+m?s\s+\d+[smhd]$/m);
    // The branch's console: `date` lines, going on from the source's.
    expect(r.stdout).toMatch(/\d\d:\d\d:\d\d/);
  });
});
