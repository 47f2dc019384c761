/**
 * The hosts a serve drives, with their drivers: this machine in process (the default: no network
 * hop, no setup), or each `--agent`'s host, named by its agent. Core receives the map and picks
 * the drivers by the host a record names (core/context.ts, `on`).
 */
import type { Logger as PinoLogger } from "pino";
import type { AgentEndpoint } from "../agent/agent-client";
import { connectAgent } from "../agent/connect";
import type { HostDrivers } from "../core/context";
import { UsageError } from "./command-registry";
import { dataDirHostName } from "./host-name";
import { openLocalHost, type LocalHostOptions } from "./local-host";

/** A driven host's drivers and how to let go of them (the VMs keep running). */
export type ServedHost = HostDrivers & { close(): Promise<void> };

/** This machine as the only host, named as its data dir recorded (or `given`, `--host-name`). */
export async function localHosts(given: string | undefined, o: LocalHostOptions): Promise<Map<string, ServedHost>> {
  const name = dataDirHostName(o.dataDir, given);
  return new Map([[name, await openLocalHost(o)]]);
}

/**
 * Connect to every agent (all or none: one that cannot be used closes the others and stops
 * serve), each sending `epoch()` with its commands; the first agent's host is serve's home host.
 * Two agents that name the same host are refused: one host, one agent.
 */
export async function connectAgents(agents: readonly AgentEndpoint[], epoch: () => number, log: PinoLogger, dirs: string[]): Promise<Map<string, ServedHost>> {
  const hosts = new Map<string, ServedHost>();
  const urls = new Map<string, string>();
  try {
    for (const endpoint of agents) {
      const host = await connectAgent(endpoint, epoch, log, dirs);
      const other = urls.get(host.hostName);
      if (other !== undefined) {
        await host.close();
        throw new UsageError(`the agents at ${other} and ${endpoint.url} both run host '${host.hostName}': give each agent its own --host-name`);
      }
      hosts.set(host.hostName, host);
      urls.set(host.hostName, endpoint.url);
    }
  } catch (err) {
    await Promise.all([...hosts.values()].map((h) => h.close().catch(() => undefined)));
    throw err;
  }
  return hosts;
}
