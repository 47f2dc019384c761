// The throwaway PostgreSQL clusters the tests use (test/helpers/postgres.ts) leave nothing behind:
// stop() ends every process of the cluster and removes its directory, and a test process killed
// without calling it (SIGKILL, as a crashed or timed-out jest worker) has its watchdog do the same.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { buildSync } from "esbuild";
import { startPostgres } from "../helpers/postgres";

/** Pids of processes whose command line mentions `text` (the cluster's `-D <dir>/data`, the watchdog's script). */
function processesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(text)) out.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Resolves once `done()` holds; fails after `ms`. */
async function eventually(what: string, done: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms / 1000}s: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Helper processes the tests started: killed at the end also when an assertion failed (their watchdogs clean up after them).
const children: ReturnType<typeof spawn>[] = [];
afterAll(() => children.forEach((c) => c.kill("SIGKILL")));

it("stop() ends every process of the cluster and removes its directory", async () => {
  const pg = await startPostgres();
  try {
    expect(pg.psql("SELECT 1 + 1")).toBe("2");
    expect(existsSync(join(pg.dir, `.s.PGSQL.${pg.port}`))).toBe(true);
    expect(processesMentioning(pg.dir).length).toBeGreaterThan(1);
  } finally {
    pg.stop();
  }
  expect(existsSync(pg.dir)).toBe(false);
  await eventually(`no process of ${pg.dir}`, () => processesMentioning(pg.dir).length === 0);
  pg.stop();
});

it("a test process killed without stop() leaves no process and no directory", async () => {
  // The helper run by a plain Node.js process, as a jest worker runs it.
  const code = buildSync({
    stdin: {
      contents: `require(${JSON.stringify(join(__dirname, "..", "helpers", "postgres.ts"))}).startPostgres().then((pg) => {
        process.stdout.write(JSON.stringify({ dir: pg.dir }) + "\\n");
        setInterval(() => {}, 60_000);
      });`,
      resolveDir: __dirname,
      loader: "ts",
    },
    bundle: true,
    platform: "node",
    format: "cjs",
    write: false,
    logLevel: "warning",
  }).outputFiles[0]!.text;
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((r) => child.once("exit", r));
  children.push(child);
  const { dir } = await new Promise<{ dir: string }>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) resolve(JSON.parse(out.split("\n")[0]!) as { dir: string });
    });
    child.once("exit", (c) => reject(new Error(`the helper's process ended (${c}) before its cluster ran`)));
  });
  expect(existsSync(join(dir, "data", "postmaster.pid"))).toBe(true);
  expect(processesMentioning(dir).length).toBeGreaterThan(1);
  child.kill("SIGKILL");
  await exited;
  await eventually(`${dir} removed and no process of it left`, () => !existsSync(dir) && processesMentioning(dir).length === 0);
}, 120_000);
