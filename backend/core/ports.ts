/**
 * Published ports of instances: a guest port forwarded from a host port on 127.0.0.1. Host
 * ports the user did not choose are picked once and kept across restarts, so clients (and
 * Pulumi state) see a stable address. Host ports are unique across all instances; ports below
 * 1024 (privileged: other users trust them to be the host's own services) only when the operator
 * allows them.
 */
import type { PortSpec } from "vmbranch/sdk";
import type { VmDriver } from "../host/vm-driver";
import type { PortRecord } from "../store/records";
import type { Store } from "../store/store";
import { ApiError } from "./errors";

/** First host port that is not privileged. */
export const FIRST_UNPRIVILEGED_PORT = 1024;

/** Decide host ports for `specs` of instance `instanceUuid` (not yet recorded). */
export async function allocatePorts(
  store: Store,
  host: Pick<VmDriver, "isPortFree" | "pickFreePort">,
  instanceUuid: string,
  specs: readonly PortSpec[],
  opts: { allowPrivileged: boolean },
): Promise<PortRecord[]> {
  const seen = new Set<string>();
  for (const s of specs) {
    const key = `${s.guest_port}/${s.protocol ?? "tcp"}`;
    if (seen.has(key)) throw new ApiError("VALIDATION_FAILED", `Guest port ${key} is published twice`, "ports");
    seen.add(key);
    if (s.host_port !== undefined && s.host_port < FIRST_UNPRIVILEGED_PORT && !opts.allowPrivileged)
      throw new ApiError(
        "VALIDATION_FAILED",
        `Host port ${s.host_port} is privileged (below ${FIRST_UNPRIVILEGED_PORT}); this server does not publish such ports (the operator allows them with --allow-privileged-ports)`,
        "ports",
      );
  }
  const taken = new Set(store.ports.hostPortsOfOthers(instanceUuid));
  const out: PortRecord[] = [];
  for (const s of specs) {
    const protocol = s.protocol ?? "tcp";
    if (s.host_port !== undefined) {
      const owner = store.ports.holderOf(s.host_port, instanceUuid);
      if (owner) {
        const name = store.instances.get({ uuid: owner.instanceUuid })?.name ?? owner.instanceUuid;
        throw new ApiError("PORT_UNAVAILABLE", `Host port ${s.host_port} is already published by instance '${name}'`, "ports");
      }
      if (!(await host.isPortFree(s.host_port, protocol)))
        throw new ApiError("PORT_UNAVAILABLE", `Host port ${s.host_port}/${protocol} is in use on this host`, "ports");
      out.push({ instanceUuid, guestPort: s.guest_port, protocol, hostPort: s.host_port, requested: true });
      taken.add(s.host_port);
    } else {
      const hostPort = await host.pickFreePort(protocol, taken);
      if (hostPort === null)
        throw new ApiError("PORT_UNAVAILABLE", `No host port is free for guest port ${s.guest_port}/${protocol}: every port of the range this host publishes from (its operator's --published-ports) is taken`, "ports");
      taken.add(hostPort);
      out.push({ instanceUuid, guestPort: s.guest_port, protocol, hostPort, requested: false });
    }
  }
  return out;
}

/** Fresh host ports for a branch or template instance: the same guest ports, new host ports. */
export function portSpecsFrom(ports: readonly PortRecord[]): PortSpec[] {
  return ports.map((p) => ({ guest_port: p.guestPort, protocol: p.protocol }));
}
