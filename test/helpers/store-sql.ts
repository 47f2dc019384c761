/**
 * SQL on a test backend's state, whichever engine holds it: the SQLite file `vmbranch.db` in its
 * data dir, or the PostgreSQL database its serve was given with `--store` (`VMBRANCH_TEST_STORE=postgres`).
 * For tests that read what the store recorded, or edit a row to simulate what the API cannot make
 * (e.g. a snapshot taken by another QEMU), so the same test asserts the same thing on both engines.
 * The statement is written once, in the SQL both engines share, with `?` placeholders.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { Client } from "pg";
import type { TestBackend } from "./backend";

/** `?` placeholders as PostgreSQL's `$1`, `$2`, …; a `?` inside a quoted literal or identifier stays. */
function numberedPlaceholders(sql: string): string {
  let n = 0;
  let quote: string | null = null;
  let out = "";
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null;
      out += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else out += ch === "?" ? `$${++n}` : ch;
  }
  return out;
}

/**
 * Run `sql` (`?` placeholders bound to `params`) on `backend`'s state database, committed on its
 * own, and return the rows it yields (none for a statement without results). Values come back as
 * each engine's driver gives them (PostgreSQL's bigints as strings): select text columns to compare.
 */
export async function storeSql<T = Record<string, unknown>>(backend: TestBackend, sql: string, params: unknown[] = []): Promise<T[]> {
  if (backend.storeUrl === null) {
    const db = new Database(join(backend.dataDir, "vmbranch.db"));
    try {
      // serve holds the same file open and may be writing: wait for its lock as serve would.
      db.pragma("busy_timeout = 5000");
      const stmt = db.prepare(sql);
      if (stmt.reader) return stmt.all(...params) as T[];
      stmt.run(...params);
      return [];
    } finally {
      db.close();
    }
  }
  // A connection of its own beside serve's session (serve's advisory lock does not keep it out).
  const client = new Client({ connectionString: backend.storeUrl });
  await client.connect();
  try {
    // Row locks serve holds wait as on SQLite, bounded the same.
    await client.query("SET lock_timeout = '5s'");
    return (await client.query(numberedPlaceholders(sql), params)).rows as T[];
  } finally {
    await client.end();
  }
}
