/**
 * A serve's host run by an agent (`vmbranch serve --agent URL`): connect, read what the agent
 * offers, and build the remote drivers core uses in place of the in-process ones.
 */
import type { Logger as PinoLogger } from "pino";
import { AgentClient, type AgentEndpoint } from "./agent-client";
import { RemoteStorage } from "./remote-storage";
import { RemoteVmDriver } from "./remote-vm-driver";

/** The drivers of an agent's host, as serve wires them into core. */
export interface AgentHost {
  /** The host the agent runs (its `--host-name`). */
  hostName: string;
  vm: RemoteVmDriver;
  storage: RemoteStorage;
  outboundNetworkUnavailable: string | null;
  accelerator: () => Promise<"kvm" | "tcg">;
  /** Stop following the agent's VMs and close the connections (the VMs keep running). */
  close(): Promise<void>;
}

/**
 * Connect to the agent at `endpoint`, sending `epoch()` with every command, and have it make the
 * directories `dirs` core names files in (the agent's machine has its own filesystem).
 */
export async function connectAgent(endpoint: AgentEndpoint, epoch: () => number, log: PinoLogger, dirs: string[]): Promise<AgentHost> {
  const client = new AgentClient(endpoint, epoch);
  const host = await client.describe().catch(async (err: Error) => {
    await client.close();
    throw new Error(`cannot use the agent at ${endpoint.url}: ${err.message}`);
  });
  if (host.epoch > epoch()) {
    await client.close();
    throw new Error(`the agent at ${endpoint.url} obeys control-plane term ${host.epoch}, newer than this serve's term ${epoch()}: another control plane drives it`);
  }
  try {
    await client.call("host", "prepareDirs", [dirs]);
  } catch (err) {
    await client.close();
    throw new Error(`the agent at ${endpoint.url} cannot make the data directory's layout: ${(err as Error).message}`);
  }
  log.info(`host ${host.hostName}: agent at ${endpoint.url} (vmbranch ${host.version}): QEMU ${host.machine.qemuVersion}, VMs run as machine type ${host.machine.machineType}`);
  if (host.outboundNetworkUnavailable) log.warn(`UNAVAILABLE on the agent's host: outbound network access for guests (${host.outboundNetworkUnavailable}); guests stay isolated`);
  let accel: Promise<"kvm" | "tcg"> | null = null;
  const vm = new RemoteVmDriver(client, host);
  return {
    hostName: host.hostName,
    vm,
    storage: new RemoteStorage(client, host),
    outboundNetworkUnavailable: host.outboundNetworkUnavailable,
    accelerator: () =>
      (accel ??= client.call<"kvm" | "tcg">("host", "accelerator", []).catch((err) => {
        accel = null;
        throw err;
      })),
    async close() {
      vm.detachAll();
      await client.close();
    },
  };
}
