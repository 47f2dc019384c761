// The store on PostgreSQL, against a real throwaway PostgreSQL 15 cluster (test/helpers/postgres.ts):
// both engines' migrations build the same schema (tables, columns, keys, indexes, triggers), their
// history triggers record the same transitions, and their data changes leave the same rows;
// `vmbranch store migrate` copies a state a real `vmbranch serve` made (volumes, a volume template
// and its clone, instances with volumes and ports, an instance template, histories, a journal row)
// and reads back equal, leaving the SQLite file as it was; a non-empty target is refused and left
// unchanged; a bad URL and a data dir in use give clear errors.
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { openDatabase } from "../../backend/store/db";
import { MIGRATIONS } from "../../backend/store/migrations";
import { POSTGRES_MIGRATIONS } from "../../backend/store/postgres/migrations";
import { migratePostgres, SCHEMA_VERSION_TABLE } from "../../backend/store/postgres/schema";
import { postgresShape, shapeDifferences, sqliteShape } from "../../backend/store/postgres/shape";
import { Store } from "../../backend/store/store";
import { CLI, startBackend, type TestBackend } from "../helpers/backend";
import { startPostgres, type TestPostgres } from "../helpers/postgres";

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);
afterAll(() => pg?.stop());

/** Run `fn` with a client on database `url`, closed afterwards. */
async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** `vmbranch store migrate` (the built CLI) with `args`; its exit code and output. */
function migrate(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, "store", "migrate", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    proc.once("error", reject);
    proc.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every row of every table, each as its values in text (flags as 1/0), sorted: what both engines must agree on. */
function sqliteContent(file: string): Record<string, string[]> {
  const db = new Database(file, { readonly: true });
  try {
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as { name: string }[]).map((t) => t.name);
    return Object.fromEntries(tables.map((t) => [t, (db.prepare(`SELECT * FROM "${t}"`).raw(true).safeIntegers(true).all() as unknown[][]).map((r) => JSON.stringify(r.map(text))).sort()]));
  } finally {
    db.close();
  }
}

async function postgresContent(c: Client, tables: string[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const t of tables) out[t] = (await c.query({ text: `SELECT * FROM "${t}"`, rowMode: "array" })).rows.map((r: unknown[]) => JSON.stringify(r.map(text))).sort();
  return out;
}

function text(v: unknown): string | null {
  if (v === null) return null;
  if (typeof v === "boolean") return v ? "1" : "0";
  return String(v);
}

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("the PostgreSQL schema", () => {
  it("is the SQLite schema: same tables, columns, keys, indexes, checks and triggers, at the same version", async () => {
    const sqlite = openDatabase(":memory:");
    const url = pg.createDatabase("schema_shape");
    await withClient(url, async (c) => {
      expect(await migratePostgres(c)).toEqual({ from: 0, to: MIGRATIONS.length });
      const [a, b] = [sqliteShape(sqlite), await postgresShape(c)];
      expect(shapeDifferences(a, b)).toEqual([]);
      expect(Object.keys(b.tables).sort()).toEqual(
        ["attachments", "disk_copies", "disks", "hosts", "instance_transitions", "instances", "operations", "ports", "snapshot_disks", "snapshots", "terms", "volumes"],
      );
      expect(b.tables.instances!.triggers).toEqual(["instance_transition_changed", "instance_transition_created", "instance_transition_forgotten", "instance_transition_templated"]);
      expect(b.tables.ports!.unique).toEqual(["host_port,protocol"]);
      expect(b.tables.instances!.indexes).toContain("instances_host");
      expect(b.tables.hosts!.checks).toBe(1);
      // Migrating again changes nothing; every version is recorded once.
      expect(await migratePostgres(c)).toEqual({ from: MIGRATIONS.length, to: MIGRATIONS.length });
      expect((await c.query(`SELECT version FROM ${SCHEMA_VERSION_TABLE} ORDER BY version`)).rows.map((r) => r.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    });
    sqlite.close();
  });

  it("finds a column that differs", async () => {
    const sqlite = openDatabase(":memory:");
    const url = pg.createDatabase("schema_drift");
    await withClient(url, async (c) => {
      await migratePostgres(c);
      await c.query(`ALTER TABLE volumes ADD COLUMN extra TEXT`);
      await c.query(`ALTER TABLE ports ALTER COLUMN requested DROP NOT NULL`);
      expect(shapeDifferences(sqliteShape(sqlite), await postgresShape(c))).toEqual([
        expect.stringMatching(/^ports: columns .*"requested","kind":"integer","notNull":true.* in SQLite, .*"requested","kind":"integer","notNull":false.* in PostgreSQL$/),
        expect.stringMatching(/^volumes: columns .* in SQLite, .*"extra".* in PostgreSQL$/),
      ]);
    });
    sqlite.close();
  });

  it("records the same history on both engines: creation, state changes, template conversion, forgetting", async () => {
    const sqlite = openDatabase(":memory:");
    const url = pg.createDatabase("schema_history");
    const steps = [
      `INSERT INTO instances (uuid, name, state, image, memory_mb, vcpus, args, env, hostname, mac, smbios_serial, created_at)
       VALUES ('u1', 'one', 'stopped', 'base', 64, 1, '[]', '{}', 'one', 'm', 's', '2026-01-01T00:00:00.000Z')`,
      `UPDATE instances SET state = 'starting' WHERE uuid = 'u1'`,
      `UPDATE instances SET state = 'starting', tags = '["same state: no transition"]' WHERE uuid = 'u1'`,
      `UPDATE instances SET state = 'stopped', stop_reason = 'user', exit_code = 3 WHERE uuid = 'u1'`,
      `UPDATE instances SET is_template = ${"$flag"} WHERE uuid = 'u1'`,
      `INSERT INTO instances (uuid, name, state, image, memory_mb, vcpus, args, env, hostname, mac, smbios_serial, created_at)
       VALUES ('u2', 'two', 'stopped', 'base', 64, 1, '[]', '{}', 'two', 'm', 's', '2026-01-01T00:00:00.000Z')`,
      `DELETE FROM instances WHERE uuid = 'u2'`,
    ];
    const query = `SELECT instance_uuid, from_state, to_state, stop_reason, exit_code FROM instance_transitions ORDER BY id`;
    for (const s of steps) sqlite.exec(s.replace("$flag", "1"));
    const fromSqlite = (sqlite.prepare(query).all() as Record<string, unknown>[]).map((r) => ({ ...r, exit_code: r.exit_code === null ? null : String(r.exit_code) }));
    const fromPostgres = await withClient(url, async (c) => {
      await migratePostgres(c);
      for (const s of steps) await c.query(s.replace("$flag", "true"));
      return (await c.query(query)).rows;
    });
    expect(fromSqlite).toEqual([
      { instance_uuid: "u1", from_state: null, to_state: "stopped", stop_reason: null, exit_code: null },
      { instance_uuid: "u1", from_state: "stopped", to_state: "starting", stop_reason: null, exit_code: null },
      { instance_uuid: "u1", from_state: "starting", to_state: "stopped", stop_reason: "user", exit_code: "3" },
      { instance_uuid: "u1", from_state: "stopped", to_state: "template", stop_reason: "user", exit_code: "3" },
    ]);
    expect(fromPostgres).toEqual(fromSqlite);
    // The time is written by the database, in SQLite's format.
    await withClient(url, async (c) => {
      for (const { at } of (await c.query(`SELECT at FROM instance_transitions`)).rows) expect(at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });
    sqlite.close();
  });
});

describe("the PostgreSQL migrations' data changes", () => {
  it("move volume templates to their flag as SQLite's do (migration 6): state available, the flag set, other volumes untouched", async () => {
    const url = pg.createDatabase("volume_template_flag");
    const rows = [
      ["v1", "golden", "template"],
      ["v2", "plain", "available"],
      ["v3", "broken", "error"],
    ].map(([uuid, name, state]) =>
      `INSERT INTO volumes (uuid, name, kind, state, persistent, created_at) VALUES ('${uuid}', '${name}', 'block', '${state}', $true, '2026-01-01T00:00:00.000Z')`);
    const query = `SELECT uuid, state, is_template FROM volumes ORDER BY uuid`;
    const sqlite = new Database(":memory:");
    for (const sql of MIGRATIONS.slice(0, 5)) sqlite.exec(sql);
    for (const r of rows) sqlite.exec(r.replace("$true", "1"));
    sqlite.exec(MIGRATIONS[5]!);
    const fromSqlite = (sqlite.prepare(query).all() as { is_template: number }[]).map((r) => ({ ...r, is_template: r.is_template === 1 }));
    sqlite.close();
    const fromPostgres = await withClient(url, async (c) => {
      for (const sql of POSTGRES_MIGRATIONS.slice(0, 5)) await c.query(sql);
      for (const r of rows) await c.query(r.replace("$true", "true"));
      await c.query(POSTGRES_MIGRATIONS[5]!);
      return (await c.query(query)).rows;
    });
    expect(fromSqlite).toEqual([
      { uuid: "v1", state: "available", is_template: true },
      { uuid: "v2", state: "available", is_template: false },
      { uuid: "v3", state: "error", is_template: false },
    ]);
    expect(fromPostgres).toEqual(fromSqlite);
  });
});

describe("vmbranch store migrate", () => {
  let backend: TestBackend | undefined;
  afterAll(async () => {
    await backend?.stop();
  }, 60_000);

  /** A state made by a real serve, through its API: no guest booted. */
  async function makeState(b: TestBackend): Promise<void> {
    const ok = async (method: string, path: string, body: unknown) => {
      const res = await b.http(method, path, body);
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    };
    await ok("POST", "/v1/volumes", { name: "data", size_mb: 8, tags: ["keep"] });
    await ok("POST", "/v1/volumes", { name: "golden", size_mb: 8 });
    await ok("POST", "/v1/volumes/templates", { name: "golden" });
    await ok("POST", "/v1/volumes/clone", { name: "golden", vol_name: "golden-copy" });
    await b.client.volumes.waitFor("golden-copy", "available", { timeoutMs: 30_000 });
    await ok("POST", "/v1/instances", {
      name: "web", image: "base", autostart: false, tags: ["t"], env: { A: "1", B: "ü ✓ 'q'" }, args: ["sh", "-c", "echo 'quoted' \"x\""],
      volumes: [{ name: "data", at: "/data" }, { size_mb: 8, at: "/scratch" }], ports: [{ guest_port: 8080 }, { guest_port: 53, protocol: "udp" }],
    });
    await ok("POST", "/v1/instances", { name: "cold", image: "base", autostart: false, volumes: [{ name: "golden-copy", at: "/g", readonly: true }] });
    await ok("POST", "/v1/instances", { name: "tpl", image: "base", autostart: false });
    await ok("POST", "/v1/instances/templates", [{ name: "tpl", autokill: { time_ms: 60_000 } }]);
    await ok("PATCH", "/v1/instances/web", [{ prop: "tags", op: "set", value: ["t", "t2"] }]);
  }

  it("copies a real serve's state, reads it back equal and leaves the SQLite file as it was", async () => {
    // The state to copy is the data dir's SQLite file, whatever store the run gives other tests.
    backend = await startBackend({ testStore: false });
    await makeState(backend);
    const url = pg.createDatabase("migrated");

    // Serve owns the data dir while it runs.
    const busy = await migrate(["--data-dir", backend.dataDir, "--to", url]);
    expect(busy.code).toBe(4);
    expect(busy.stderr).toContain(`another vmbranch process (pid ${backend.servePid()}, serve or store migrate) uses ${backend.dataDir}`);

    await backend.halt();
    const file = join(backend.dataDir, "vmbranch.db");
    // A journal row, as an operation in flight leaves it (written by the real store, in the term of the serve that ran).
    const store = Store.open(file);
    const data = store.volumes.all().find((v) => v.name === "data")!;
    const epoch = store.terms.latest()!.epoch;
    store.operations.insert({ id: "op-1", kind: "resize", subject: data.uuid, intent: { kind: "resize", volumeUuid: data.uuid, sizeMb: 16 }, startedAt: "2026-01-01T00:00:00.000Z", epoch });
    store.close();
    // Values a copy through JavaScript numbers would change: an integer beyond 2^53, a third.
    const raw = new Database(file);
    raw.prepare(`UPDATE instances SET pid = 9007199254740993, boot_time_ms = 1.0 / 3 WHERE name = 'cold'`).run();
    raw.close();
    const before = sqliteContent(file);
    const hash = sha256(file);
    // Four heads and layers, one a clone's overlay over the template's layer (a disk naming its parent).
    expect(before.disks!.length).toBe(4);
    expect(before.disks!.filter((r) => JSON.parse(r)[2] !== null)).toHaveLength(1);
    expect(before.instance_transitions!.length).toBeGreaterThanOrEqual(4);
    expect(before.ports!.length).toBe(2);

    const res = await migrate(["--data-dir", backend.dataDir, "--to", url]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`copied ${file} (schema version ${MIGRATIONS.length}) into ${url}; every row of every table read back equal:`);
    for (const [t, rows] of Object.entries(before)) expect(res.stdout).toMatch(new RegExp(`^  ${t} +${rows.length} rows$`, "m"));

    // Read back independently of the command's own comparison.
    await withClient(url, async (c) => {
      expect(await postgresContent(c, Object.keys(before))).toEqual(before);
      // Ids continue after the copied ones; the history triggers work on the copy.
      const maxId = Number((await c.query(`SELECT max(id) AS m FROM instance_transitions`)).rows[0].m);
      await c.query(`UPDATE instances SET state = 'starting' WHERE name = 'web'`);
      const last = (await c.query(`SELECT id, from_state, to_state FROM instance_transitions ORDER BY id DESC LIMIT 1`)).rows[0];
      expect({ ...last, id: Number(last.id) }).toEqual({ id: maxId + 1, from_state: "stopped", to_state: "starting" });
    });
    expect(sha256(file)).toBe(hash);
    expect(sqliteContent(file)).toEqual(before);

    // Again into the same database: refused, and nothing changes.
    const counts = (c: Client) => c.query(`SELECT (SELECT count(*) FROM instances) AS i, (SELECT count(*) FROM instance_transitions) AS t, (SELECT count(*) FROM ${SCHEMA_VERSION_TABLE}) AS v`).then((r) => r.rows[0]);
    const kept = await withClient(url, counts);
    const again = await migrate(["--data-dir", backend.dataDir, "--to", url]);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/^vmbranch store: the target database is not empty \(it has public\.\w+.*\); migrate into a new, empty database; nothing was changed\n$/);
    expect(await withClient(url, counts)).toEqual(kept);
  }, 120_000);

  describe("on a small state", () => {
    // A data dir with an empty state at the current schema, as a first serve leaves it.
    let dataDir: string;
    beforeEach(() => {
      dataDir = mkdtempSync(join(tmpdir(), "vmbranch-migrate-"));
      openDatabase(join(dataDir, "vmbranch.db")).close();
    });
    afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

    it("rolls everything back when a row does not fit, leaving the target empty", async () => {
      const db = openDatabase(join(dataDir, "vmbranch.db"));
      // PostgreSQL's text cannot hold a NUL character; SQLite's can.
      db.prepare(`INSERT INTO operations (id, kind, subject, intent, started_at) VALUES ('op', 'resize', ?, '{}', 'now')`).run("a\0b");
      db.close();
      const url = pg.createDatabase("rolled_back");
      const res = await migrate(["--data-dir", dataDir, "--to", url]);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/^vmbranch store: invalid byte sequence for encoding "UTF8": 0x00/);
      expect(pg.psql(`SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace`, "rolled_back")).toBe("0");
    });

    it("refuses a database that holds anything, and leaves it as it was", async () => {
      const url = pg.createDatabase("occupied");
      pg.psql(`CREATE TABLE keep (x int); INSERT INTO keep VALUES (7)`, "occupied");
      const res = await migrate(["--data-dir", dataDir, "--to", url]);
      expect(res.code).toBe(4);
      expect(res.stderr).toBe("vmbranch store: the target database is not empty (it has public.keep); migrate into a new, empty database; nothing was changed\n");
      expect(pg.psql(`SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace`, "occupied")).toBe("keep");
      expect(pg.psql(`SELECT x FROM keep`, "occupied")).toBe("7");
    });

    it("lets one of two migrates into the same database copy; the other finds it not empty", async () => {
      const other = mkdtempSync(join(tmpdir(), "vmbranch-migrate-"));
      try {
        openDatabase(join(other, "vmbranch.db")).close();
        const url = pg.createDatabase("raced");
        const results = await Promise.all([dataDir, other].map((d) => migrate(["--data-dir", d, "--to", url])));
        expect(results.map((r) => r.code).sort()).toEqual([0, 4]);
        expect(results.find((r) => r.code === 4)!.stderr).toMatch(/^vmbranch store: the target database is not empty \(it has public\./);
        expect(pg.psql(`SELECT count(*) FROM ${SCHEMA_VERSION_TABLE}`, "raced")).toBe(String(MIGRATIONS.length));
      } finally {
        rmSync(other, { recursive: true, force: true });
      }
    });

    it("says clearly what is wrong with a URL it cannot use, without its password", async () => {
      const notPg = await migrate(["--data-dir", dataDir, "--to", "mysql://u:secret@localhost/db"]);
      expect([notPg.code, notPg.stderr]).toEqual([1, "vmbranch store: not a PostgreSQL URL (mysql://…): expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE\n"]);
      const noDb = await migrate(["--data-dir", dataDir, "--to", `postgres://u:secret@localhost:${pg.port}`]);
      expect(noDb.code).toBe(1);
      expect(noDb.stderr).toContain("names no database");
      const missing = await migrate(["--data-dir", dataDir, "--to", pg.url("nosuchdb")]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe(`vmbranch store: cannot connect to PostgreSQL at ${pg.url("nosuchdb")}: database "nosuchdb" does not exist\n`);
      // Nothing listens on the socket of a port the cluster does not use.
      const nobody = `postgres://u:secret@localhost:${pg.port + 1}/db?host=${encodeURIComponent(pg.dir)}`;
      const refused = await migrate(["--data-dir", dataDir, "--to", nobody]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^vmbranch store: cannot connect to PostgreSQL at postgres:\/\/u:\*\*\*@localhost:\d+\/db\?host=\S+: .*(ENOENT|ECONNREFUSED)/);
      for (const r of [notPg, noDb, refused]) expect(r.stderr).not.toContain("secret");
      const usage = await migrate(["--data-dir", dataDir]);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain("--to postgres://… is required");
    }, 30_000);

    it("says when the data dir holds no state", async () => {
      rmSync(join(dataDir, "vmbranch.db"));
      const res = await migrate(["--data-dir", dataDir, "--to", pg.url("postgres")]);
      expect([res.code, res.stderr]).toEqual([1, `vmbranch store: no state to migrate: ${join(dataDir, "vmbranch.db")} does not exist\n`]);
    });
  });
});
