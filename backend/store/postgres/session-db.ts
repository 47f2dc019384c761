/**
 * The store's PostgreSQL engine: a synchronous connection, as better-sqlite3's is, so the store and
 * everything above it run unchanged on either engine. The connection lives in a worker thread
 * (./session-worker.ts); each statement is posted to it and the main thread waits on a shared
 * counter until the answer arrives. One active serve owns its state, so one session is enough, and
 * a statement blocks the event loop for a round trip to the database as a SQLite write does for
 * its fsync. SQL arrives in the store's SQLite dialect and is rewritten here where they differ.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import { StoreLocked, StoreSuperseded, StoreUnavailable, type Statement, type StoreDb } from "../engine";
import type { TermRecord } from "../records";
import { redactUrl } from "./connection";
import { SERVE_LOCK_HELD, TERM_SUPERSEDED, type SessionError, type SessionFence, type SessionInit, type SessionReply, type SessionRequest } from "./session-worker";

/** How long one statement may take, connecting and migrating included, before it fails. */
const STATEMENT_DEADLINE_MS = 30_000;

/** A statement PostgreSQL refused or could not run; the engine's fields kept for the store's mapping. */
export class PostgresStatementError extends Error {
  override name = "PostgresStatementError";
  readonly code?: string;
  readonly detail?: string;
  readonly constraint?: string;

  constructor(e: SessionError) {
    super(e.message);
    this.code = e.code;
    this.detail = e.detail;
    this.constraint = e.constraint;
  }
}

/** SQL of the store (SQLite dialect, `?` parameters) as PostgreSQL takes it. */
export function toPostgresSql(sql: string): string {
  let n = 0;
  return sql
    .replace(/json_extract\((\w+), '\$\.(\w+)'\)/g, "($1::json ->> '$2')")
    .replace(/\?/g, () => `$${++n}`);
}

/** A synchronous PostgreSQL session for the store. */
export class PostgresSessionDb implements StoreDb {
  readonly dialect = "postgres" as const;
  private readonly worker: Worker;
  private readonly replies: MessagePort;
  private readonly signal: Int32Array;
  private nextId = 0;
  private depth = 0;
  private superseded: ((why: string) => void) | null = null;

  /** Start the session's worker from `entry` (the bundle that runs runSessionWorker for it). */
  constructor(
    private readonly url: string,
    entry: string,
  ) {
    const shared = new SharedArrayBuffer(4);
    this.signal = new Int32Array(shared);
    const { port1, port2 } = new MessageChannel();
    this.replies = port1;
    const init: SessionInit = { kind: "vmbranch-postgres-session", url, signal: shared, replies: port2 };
    this.worker = new Worker(entry, { workerData: init, transferList: [port2] });
    this.worker.unref();
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  /** Run `sql` now and return its rows and the number of rows it changed. */
  query(sql: string, params: unknown[]): { rows: Record<string, unknown>[]; changes: number } {
    const id = ++this.nextId;
    const request: SessionRequest = { id, sql, params };
    this.worker.postMessage(request);
    const deadline = Date.now() + STATEMENT_DEADLINE_MS;
    for (;;) {
      const seen = Atomics.load(this.signal, 0);
      let msg = receiveMessageOnPort(this.replies);
      while (msg) {
        const reply = msg.message as SessionReply;
        // An answer to an earlier statement that outlived its deadline is dropped.
        if (reply.id === id) {
          if ("error" in reply) {
            const what = `PostgreSQL at ${redactUrl(this.url)}: ${reply.error.message}`;
            if (reply.error.code === SERVE_LOCK_HELD) throw new StoreLocked(what);
            if (reply.error.code === TERM_SUPERSEDED) {
              const told = this.superseded;
              this.superseded = null;
              told?.(reply.error.message);
              throw new StoreSuperseded(what);
            }
            if (reply.error.unavailable) throw new StoreUnavailable(what);
            throw new PostgresStatementError(reply.error);
          }
          return reply;
        }
        msg = receiveMessageOnPort(this.replies);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new StoreUnavailable(`PostgreSQL at ${redactUrl(this.url)} did not answer within ${STATEMENT_DEADLINE_MS / 1000}s`);
      Atomics.wait(this.signal, 0, seen, left);
    }
  }

  prepare(sql: string): Statement {
    const text = toPostgresSql(sql);
    return {
      run: (...params) => ({ changes: this.query(text, params).changes }),
      get: (...params) => this.query(text, params).rows[0],
      all: (...params) => this.query(text, params).rows,
    };
  }

  transaction<T>(fn: () => T): () => T {
    return () => {
      const level = this.depth;
      const savepoint = level > 0 ? `s${level}` : null;
      this.query(savepoint ? `SAVEPOINT ${savepoint}` : "BEGIN", []);
      this.depth = level + 1;
      let result: T;
      try {
        result = fn();
      } catch (err) {
        this.depth = level;
        try {
          this.query(savepoint ? `ROLLBACK TO SAVEPOINT ${savepoint}` : "ROLLBACK", []);
        } catch {
          // The session ended (a database restart): the server rolled the transaction back itself.
        }
        throw err;
      }
      this.depth = level;
      this.query(savepoint ? `RELEASE SAVEPOINT ${savepoint}` : "COMMIT", []);
      return result;
    };
  }

  fence(term: TermRecord, superseded: (why: string) => void): void {
    this.superseded = superseded;
    const fence: SessionFence = { fence: term };
    this.worker.postMessage(fence);
  }

  close(): void {
    this.worker.postMessage("close");
  }
}
