/**
 * Established TCP connections on given local ports, from the host's socket tables
 * (/proc/net/tcp and tcp6): the connections clients hold into an instance's published ports,
 * whose server side QEMU's user-mode network owns.
 */
import { readFile } from "node:fs/promises";

const ESTABLISHED = "01";

/** How many sockets in `table` (a /proc/net/tcp file) are established with a local port in `ports`. */
export function countEstablished(table: string, ports: ReadonlySet<number>): number {
  let n = 0;
  for (const line of table.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== ESTABLISHED) continue;
    const port = parseInt(f[1]!.split(":")[1] ?? "", 16);
    if (ports.has(port)) n++;
  }
  return n;
}

/** Established TCP connections on the host whose local port is one of `ports`. */
export async function establishedConnections(ports: readonly number[]): Promise<number> {
  if (ports.length === 0) return 0;
  const set = new Set(ports);
  const tables = await Promise.all(["/proc/net/tcp", "/proc/net/tcp6"].map((f) => readFile(f, "utf8").catch(() => "")));
  return tables.reduce((n, t) => n + countEstablished(t, set), 0);
}
