/**
 * What the store's tables need from a database engine: compiled statements, transactions and
 * closing. SQLite's better-sqlite3 connection is one as it is; PostgreSQL's is the synchronous
 * session of ./postgres/session-db.ts. `dialect` tells the few places whose SQL differs.
 */
import type { TermRecord } from "./records";

/** A compiled statement: positional `?` parameters, rows as objects keyed by column name. */
export interface Statement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

/** A connection the store runs on. */
export interface StoreDb {
  prepare(sql: string): Statement;
  /** `fn` wrapped in a transaction (a savepoint when one is open already), as better-sqlite3 does. */
  transaction<T>(fn: () => T): () => T;
  readonly inTransaction: boolean;
  close(): void;
  /**
   * Engines whose session can end and be had again (PostgreSQL) check at each new session that
   * `term` is still the newest, and call `superseded` once, with why, when a newer one began; a
   * database that lost `term` itself (a failover behind the last commits) is given it back.
   */
  fence?(term: TermRecord, superseded: (why: string) => void): void;
  /** Set by engines other than SQLite. */
  readonly dialect?: "postgres";
}

/** True when `db` is a PostgreSQL session. */
export function isPostgres(db: StoreDb): boolean {
  return db.dialect === "postgres";
}

/** The database cannot be reached, or ended the session during the statement: nothing of it is known to have happened. */
export class StoreUnavailable extends Error {
  override name = "StoreUnavailable";
}

/** Another serve holds the database's state (PostgreSQL's serve lock); a standby waits for it. */
export class StoreLocked extends StoreUnavailable {
  override name = "StoreLocked";
}

/** A newer term began (another serve took the state): this serve's statements are refused from now on. */
export class StoreSuperseded extends StoreUnavailable {
  override name = "StoreSuperseded";
}
