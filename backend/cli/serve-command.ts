/**
 * `vmbranch serve [--data-dir DIR] [--listen HOST:PORT] [--allow-host-path DIR]…`: run the REST
 * service in the foreground until SIGINT/SIGTERM. Owns argument parsing and signals; wiring is
 * server.ts.
 */
import { parseArgs } from "node:util";
import { resolveDataDir } from "./data-dir";
import { UsageError, type CliCommand } from "./command-registry";
import { startServer } from "./server";

const USAGE = [
  "usage: vmbranch serve [--data-dir DIR] [--listen HOST:PORT] [--allow-host-path DIR]...",
  "",
  "Defaults: data dir $VMBRANCH_DATA_DIR or ~/.vmbranch; listen 127.0.0.1:7480.",
  "The bearer token is $VMBRANCH_TOKEN, else <data-dir>/token (generated on first start).",
  "--allow-host-path lets managed volumes (host_path) point under DIR (none by default).",
];

/** Parse `HOST:PORT` (IPv6 in brackets). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  if (!m) throw new UsageError(`--listen must be HOST:PORT, got '${value}'`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`--listen port out of range: ${port}`);
  return { host: (m[1] ?? m[2])!, port };
}

/** The `serve` subcommand. */
export const serveCommand: CliCommand = {
  name: "serve",
  summary: "run the REST service (instances, volumes, branching)",
  usage: USAGE,
  async run(args, ctx) {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        strict: true,
        options: { "data-dir": { type: "string" }, listen: { type: "string" }, "allow-host-path": { type: "string", multiple: true } },
      }));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { host, port } = parseListen((values.listen as string | undefined) ?? ctx.env.VMBRANCH_LISTEN ?? "127.0.0.1:7480");
    const allow = ((values["allow-host-path"] as string[] | undefined) ?? []).map((p) => {
      if (!p.startsWith("/")) throw new UsageError(`--allow-host-path must be absolute: '${p}'`);
      return p.replace(/\/+$/, "") || "/";
    });
    const server = await startServer({
      dataDir: resolveDataDir(values["data-dir"] as string | undefined, ctx.env),
      host, port, allowHostPaths: allow, env: ctx.env, version: VERSION,
    });
    ctx.stdout(`vmbranch serve listening on ${server.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await server.close();
    ctx.stdout("vmbranch serve stopped; VMs keep running\n");
    // Lingering handles (idle keep-alive sockets, detached watchers) must not keep a stopped service alive.
    setImmediate(() => process.exit(0));
    return 0;
  },
};

declare const __VMBRANCH_VERSION__: string | undefined;
/** Version of this build (from package.json at bundle time). */
const VERSION = typeof __VMBRANCH_VERSION__ === "string" ? __VMBRANCH_VERSION__ : "dev";
