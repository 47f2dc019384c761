/**
 * Host ports for tests that must name one before anything listens on it. A port the kernel handed
 * out for `listen(0)` and that was closed again comes from the ephemeral range, which the kernel
 * hands to every outgoing connection of every process: with two test files running at once, the
 * other file's clients and servers can take it before the test uses it. A port below that range is
 * only ever taken by someone naming it.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { randomInt } from "node:crypto";

/** Lowest port of the kernel's ephemeral range (net.ipv4.ip_local_port_range). */
function ephemeralLow(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

function listensOn(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A TCP port on 127.0.0.1 that is free now and that the kernel never hands out by itself. */
export async function unclaimedPort(): Promise<number> {
  const high = ephemeralLow();
  const low = Math.min(10_000, high - 1000);
  for (let tries = 0; tries < 100; tries++) {
    const port = randomInt(low, high);
    if (await listensOn(port)) return port;
  }
  throw new Error(`no free port between ${low} and ${high} in 100 tries`);
}
