/**
 * A throwaway PostgreSQL 15 cluster for tests: a cluster in a temporary directory, `pg_ctl start`
 * listening only on a unix socket in that directory (no TCP), on a port nobody else uses, and
 * `pg_ctl stop -m immediate` plus removal of the directory afterwards, also when the test failed
 * or its process died without calling `stop` (a watchdog process does it then). PostgreSQL refuses to run as root, so when tests
 * run as root the cluster belongs to `nobody` (setpriv), which owns the directory. `initdb` runs once
 * per PostgreSQL version and set of options: its result is kept in the repository's `.cache` and
 * each cluster starts from a copy of it (a copy takes a tenth of what `initdb` takes).
 */
import { execFile, execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chownSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Where Debian's postgresql-15 puts its server binaries (scripts/setup installs it). */
export const PG_BIN = process.env.VMBRANCH_PG_BIN ?? "/usr/lib/postgresql/15/bin";

/** The superuser of a test cluster (trust authentication over its private socket). */
const SUPERUSER = "vmbranch";

/** How every test cluster is initialised. */
const INITDB_ARGS = ["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"];

/** Where initialised clusters are kept for copying: beside the guest images, kept across runs. */
const TEMPLATE_PARENT = join(__dirname, "..", "..", ".cache");

/** A tool of PG_BIN, run as the clusters' owner. */
type RunTool = (tool: string, args: string[]) => string;

/**
 * The data directory of an initialised cluster to copy, made on first use. It is made in a temp
 * directory (which the owner can always write) and then moved into place under a name of its
 * version and options, so a changed option or a new PostgreSQL gets a template of its own, and two
 * test processes making it at once both end up with one whole template.
 */
function clusterTemplate(run: RunTool): string {
  const version = run("postgres", ["--version"]).trim();
  const key = createHash("sha256").update(`${version}\0${INITDB_ARGS.join("\0")}\0${process.getuid?.()}`).digest("hex").slice(0, 16);
  const template = join(TEMPLATE_PARENT, `postgres-template-${key}`);
  if (existsSync(join(template, "PG_VERSION"))) return template;
  const scratch = mkdtempSync(join(tmpdir(), "vmbranch-pg-"));
  const partial = `${template}.partial-${process.pid}`;
  try {
    const owner = clusterOwner();
    if (owner) chownSync(scratch, owner.uid, owner.gid);
    run("initdb", ["-D", join(scratch, "data"), ...INITDB_ARGS]);
    mkdirSync(TEMPLATE_PARENT, { recursive: true });
    copyCluster(join(scratch, "data"), partial);
    try {
      renameSync(partial, template);
    } catch (err) {
      // Another test process put its template in place first: that one is as good.
      if (!existsSync(join(template, "PG_VERSION"))) throw err;
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(partial, { recursive: true, force: true });
  }
  return template;
}

/** Copy a data directory with its owner and modes (PostgreSQL refuses a data dir others can read). */
function copyCluster(from: string, to: string): void {
  const res = spawnSync("cp", ["-a", from, to], { encoding: "utf8" });
  if (res.status !== 0) throw new Error(`cp -a ${from} ${to} failed (${res.status ?? res.signal}): ${res.stderr}`);
}

/** A running test cluster. */
export interface TestPostgres {
  /** The directory holding the cluster (`data/`), its socket and its log. */
  dir: string;
  /** The port (also the socket's name: `<dir>/.s.PGSQL.<port>`). */
  port: number;
  /** A connection URL for database `db` (default `postgres`) over the socket. */
  url(db?: string): string;
  /** Run SQL with psql as the superuser and return its unaligned, tuples-only output. */
  psql(sql: string, db?: string): string;
  /** A new empty database; returns its URL. */
  createDatabase(name: string): string;
  /** Stop the server as a crash would (immediate), keeping the cluster; `start` brings it back on the same socket. */
  halt(): void;
  /** Start a halted cluster again. */
  start(): void;
  /**
   * `pg_ctl restart -m immediate` (every session cut as by a crash, then the server started again
   * on the same socket), without blocking the test's event loop: its clients go on meanwhile.
   */
  restart(): Promise<void>;
  /** Stop the cluster (immediate) and remove its directory; safe to call twice. */
  stop(): void;
}

/** The uid and gid the cluster runs as: ours, or `nobody`'s when we are root (initdb refuses root). */
function clusterOwner(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const uid = Number(execFileSync("id", ["-u", "nobody"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "nobody"], { encoding: "utf8" }).trim());
  return { uid, gid };
}

/** A TCP port free on 127.0.0.1 right now: the cluster listens on no TCP port, but its socket is named after it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Start a throwaway cluster. Call `stop()` in `afterAll`; a test process that dies without it has it stopped by a watchdog. */
export async function startPostgres(): Promise<TestPostgres> {
  for (const tool of ["initdb", "pg_ctl", "postgres", "psql"]) {
    if (!existsSync(join(PG_BIN, tool))) throw new Error(`${join(PG_BIN, tool)} is missing: PostgreSQL 15 is not installed (scripts/setup installs Debian's postgresql-15)`);
  }
  const owner = clusterOwner();
  // PostgreSQL's binaries run as the owner; psql too, so the socket's peer is the same user either way.
  const as = (tool: string, args: string[]): [string, string[]] =>
    owner ? ["setpriv", [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, "--clear-groups", join(PG_BIN, tool), ...args]] : [join(PG_BIN, tool), args];
  const run: RunTool = (tool, args) => {
    const [exe, argv] = as(tool, args);
    const res = spawnSync(exe, argv, { encoding: "utf8", cwd: "/", env: { ...process.env, LC_ALL: "C", PGTZ: "UTC" } });
    if (res.status !== 0) throw new Error(`${tool} ${args.join(" ")} failed (${res.status ?? res.signal}): ${res.stderr || res.stdout}`);
    return res.stdout;
  };

  // Short path: the socket path must fit in 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), "vmbranch-pg-"));
  const data = join(dir, "data");
  // Immediate: nothing of a throwaway cluster needs a clean shutdown checkpoint.
  const stopCommand = as("pg_ctl", ["stop", "-D", data, "-m", "immediate", "-w"]);
  // The safety net for a test process that dies without calling stop() (a crash, SIGKILL, a
  // killed jest worker): a watchdog in a session of its own reads a pipe only we hold; the kernel
  // closes it when we die, and the watchdog then stops the cluster and removes the directory.
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const watchdog = spawn("sh", ["-c", `cat >/dev/null; [ -f ${quote(join(data, "postmaster.pid"))} ] && ${[stopCommand[0], ...stopCommand[1]].map(quote).join(" ")}; rm -rf -- ${quote(dir)}`], {
    stdio: ["pipe", "ignore", "ignore"],
    detached: true,
    cwd: "/",
  });
  watchdog.unref();
  (watchdog.stdin as unknown as { unref(): void }).unref();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    // We stop it ourselves: the watchdog (its whole session: sh and cat) goes first.
    try {
      process.kill(-watchdog.pid!, "SIGKILL");
    } catch {
      /* already gone */
    }
    watchdog.stdin?.destroy();
    if (existsSync(join(data, "postmaster.pid"))) spawnSync(stopCommand[0], stopCommand[1], { cwd: "/", stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (owner) chownSync(dir, owner.uid, owner.gid);
    const port = await freePort();
    copyCluster(clusterTemplate(run), data);
    // No TCP at all (listen_addresses empty): only the socket in the private directory. No huge
    // pages: PostgreSQL's default (`try`) would take its shared memory (~70 pages) from the pool a
    // `--huge-pages` test next to it counts.
    const options = `-c listen_addresses='' -c port=${port} -c unix_socket_directories='${dir}' -c fsync=off -c max_connections=40 -c huge_pages=off`;
    const start = () => run("pg_ctl", ["start", "-D", data, "-w", "-t", "60", "-l", join(dir, "postgres.log"), "-o", options]);
    start();
    const url = (db = "postgres") => `postgresql://${SUPERUSER}@localhost:${port}/${db}?host=${encodeURIComponent(dir)}`;
    const psql = (sql: string, db = "postgres") =>
      run("psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", dir, "-p", String(port), "-U", SUPERUSER, "-d", db, "-c", sql]).trim();
    return {
      dir,
      port,
      url,
      psql,
      createDatabase(name) {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
        psql(`CREATE DATABASE ${name}`);
        return url(name);
      },
      halt: () => run("pg_ctl", ["stop", "-D", data, "-m", "immediate", "-w"]),
      start,
      restart: () =>
        new Promise<void>((resolve, reject) => {
          const [exe, argv] = as("pg_ctl", ["restart", "-D", data, "-m", "immediate", "-w", "-t", "60", "-l", join(dir, "postgres.log"), "-o", options]);
          execFile(exe, argv, { cwd: "/", env: { ...process.env, LC_ALL: "C", PGTZ: "UTC" } }, (err, stdout, stderr) =>
            err ? reject(new Error(`pg_ctl restart failed: ${stderr || stdout || err.message}`)) : resolve(),
          );
        }),
      stop,
    };
  } catch (err) {
    stop();
    throw err;
  }
}
