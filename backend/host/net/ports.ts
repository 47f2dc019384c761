/**
 * Host ports for published guest ports (QEMU user-mode `hostfwd` on 127.0.0.1): pick a free one
 * when the user did not choose, and check a chosen one is free before QEMU tries to bind it.
 */
import { createServer } from "node:net";
import { createSocket } from "node:dgram";

/** Address host forwards bind to. */
export const HOST_FORWARD_IP = "127.0.0.1";

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

/** A port the kernel considers free now, avoiding `exclude` (ports promised to other instances). */
export async function pickFreePort(protocol: "tcp" | "udp", exclude: ReadonlySet<number>): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await ephemeral(protocol);
    if (!exclude.has(port)) return port;
  }
  throw new Error("no free host port found after 50 attempts");
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
