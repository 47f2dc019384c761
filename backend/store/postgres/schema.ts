/**
 * Applying the PostgreSQL migrations (./migrations.ts) and recording them in a schema-version
 * table, one row per applied version, so a PostgreSQL database says which schema it has as a
 * SQLite file does with `PRAGMA user_version`. Concurrent migrators are serialised by an
 * advisory lock held for the transaction.
 */
import type { Client } from "pg";
import type { Sql } from "./connection";
import { POSTGRES_MIGRATIONS } from "./migrations";

/** The table recording applied schema versions (not part of the state; never copied or compared). */
export const SCHEMA_VERSION_TABLE = "vmbranch_schema_version";

/** Advisory lock key ("vmbr") taken by every schema change and by `store migrate`. */
export const SCHEMA_LOCK_KEY = 0x766d6272;

/** The schema version of the database `sql` is connected to (0 when it has none). */
export async function postgresSchemaVersion(sql: Sql): Promise<number> {
  const exists = await sql.query<{ t: string | null }>(`SELECT to_regclass($1) AS t`, [SCHEMA_VERSION_TABLE]);
  if (exists.rows[0]?.t == null) return 0;
  const res = await sql.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${SCHEMA_VERSION_TABLE}`);
  return res.rows[0]?.v ?? 0;
}

/**
 * Apply the migrations the database lacks, inside the transaction the caller opened (PostgreSQL's
 * DDL is transactional: a failure leaves nothing of them). Returns the versions before and after.
 */
export async function applyPostgresMigrations(sql: Sql): Promise<{ from: number; to: number }> {
  await sql.query(`SELECT pg_advisory_xact_lock($1)`, [SCHEMA_LOCK_KEY]);
  await sql.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA_VERSION_TABLE} (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
  const from = await postgresSchemaVersion(sql);
  if (from > POSTGRES_MIGRATIONS.length)
    throw new Error(`database schema version ${from} is newer than this vmbranch (${POSTGRES_MIGRATIONS.length}); upgrade vmbranch`);
  for (let v = from; v < POSTGRES_MIGRATIONS.length; v++) {
    await sql.query(POSTGRES_MIGRATIONS[v]!);
    await sql.query(`INSERT INTO ${SCHEMA_VERSION_TABLE} (version) VALUES ($1)`, [v + 1]);
  }
  return { from, to: POSTGRES_MIGRATIONS.length };
}

/** Bring the database up to date in a transaction of its own. */
export async function migratePostgres(client: Client): Promise<{ from: number; to: number }> {
  await client.query("BEGIN");
  try {
    const result = await applyPostgresMigrations(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}
