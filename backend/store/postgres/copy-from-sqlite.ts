/**
 * Copying a SQLite state into an empty PostgreSQL database (`vmbranch store migrate`): in one
 * PostgreSQL transaction, refuse a database that holds anything, create the schema, check that
 * both engines' schemas agree, copy every table, then read every row of every table back from
 * both and compare them value by value. Any failure or difference rolls the whole transaction
 * back, so the target is left as empty as it was.
 */
import { types, type Client } from "pg";
import { MIGRATIONS } from "../migrations";
import type { Db } from "../db";
import type { Sql } from "./connection";
import { applyPostgresMigrations, SCHEMA_LOCK_KEY } from "./schema";
import { postgresShape, shapeDifferences, sqliteShape, type SchemaShape, type TableShape } from "./shape";

/** Rows per table on each side after the copy. */
export interface TableCount {
  table: string;
  sqlite: number;
  postgres: number;
}

/** The target database already holds relations or functions: nothing was changed. */
export class TargetNotEmpty extends Error {
  override name = "TargetNotEmpty";
  constructor(readonly objects: string[]) {
    super(`the target database is not empty (it has ${objects.slice(0, 5).join(", ")}${objects.length > 5 ? ", …" : ""}); migrate into a new, empty database`);
  }
}

/** The read-back found rows that differ between the engines: the copy was rolled back. */
export class CopyMismatch extends Error {
  override name = "CopyMismatch";
  constructor(readonly differences: string[]) {
    super(`the copy does not read back equal, rolled back:\n  ${differences.slice(0, 10).join("\n  ")}${differences.length > 10 ? `\n  … and ${differences.length - 10} more` : ""}`);
  }
}

/** A value of either engine in one form both can be compared in: flags as booleans, integers as bigint. */
type Value = string | number | bigint | boolean | null;

/** PostgreSQL's BIGINT read as bigint (pg gives strings by default), so no integer is rounded. */
const exactTypes = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === types.builtins.INT8 ? (v: string) => BigInt(v) : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
};

/** Relations and functions in the database's own schemas (anything but PostgreSQL's catalogs). */
async function existingObjects(sql: Sql): Promise<string[]> {
  const res = await sql.query<{ name: string }>(
    `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
     UNION ALL
     SELECT n.nspname || '.' || p.proname || '()' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
     ORDER BY 1`,
  );
  return res.rows.map((r) => r.name);
}

/** Tables in an order where every table comes after the tables its foreign keys name. */
function copyOrder(shape: SchemaShape): string[] {
  const done: string[] = [];
  const pending = new Set(Object.keys(shape.tables).sort());
  while (pending.size > 0) {
    const ready = [...pending].filter((t) => shape.tables[t]!.foreignKeys.every((fk) => {
      const ref = fk.split(" -> ")[1]!.split(".")[0]!;
      return ref === t || done.includes(ref);
    }));
    if (ready.length === 0) throw new Error(`the foreign keys of ${[...pending].join(", ")} form a cycle: no order to copy them in`);
    for (const t of ready) {
      done.push(t);
      pending.delete(t);
    }
  }
  return done;
}

/** A SQLite value in the form PostgreSQL's column type `type` reads back as. */
function canonical(value: unknown, type: string, where: string): Value {
  if (value === null || value === undefined) return null;
  switch (type) {
    case "boolean":
      if (value === 0n || value === 1n) return value === 1n;
      break;
    case "bigint":
    case "integer":
      if (typeof value === "bigint") return value;
      if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
      break;
    case "double precision":
      if (typeof value === "number") return value;
      if (typeof value === "bigint") return Number(value);
      break;
    case "text":
      if (typeof value === "string") return value;
      break;
  }
  throw new Error(`${where}: ${typeof value} ${String(value)} does not fit PostgreSQL's ${type}`);
}

/** Every row of a SQLite table, keyed by its primary key, in PostgreSQL's value forms. */
function sqliteRows(db: Db, table: string, shape: TableShape): Map<string, Value[]> {
  const stmt = db.prepare(`SELECT ${shape.columns.map((c) => `"${c.name}"`).join(", ")} FROM "${table}"`).raw(true).safeIntegers(true);
  const keyAt = shape.primaryKey.map((k) => shape.columns.findIndex((c) => c.name === k));
  const rows = new Map<string, Value[]>();
  for (const raw of stmt.all() as unknown[][]) {
    const row = raw.map((v, i) => canonical(v, shape.columns[i]!.type, `${table}.${shape.columns[i]!.name}`));
    rows.set(keyOf(row, keyAt), row);
  }
  return rows;
}

/** Every row of a PostgreSQL table, keyed by its primary key. */
async function postgresRows(sql: Sql, table: string, shape: TableShape): Promise<Map<string, Value[]>> {
  const res = await sql.query<Value[]>({ text: `SELECT ${shape.columns.map((c) => `"${c.name}"`).join(", ")} FROM "${table}"`, rowMode: "array", types: exactTypes });
  const keyAt = shape.primaryKey.map((k) => shape.columns.findIndex((c) => c.name === k));
  return new Map(res.rows.map((row) => [keyOf(row, keyAt), row]));
}

function keyOf(row: Value[], keyAt: number[]): string {
  return JSON.stringify(keyAt.map((i) => String(row[i])));
}

/** Rows of a table with a foreign key to itself (disks' parent), parents first. */
function parentsFirst(rows: Value[][], shape: TableShape, table: string): Value[][] {
  const self = shape.foreignKeys.map((fk) => fk.split(" -> ")).filter(([, ref]) => ref!.split(".")[0] === table);
  if (self.length === 0) return rows;
  const links = self.map(([col, ref]) => [shape.columns.findIndex((c) => c.name === col), shape.columns.findIndex((c) => c.name === ref!.split(".")[1])] as const);
  const placed = new Set<string>();
  const out: Value[][] = [];
  let left = rows;
  while (left.length > 0) {
    const next = left.filter((r) => links.every(([col, ref]) => r[col] === null || placed.has(`${ref}:${String(r[col])}`) || r[col] === r[ref]));
    if (next.length === 0) throw new Error(`${table}: ${left.length} rows reference rows that are not there`);
    for (const r of next) {
      out.push(r);
      for (const [, ref] of links) placed.add(`${ref}:${String(r[ref])}`);
    }
    const moved = new Set(next);
    left = left.filter((r) => !moved.has(r));
  }
  return out;
}

/** A value as a query parameter: bigint as its digits (pg sends them as text, PostgreSQL reads them exactly). */
function param(v: Value): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}

async function insertAll(sql: Sql, table: string, shape: TableShape, rows: Value[][]): Promise<void> {
  const cols = shape.columns.map((c) => `"${c.name}"`).join(", ");
  // PostgreSQL takes at most 65535 parameters per statement.
  const perBatch = Math.max(1, Math.min(500, Math.floor(60_000 / shape.columns.length)));
  for (let i = 0; i < rows.length; i += perBatch) {
    const batch = rows.slice(i, i + perBatch);
    const values = batch.map((_, r) => `(${shape.columns.map((c, j) => `$${r * shape.columns.length + j + 1}::${c.type}`).join(", ")})`);
    await sql.query(`INSERT INTO "${table}" (${cols}) VALUES ${values.join(", ")}`, batch.flat().map(param));
  }
}

/** Identity columns continue after the highest id SQLite ever gave (AUTOINCREMENT never reuses one). */
async function continueIdentities(db: Db, sql: Sql, shape: SchemaShape): Promise<void> {
  const identities = (await sql.query<{ tbl: string; col: string }>(
    `SELECT table_name AS tbl, column_name AS col FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'`,
  )).rows.filter((r) => shape.tables[r.tbl]);
  const hasSequence = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'`).get() !== undefined;
  for (const { tbl, col } of identities) {
    const max = (db.prepare(`SELECT max("${col}") FROM "${tbl}"`).pluck().safeIntegers(true).get() as bigint | null) ?? 0n;
    const seq = hasSequence ? ((db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = ?`).pluck().safeIntegers(true).get(tbl) as bigint | undefined) ?? 0n) : 0n;
    const last = max > seq ? max : seq;
    if (last > 0n) await sql.query(`SELECT setval(pg_get_serial_sequence($1, $2), $3::bigint, true)`, [tbl, col, last.toString()]);
  }
}

function sameValue(a: Value, b: Value): boolean {
  return a === b || (typeof a === "number" && typeof b === "number" && Number.isNaN(a) && Number.isNaN(b));
}

/** Differences between the rows of one table on both engines, one line each. */
function compareRows(table: string, shape: TableShape, a: Map<string, Value[]>, b: Map<string, Value[]>): string[] {
  const out: string[] = [];
  for (const [key, row] of a) {
    const other = b.get(key);
    if (!other) {
      out.push(`${table} ${key}: missing in PostgreSQL`);
      continue;
    }
    shape.columns.forEach((c, i) => {
      if (!sameValue(row[i]!, other[i]!)) out.push(`${table} ${key}: ${c.name} is ${String(row[i])} in SQLite, ${String(other[i])} in PostgreSQL`);
    });
  }
  for (const key of b.keys()) if (!a.has(key)) out.push(`${table} ${key}: only in PostgreSQL`);
  return out;
}

/**
 * Copy the state in `source` (a SQLite database at the current schema version) into the empty
 * database `target` is connected to, and verify it by reading everything back. Throws
 * TargetNotEmpty (nothing changed), CopyMismatch or the engine's error (all rolled back).
 */
export async function copySqliteToPostgres(source: Db, target: Client): Promise<TableCount[]> {
  const version = source.pragma("user_version", { simple: true }) as number;
  if (version !== MIGRATIONS.length) throw new Error(`the SQLite state is at schema version ${version}, not ${MIGRATIONS.length}: bring it up to date first`);
  await target.query("BEGIN");
  try {
    // Taken first: a second migrate into the same database waits here, then finds it not empty.
    await target.query(`SELECT pg_advisory_xact_lock($1)`, [SCHEMA_LOCK_KEY]);
    const objects = await existingObjects(target);
    if (objects.length > 0) throw new TargetNotEmpty(objects);
    await applyPostgresMigrations(target);
    const from = sqliteShape(source);
    const to = await postgresShape(target);
    const differences = shapeDifferences(from, to);
    if (differences.length > 0) throw new Error(`the SQLite and PostgreSQL schemas differ:\n  ${differences.join("\n  ")}`);

    const order = copyOrder(to);
    // The history triggers would record the copied instances' creation again: the transitions
    // table is copied as it is instead. ALTER TABLE is transactional; the triggers are back at commit.
    for (const t of order) if (to.tables[t]!.triggers.length > 0) await target.query(`ALTER TABLE "${t}" DISABLE TRIGGER USER`);
    for (const t of order) {
      const rows = [...sqliteRows(source, t, to.tables[t]!).values()];
      await insertAll(target, t, to.tables[t]!, parentsFirst(rows, to.tables[t]!, t));
    }
    for (const t of order) if (to.tables[t]!.triggers.length > 0) await target.query(`ALTER TABLE "${t}" ENABLE TRIGGER USER`);
    await continueIdentities(source, target, to);

    // The read-back: every row of every table, from both engines, compared value by value.
    const counts: TableCount[] = [];
    const mismatches: string[] = [];
    for (const t of order) {
      const a = sqliteRows(source, t, to.tables[t]!);
      const b = await postgresRows(target, t, to.tables[t]!);
      counts.push({ table: t, sqlite: a.size, postgres: b.size });
      mismatches.push(...compareRows(t, to.tables[t]!, a, b));
    }
    if (mismatches.length > 0) throw new CopyMismatch(mismatches);
    await target.query("COMMIT");
    return counts;
  } catch (err) {
    await target.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}
