/**
 * The servers the store comparisons measure side by side (SQLite, PostgreSQL through
 * `serve --store`), and counting what a server asks PostgreSQL for some requests: its statements
 * and PostgreSQL's own time for them, read from the throwaway cluster's log.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { TestBackend } from "../../test/helpers/backend";
import type { TestPostgres } from "../../test/helpers/postgres";
import { settle } from "./vm";

/** What a server's requests cost its PostgreSQL: statements run, and the server-side time of them all. */
export interface StatementCount {
  statements: number;
  serverMs: number;
  /** Statements by their first word (SELECT, INSERT, BEGIN, …). */
  byKind: Record<string, number>;
}

/** A count divided over the requests it covered: what one request costs PostgreSQL. */
export type PerRequest = StatementCount;

/** `c`, counted over `n` requests, per request. */
export function perOne(c: StatementCount, n: number): PerRequest {
  return { statements: c.statements / n, serverMs: c.serverMs / n, byKind: Object.fromEntries(Object.entries(c.byKind).map(([k, v]) => [k, v / n])) };
}

/** A server to measure, the store it runs on, and (on PostgreSQL) a way to count its statements. */
export interface StoreTarget {
  store: string;
  backend: TestBackend;
  countStatements?: (fn: () => Promise<unknown>) => Promise<StatementCount>;
}

// One log line per protocol step: a simple query's `statement`, or an extended query's parse,
// bind and execute (each with its own duration). A statement is a `statement` or an `execute`.
const DURATION = /LOG: {2}duration: ([\d.]+) ms {2}(statement|parse|bind|execute)\b[^:]*: *(\w*)/;

/**
 * Count the statements `pg` runs while `fn` runs, with every statement logged (log_min_duration_statement
 * 0) for that window only: logging each one slows it, so timed rounds never run inside a count.
 */
export async function countStatements(pg: TestPostgres, fn: () => Promise<unknown>): Promise<StatementCount> {
  const log = join(pg.dir, "postgres.log");
  const logEvery = async (on: boolean) => {
    pg.psql(`ALTER SYSTEM SET log_min_duration_statement = ${on ? 0 : -1}`);
    pg.psql("SELECT pg_reload_conf()");
    // The server's session reads the new setting at its next statement after the reload signal reached it.
    await settle(300);
  };
  await logEvery(true);
  const from = statSync(log).size;
  let text = "";
  try {
    await fn();
  } finally {
    text = readFileSync(log).subarray(from).toString("utf8");
    await logEvery(false);
  }
  let statements = 0;
  let serverMs = 0;
  const byKind: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = DURATION.exec(line);
    if (!m) continue;
    serverMs += Number(m[1]);
    if (m[2] !== "statement" && m[2] !== "execute") continue;
    statements++;
    const kind = m[3]!.toUpperCase() || "?";
    byKind[kind] = (byKind[kind] ?? 0) + 1;
  }
  return { statements, serverMs, byKind };
}
