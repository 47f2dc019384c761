/**
 * The PostgreSQL session of a serve, run in a worker thread: it holds the one connection, brings
 * the schema up to date when it connects, and runs each statement the main thread sends, answering
 * on the reply port and waking the main thread through the shared counter (./session-db.ts waits
 * on it). Statements arrive one at a time: the main thread blocks until each is answered. A session
 * after the first also checks that the serve's term is still the newest (its fence).
 */
import { parentPort, type MessagePort } from "node:worker_threads";
import { types, type Client } from "pg";
import { connectPostgres } from "./connection";
import { migratePostgres } from "./schema";

/** What the main thread hands the worker (its workerData). */
export interface SessionInit {
  kind: "vmbranch-postgres-session";
  url: string;
  /** Int32 counter the worker increments (and notifies) after each reply. */
  signal: SharedArrayBuffer;
  replies: MessagePort;
}

/** One statement to run. */
export interface SessionRequest {
  id: number;
  sql: string;
  params: unknown[];
}

/** The serve began this term (Store.beginTerm): every later session checks that it is still the newest. */
export interface SessionFence {
  fence: { epoch: number; holder: string; startedAt: string };
}

/** The engine's error, as plain data (errors do not cross threads with their fields). */
export interface SessionError {
  message: string;
  /** The session could not be had or ended under the statement (not a statement the database refused). */
  unavailable?: boolean;
  code?: string;
  detail?: string;
  constraint?: string;
}

/** The answer to request `id`. */
export type SessionReply = { id: number; rows: Record<string, unknown>[]; changes: number } | { id: number; error: SessionError };

/** True when `data` is what ./session-db.ts starts a worker with. */
export function isSessionInit(data: unknown): data is SessionInit {
  return typeof data === "object" && data !== null && (data as SessionInit).kind === "vmbranch-postgres-session";
}

// 64-bit integers as numbers: the store's integers (sizes, pids, counts, ids) are far below 2^53,
// and its records hold numbers, as SQLite gives them.
const parsers = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === types.builtins.INT8 ? (v: string) => Number(v) : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
};

/**
 * True when `e` is the session failing rather than the statement: a connection error (SQLSTATE
 * class 08), the server shutting down or starting (57P01-57P03), or the socket ending under the
 * query (the client's own errors, which carry no SQLSTATE).
 */
function isSessionFailure(e: { code?: string; message: string }): boolean {
  if (e.code === undefined) return /Connection terminated|not queryable|ECONNRESET|EPIPE/i.test(e.message);
  return e.code.startsWith("08") || ["57P01", "57P02", "57P03", "ECONNREFUSED", "ECONNRESET", "ENOENT", "EPIPE"].includes(e.code);
}

/** Advisory lock key ("vmbs") a serve holds on its session for as long as it runs on a database. */
export const SERVE_LOCK_KEY = 0x766d6273;

/** Another serve's session holds SERVE_LOCK_KEY. */
class ServeLockHeld extends Error {
  override name = "ServeLockHeld";
  readonly code = SERVE_LOCK_HELD;
}

/** The code of a reply whose session could not take SERVE_LOCK_KEY. */
export const SERVE_LOCK_HELD = "VMBRANCH_SERVE_LOCK_HELD";

/** The code of every reply once a new session found a term newer than the serve's. */
export const TERM_SUPERSEDED = "VMBRANCH_TERM_SUPERSEDED";

/** A term newer than the serve's began while it had no session. */
class TermSuperseded extends Error {
  override name = "TermSuperseded";
  readonly code = TERM_SUPERSEDED;
}

/** The newest term's epoch (0 before the first). */
async function newestEpoch(c: Client): Promise<number> {
  const res = await c.query<{ epoch: string | number }>(`SELECT COALESCE(MAX(epoch), 0) AS epoch FROM terms`);
  return Number(res.rows[0]!.epoch);
}

/** Serve the main thread's statements until it closes the session. */
export function runSessionWorker(init: SessionInit): void {
  const signal = new Int32Array(init.signal);
  let client: Client | null = null;
  // Set while a transaction is open, and `lost` once its session ended under it: until the main
  // thread's ROLLBACK, its statements must fail rather than run one by one on a new session.
  let open = false;
  let lost = false;
  // The serve's term (from its fence) and, once a session found a newer one, why it stopped: from
  // then on every statement is refused, since this serve's view of the state is no longer the truth.
  let term: SessionFence["fence"] | null = null;
  let superseded: string | null = null;
  const answer = (reply: SessionReply) => {
    init.replies.postMessage(reply);
    Atomics.add(signal, 0, 1);
    Atomics.notify(signal, 0);
  };
  const connect = async (): Promise<Client> => {
    const c = await connectPostgres(init.url);
    try {
      // One serve writes a state at a time: the lock is the session's, so PostgreSQL releases it
      // when the session ends, however its serve ended.
      const held = await c.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1) AS ok`, [SERVE_LOCK_KEY]);
      // A session after the first (the database restarted, or the network cut it) belongs to this
      // serve only while no other serve has begun a term since: a standby may have taken over.
      const checkTerm = async () => {
        if (term === null) return;
        const newest = await newestEpoch(c);
        if (newest > term.epoch) {
          superseded = `another vmbranch serve took this database's state (term ${newest}; this serve's was ${term.epoch})`;
          throw new TermSuperseded(superseded);
        }
        // A database that lost the serve's own term (a failover to a replica the last commits had
        // not reached) gets it back, so the journal keeps taking this serve's entries.
        if (newest < term.epoch) await c.query(`INSERT INTO terms (epoch, holder, started_at) VALUES ($1, $2, $3)`, [term.epoch, term.holder, term.startedAt]);
      };
      if (!held.rows[0]?.ok) {
        await checkTerm();
        throw new ServeLockHeld("another vmbranch serve holds this database's state");
      }
      await migratePostgres(c);
      await checkTerm();
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
    // A session that ended (a database restart) is connected again at the next statement; a
    // transaction open on it is gone with it.
    c.on("end", () => {
      if (client !== c) return;
      client = null;
      if (open) lost = true;
    });
    return c;
  };
  parentPort!.on("message", async (req: SessionRequest | SessionFence | "close") => {
    if (req === "close") {
      await client?.end().catch(() => undefined);
      parentPort!.close();
      return;
    }
    if ("fence" in req) {
      term = req.fence;
      return;
    }
    if (superseded !== null) {
      answer({ id: req.id, error: { message: superseded, code: TERM_SUPERSEDED, unavailable: true } });
      return;
    }
    if (req.sql === "COMMIT" || req.sql === "ROLLBACK") {
      const wasLost = lost;
      open = lost = false;
      if (wasLost) {
        if (req.sql === "ROLLBACK") answer({ id: req.id, rows: [], changes: 0 });
        else answer({ id: req.id, error: { message: "the PostgreSQL session ended inside a transaction; it was rolled back", unavailable: true } });
        return;
      }
    } else if (lost) {
      answer({ id: req.id, error: { message: "the PostgreSQL session ended inside a transaction; it was rolled back", unavailable: true } });
      return;
    }
    let connected: Client | null = client;
    try {
      connected ??= client = await connect();
      const res = await connected.query({ text: req.sql, values: req.params, types: parsers });
      if (req.sql === "BEGIN") open = true;
      answer({ id: req.id, rows: res.rows as Record<string, unknown>[], changes: res.rowCount ?? 0 });
    } catch (err) {
      const e = err as Error & SessionError;
      const unavailable = connected === null || isSessionFailure(e);
      // A session that failed under a statement is not used again, even before its 'end' arrives
      // (a client that saw a connection error refuses every later query): the next statement connects anew.
      if (unavailable && connected !== null && client === connected) {
        client = null;
        if (open) lost = true;
        void connected.end().catch(() => undefined);
      }
      answer({ id: req.id, error: { message: e.message, code: e.code, detail: e.detail, constraint: e.constraint, unavailable } });
    }
  });
}
