/**
 * Host ports for published guest ports (QEMU user-mode `hostfwd` on 127.0.0.1): pick a free one
 * when the user did not choose, and check a chosen one is free before QEMU tries to bind it.
 *
 * Picked ports come from a window just below the kernel's ephemeral range (the default Linux range
 * starts at 32768, so the window is 30000–32767, Kubernetes' NodePort range). The kernel hands out
 * ephemeral ports to every outgoing connection and `listen(0)` of every process; a port below that
 * range is only ever taken by someone naming it. An instance keeps its picked port across stops,
 * and a port from the ephemeral range could be taken by any client on the host while it is stopped.
 * A range the operator named (`--published-ports`) is a promise to their firewall: picks never
 * leave it.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { randomInt } from "node:crypto";

/** Address host forwards bind to. */
export const HOST_FORWARD_IP = "127.0.0.1";

/** How many ports the published-port window holds when the ephemeral range leaves room. */
export const PUBLISHED_WINDOW_SIZE = 2768;

/** The lowest port a published-port window may start at: below it are the privileged ports. */
const FIRST_UNPRIVILEGED = 1024;

/** Random tries in the window before it is walked port by port. */
const RANDOM_TRIES = 32;

/** An inclusive range of ports. */
export interface PortRange {
  low: number;
  high: number;
}

/** Lowest port of this host's ephemeral range (net.ipv4.ip_local_port_range); 32768 when unreadable. */
export function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768;
  }
}

/**
 * The window picked ports come from, below an ephemeral range that starts at `ephemeral`; null
 * when that range starts so low that no unprivileged port is left below it.
 */
export function publishedWindow(ephemeral = ephemeralLow()): PortRange | null {
  const high = ephemeral - 1;
  const low = Math.max(FIRST_UNPRIVILEGED, ephemeral - PUBLISHED_WINDOW_SIZE);
  return high >= low ? { low, high } : null;
}

/** True when `port` can be bound on 127.0.0.1 for `protocol` right now. */
export function isPortFree(port: number, protocol: "tcp" | "udp"): Promise<boolean> {
  return new Promise((resolve) => {
    if (protocol === "udp") {
      const s = createSocket("udp4");
      s.once("error", () => resolve(false));
      s.bind(port, HOST_FORWARD_IP, () => s.close(() => resolve(true)));
      return;
    }
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host: HOST_FORWARD_IP, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * A port free now for `protocol`, avoiding `exclude` (ports promised to other instances): from
 * `window` (the published-port window by default), and only when it is full from the ephemeral range.
 */
export async function pickFreePort(protocol: "tcp" | "udp", exclude: ReadonlySet<number>, window = publishedWindow()): Promise<number> {
  const picked = window ? await pickInRange(protocol, exclude, window) : null;
  if (picked !== null) return picked;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await ephemeral(protocol);
    if (!exclude.has(port)) return port;
  }
  throw new Error("no free host port found after 50 attempts");
}

/** A port of `range` free now for `protocol` and not in `exclude`; null when the range has none. */
export async function pickInRange(protocol: "tcp" | "udp", exclude: ReadonlySet<number>, range: PortRange): Promise<number | null> {
  const usable = (p: number) => !exclude.has(p) && isPortFree(p, protocol);
  for (let i = 0; i < RANDOM_TRIES; i++) {
    const port = randomInt(range.low, range.high + 1);
    if (await usable(port)) return port;
  }
  // Nearly full: walk it once from a random start rather than give up on luck.
  const size = range.high - range.low + 1;
  const start = randomInt(0, size);
  for (let i = 0; i < size; i++) {
    const port = range.low + ((start + i) % size);
    if (await usable(port)) return port;
  }
  return null;
}

function ephemeral(protocol: "tcp" | "udp"): Promise<number> {
  return new Promise((resolve, reject) => {
    if (protocol === "udp") {
      const s = createSocket("udp4");
      s.once("error", reject);
      s.bind(0, HOST_FORWARD_IP, () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
      return;
    }
    const srv = createServer();
    srv.once("error", reject);
    srv.listen({ port: 0, host: HOST_FORWARD_IP, exclusive: true }, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}
