/**
 * Host ports for tests that must name one before anything listens on it. A port the kernel handed
 * out for `listen(0)` and that was closed again comes from the ephemeral range, which the kernel
 * hands to every outgoing connection of every process: with two test files running at once, the
 * other file's clients and servers can take it before the test uses it. A port below that range is
 * only ever taken by someone naming it.
 */
import { createServer } from "node:net";
import { randomInt } from "node:crypto";
import { ephemeralLow, publishedWindow } from "../../backend/host/net/ports";

function listensOn(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/**
 * A TCP port on 127.0.0.1 that is free now, that the kernel never hands out by itself, and that no
 * serve picks for a published port (those come from the window just below the ephemeral range).
 */
export async function unclaimedPort(): Promise<number> {
  const high = publishedWindow()?.low ?? ephemeralLow();
  const low = Math.min(10_000, high - 1000);
  for (let tries = 0; tries < 100; tries++) {
    const port = randomInt(low, high);
    if (await listensOn(port)) return port;
  }
  throw new Error(`no free port between ${low} and ${high} in 100 tries`);
}
