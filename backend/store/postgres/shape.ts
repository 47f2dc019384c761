/**
 * The shape of a schema as either engine reports it from its catalog: tables with their columns
 * (name, order, kind, nullability), primary and unique keys, named indexes, foreign keys, CHECK
 * constraints, triggers and views; and the differences between two shapes. `store migrate` copies
 * only when SQLite's and PostgreSQL's shapes agree, and the tests compare them on real databases.
 */
import type { Db } from "../db";
import type { Sql } from "./connection";
import { SCHEMA_VERSION_TABLE } from "./schema";

/**
 * What a column holds, the same on both engines: SQLite's INTEGER is PostgreSQL's BIGINT, or
 * BOOLEAN for a 0/1 flag (`integer` here too); REAL is DOUBLE PRECISION.
 */
export type ColumnKind = "text" | "integer" | "real";

/** One column. `type` is the engine's own name for it (PostgreSQL's decides how values are copied). */
export interface ColumnShape {
  name: string;
  kind: ColumnKind;
  type: string;
  notNull: boolean;
}

/** One table. Lists are sorted, so equal tables have equal shapes. */
export interface TableShape {
  columns: ColumnShape[];
  primaryKey: string[];
  /** Unique keys other than the primary key, as column lists ("host_port,protocol"). */
  unique: string[];
  /** Indexes made by CREATE [UNIQUE] INDEX, by name. */
  indexes: string[];
  /** "column -> table.column". */
  foreignKeys: string[];
  checks: number;
  triggers: string[];
}

/** A schema: its tables by name and its views. */
export interface SchemaShape {
  tables: Record<string, TableShape>;
  views: string[];
}

function kindOf(type: string): ColumnKind {
  const t = type.toLowerCase();
  if (t === "text") return "text";
  if (t === "integer" || t === "bigint" || t === "boolean") return "integer";
  if (t === "real" || t === "double precision") return "real";
  throw new Error(`column type '${type}' has no counterpart on the other engine`);
}

/** The shape of a SQLite database (its own tables, not sqlite_*). */
export function sqliteShape(db: Db): SchemaShape {
  const master = db.prepare(`SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name`).all() as {
    type: string; name: string; tbl_name: string; sql: string | null;
  }[];
  const tables: Record<string, TableShape> = {};
  for (const t of master.filter((m) => m.type === "table")) {
    const info = db.prepare(`SELECT name, type, "notnull" AS nn, pk FROM pragma_table_info(?) ORDER BY cid`).all(t.name) as { name: string; type: string; nn: number; pk: number }[];
    const unique: string[] = [];
    for (const idx of db.prepare(`SELECT name, "unique" AS u, origin FROM pragma_index_list(?)`).all(t.name) as { name: string; u: number; origin: string }[]) {
      if (idx.u !== 1 || idx.origin === "pk") continue;
      const cols = db.prepare(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`).all(idx.name) as { name: string }[];
      unique.push(cols.map((c) => c.name).join(","));
    }
    const fks = db.prepare(`SELECT "from" AS col, "table" AS ref, "to" AS refcol FROM pragma_foreign_key_list(?)`).all(t.name) as { col: string; ref: string; refcol: string }[];
    tables[t.name] = {
      // A PRIMARY KEY column is NOT NULL on PostgreSQL; SQLite allows NULL in a TEXT key but the store never writes one.
      columns: info.map((c) => ({ name: c.name, kind: kindOf(c.type), type: c.type, notNull: c.nn === 1 || c.pk > 0 })),
      primaryKey: info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name),
      unique: unique.sort(),
      indexes: master.filter((m) => m.type === "index" && m.tbl_name === t.name && m.sql !== null).map((m) => m.name).sort(),
      foreignKeys: fks.map((f) => `${f.col} -> ${f.ref}.${f.refcol}`).sort(),
      checks: (t.sql?.match(/\bCHECK\s*\(/gi) ?? []).length,
      triggers: master.filter((m) => m.type === "trigger" && m.tbl_name === t.name).map((m) => m.name).sort(),
    };
  }
  return { tables, views: master.filter((m) => m.type === "view").map((m) => m.name).sort() };
}

/** The shape of the current schema of a PostgreSQL database (without the schema-version table). */
export async function postgresShape(sql: Sql): Promise<SchemaShape> {
  const tableRows = (await sql.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND c.relname <> $1 ORDER BY 1`,
    [SCHEMA_VERSION_TABLE],
  )).rows;
  const columns = (await sql.query<{ tbl: string; name: string; type: string; nullable: string }>(
    `SELECT table_name AS tbl, column_name AS name, data_type AS type, is_nullable AS nullable
       FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`,
  )).rows;
  const indexes = (await sql.query<{ tbl: string; name: string; uniq: boolean; prim: boolean; owned: boolean; cols: string[] }>(
    `SELECT t.relname AS tbl, i.relname AS name, x.indisunique AS uniq, x.indisprimary AS prim,
            EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u')) AS owned,
            ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.n) AS cols
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
      WHERE t.relnamespace = current_schema()::regnamespace`,
  )).rows;
  const fks = (await sql.query<{ tbl: string; col: string; ref: string; refcol: string }>(
    `SELECT t.relname AS tbl, a.attname AS col, r.relname AS ref, ra.attname AS refcol
       FROM pg_constraint c
       CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(attnum, refnum)
       JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
       JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.refnum
      WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace`,
  )).rows;
  const checks = (await sql.query<{ tbl: string; n: number }>(
    `SELECT t.relname AS tbl, count(*)::int AS n FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
      WHERE c.contype = 'c' AND c.connamespace = current_schema()::regnamespace GROUP BY t.relname`,
  )).rows;
  const triggers = (await sql.query<{ tbl: string; name: string }>(
    `SELECT t.relname AS tbl, g.tgname AS name FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid
      WHERE NOT g.tgisinternal AND t.relnamespace = current_schema()::regnamespace`,
  )).rows;
  const views = (await sql.query<{ name: string }>(`SELECT viewname AS name FROM pg_views WHERE schemaname = current_schema() ORDER BY 1`)).rows;

  const tables: Record<string, TableShape> = {};
  for (const { name } of tableRows) {
    const pk = indexes.find((i) => i.tbl === name && i.prim);
    tables[name] = {
      columns: columns.filter((c) => c.tbl === name).map((c) => ({ name: c.name, kind: kindOf(c.type), type: c.type, notNull: c.nullable === "NO" })),
      primaryKey: pk?.cols ?? [],
      unique: indexes.filter((i) => i.tbl === name && i.uniq && !i.prim).map((i) => i.cols.join(",")).sort(),
      indexes: indexes.filter((i) => i.tbl === name && !i.owned).map((i) => i.name).sort(),
      foreignKeys: fks.filter((f) => f.tbl === name).map((f) => `${f.col} -> ${f.ref}.${f.refcol}`).sort(),
      checks: checks.find((c) => c.tbl === name)?.n ?? 0,
      triggers: triggers.filter((t) => t.tbl === name).map((t) => t.name).sort(),
    };
  }
  return { tables, views: views.map((v) => v.name) };
}

/** Where two shapes differ, one line each ("instances: column state: …"); empty when they agree. */
export function shapeDifferences(a: SchemaShape, b: SchemaShape, names: [string, string] = ["SQLite", "PostgreSQL"]): string[] {
  const out: string[] = [];
  const [an, bn] = names;
  const show = (v: unknown) => JSON.stringify(v);
  for (const t of Object.keys(a.tables)) if (!b.tables[t]) out.push(`table ${t}: only in ${an}`);
  for (const t of Object.keys(b.tables)) if (!a.tables[t]) out.push(`table ${t}: only in ${bn}`);
  for (const [t, ta] of Object.entries(a.tables)) {
    const tb = b.tables[t];
    if (!tb) continue;
    const colsA = ta.columns.map(({ name, kind, notNull }) => ({ name, kind, notNull }));
    const colsB = tb.columns.map(({ name, kind, notNull }) => ({ name, kind, notNull }));
    if (show(colsA) !== show(colsB)) out.push(`${t}: columns ${show(colsA)} in ${an}, ${show(colsB)} in ${bn}`);
    for (const key of ["primaryKey", "unique", "indexes", "foreignKeys", "checks", "triggers"] as const) {
      if (show(ta[key]) !== show(tb[key])) out.push(`${t}: ${key} ${show(ta[key])} in ${an}, ${show(tb[key])} in ${bn}`);
    }
  }
  if (show(a.views) !== show(b.views)) out.push(`views ${show(a.views)} in ${an}, ${show(b.views)} in ${bn}`);
  return out;
}
