// The README's "Using it" block, pasted into bash in the repository as a new user would, with a
// home of its own (so `~/.vmbranch` is fresh) and the test run's image store (so the image build
// is the no-op it is on a second run): `vmbranch` is on PATH, the server starts, an instance is
// made and branched, and `vmbranch tree` and `logs` show it. Afterwards the test removes the
// instances, stops the server and deletes what it left.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IMAGE_DIR } from "../helpers/backend";
import { ROOT, sh } from "./support/shell";

jest.setTimeout(600_000);

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
    if (servePid) {
      await sh(`${cli} rm db-2 db >/dev/null 2>&1; kill ${servePid}; while kill -0 ${servePid} 2>/dev/null; do sleep 0.2; done`, env);
    }
    let ram: string | undefined;
    try {
      ram = readFileSync(join(home, ".vmbranch", "ram-dir"), "utf8").trim();
    } catch {
      /* serve never started */
    }
    if (ram) rmSync(ram, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }, 120_000);

  it("works when pasted into a shell in the repository", async () => {
    const block = usingItBlock();
    // The block as written, then where the test's cleanup finds the server it started.
    const r = await sh(`cd ${JSON.stringify(ROOT)}\nset -e\n${block}\necho "SERVE_PID=$!"`, env, 540_000);
    servePid = Number(/SERVE_PID=(\d+)/.exec(r.stdout)?.[1]) || undefined;
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    expect(r.stdout).toMatch(/^db-2$/m);
    expect(r.stdout).toMatch(/^db\s+running\s+\d+[smhd]$/m);
    expect(r.stdout).toMatch(/^└─ db-2\s+running\s+[\d.]+m?s\s+\d+[smhd]$/m);
    // The branch's console: `date` lines, going on from the source's.
    expect(r.stdout).toMatch(/\d\d:\d\d:\d\d/);
  });
});
