/**
 * Metrics of instances: what each VM costs the host and moves, sampled from the host and QEMU
 * through the driver (never reported by the guest, which a user may not trust): CPU time, resident
 * and proportional memory, disk I/O per volume, network frames and bytes each way, inbound TCP
 * connections opened and open. `sample` is the reusable part (the API's metrics endpoints and,
 * later, a Prometheus exposition read the same figures); `view` is the API's wire form.
 */
import type { InstanceMetrics } from "vmbranch/sdk";
import type { InstanceRecord } from "../store/records";
import type { CoreContext } from "./context";
import { diskIdOf, now } from "./identity";
import type { Runtime } from "./runtime";

/** I/O of one volume of an instance in its current run. */
export interface VolumeIoSample {
  uuid: string;
  name: string;
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
}

/** One instance's figures at one instant; all zero while it has no VM. */
export interface InstanceSample {
  uuid: string;
  name: string;
  state: InstanceRecord["state"];
  cpuTimeMs: number;
  rssBytes: number;
  pssBytes: number;
  bootTimeMs: number;
  /** Frames and bytes into the guest (its rx) and out of it (its tx). */
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Inbound TCP connections through published ports: opened this run, and established now. */
  connectionsOpened: number;
  connectionsOpen: number;
  volumes: VolumeIoSample[];
  sampledAt: string;
}

/** Samples instance metrics. */
export class Metrics {
  constructor(
    private readonly ctx: CoreContext,
    private readonly runtime: Runtime,
  ) {}

  /** The figures of `rec` now. A VM that ends while being sampled reads as zeros. */
  async sample(rec: InstanceRecord): Promise<InstanceSample> {
    const store = this.ctx.store;
    const zero: InstanceSample = {
      uuid: rec.uuid, name: rec.name, state: rec.state, cpuTimeMs: 0, rssBytes: 0, pssBytes: 0, bootTimeMs: rec.bootTimeMs ?? 0,
      rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, connectionsOpened: 0, connectionsOpen: 0, volumes: [], sampledAt: now(),
    };
    const handle = this.runtime.handle(rec.uuid);
    if (!handle) return zero;
    const hostPorts = store.ports.ofInstance(rec.uuid).filter((p) => p.protocol === "tcp").map((p) => p.hostPort);
    const stats = await handle.stats(hostPorts).catch((err: Error) => {
      this.ctx.log.debug({ instance: rec.uuid, err: err.message }, "metrics: the VM did not answer");
      return null;
    });
    if (!stats) return zero;
    const byPosition = new Map(store.attachments.ofInstance(rec.uuid).map((a) => [diskIdOf(a.position), a.volumeUuid]));
    const volumes = stats.disks.flatMap((d) => {
      const uuid = byPosition.get(d.diskId);
      if (!uuid) return [];
      const name = store.volumes.get({ uuid })?.name ?? "";
      return [{ uuid, name, readBytes: d.readBytes, writeBytes: d.writeBytes, readOps: d.readOps, writeOps: d.writeOps }];
    });
    return {
      ...zero,
      cpuTimeMs: stats.cpuTimeMs, rssBytes: stats.rssBytes, pssBytes: stats.pssBytes,
      rxFrames: stats.net.inFrames, rxBytes: stats.net.inBytes, txFrames: stats.net.outFrames, txBytes: stats.net.outBytes,
      connectionsOpened: stats.net.inboundConnectionsOpened, connectionsOpen: stats.net.inboundConnectionsOpen, volumes,
    };
  }

  /** The wire form of a sample (Unikraft Cloud's field names plus vmbranch's disk figures). */
  static view(s: InstanceSample): InstanceMetrics {
    return {
      uuid: s.uuid, name: s.name, state: s.state, rss_bytes: s.rssBytes, pss_bytes: s.pssBytes, cpu_time_ms: Math.round(s.cpuTimeMs),
      boot_time_us: Math.round(s.bootTimeMs * 1000), net_time_us: 0, rx_bytes: s.rxBytes, rx_packets: s.rxFrames, tx_bytes: s.txBytes,
      tx_packets: s.txFrames, nconns: s.connectionsOpen, nreqs: 0, nqueued: 0, ntotal: s.connectionsOpened,
      disk_read_bytes: s.volumes.reduce((n, v) => n + v.readBytes, 0), disk_write_bytes: s.volumes.reduce((n, v) => n + v.writeBytes, 0),
      volumes: s.volumes.map((v) => ({ uuid: v.uuid, name: v.name, read_bytes: v.readBytes, write_bytes: v.writeBytes, read_ops: v.readOps, write_ops: v.writeOps })),
      sampled_at: s.sampledAt,
    };
  }
}
