/**
 * Connecting to PostgreSQL with the `pg` client: which URLs are accepted, how they are shown
 * (never with their password), and connection failures as one readable error. Owns no SQL.
 */
import { Client, type ClientBase } from "pg";

/** What runs SQL: a client, inside or outside a transaction the caller opened. */
export type Sql = Pick<ClientBase, "query">;

/** A URL that is not a PostgreSQL URL, or a server that could not be reached or refused us. */
export class PostgresConnectError extends Error {
  override name = "PostgresConnectError";
}

/** `url` as it may be printed and logged: the password replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(an unparsable URL)";
  }
}

/** Throws PostgresConnectError unless `url` is a postgres:// or postgresql:// URL naming a database. */
export function checkPostgresUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PostgresConnectError(`not a URL: expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`);
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:")
    throw new PostgresConnectError(`not a PostgreSQL URL (${u.protocol}//…): expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`);
  if (u.pathname.replace(/^\//, "") === "") throw new PostgresConnectError(`${redactUrl(url)} names no database: expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`);
}

/** How long a connection attempt may take before it counts as failed. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * How a dead peer is noticed, on both ends of the connection. The client probes an idle socket
 * after 10 s. The server probes an idle session after 10 s, every 5 s, giving up after 3 probes, and
 * checks the socket every 5 s while a statement runs. So the session of a serve whose host died or
 * was cut off ends within about 25 s, and with it the serve lock (./session-worker.ts) a standby waits for.
 * client_connection_check_interval needs PostgreSQL 14 or newer.
 */
const KEEPALIVE_IDLE_S = 10;
const SESSION_SETTINGS = `-c tcp_keepalives_idle=${KEEPALIVE_IDLE_S} -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 -c client_connection_check_interval=5s`;

/** A connected client for `url`; PostgresConnectError (naming the redacted URL and the cause) when that fails. */
export async function connectPostgres(url: string): Promise<Client> {
  checkPostgresUrl(url);
  const client = new Client({
    connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, application_name: "vmbranch",
    keepAlive: true, keepAliveInitialDelayMillis: KEEPALIVE_IDLE_S * 1000, options: SESSION_SETTINGS,
  });
  // A server that ends the session later (shutdown, network) emits 'error' on the client; the
  // query in flight fails with it, so the event itself only must not crash the process.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    const e = err as Error & { code?: string };
    const cause = e.message || e.code || String(err);
    throw new PostgresConnectError(`cannot connect to PostgreSQL at ${redactUrl(url)}: ${cause}`, { cause: err });
  }
  return client;
}
