/**
 * Metrics of an instance (Unikraft Cloud's `GET /v1/instances/metrics`): what its VM costs the host
 * and moves, measured on the host and through QEMU, never reported by the guest. The figures cover
 * the VM's current run (they restart at zero with each start); a stopped instance reports zeros.
 * Zod only.
 */
import { z } from "zod";
import { TimestampSchema, UuidSchema } from "./common";
import { InstanceStateSchema } from "./instance";

/** I/O of one block volume of the instance, counted by QEMU. */
export const VolumeIoSchema = z.object({
  uuid: UuidSchema,
  name: z.string(),
  read_bytes: z.number(),
  write_bytes: z.number(),
  read_ops: z.number(),
  write_ops: z.number(),
});
export type VolumeIo = z.infer<typeof VolumeIoSchema>;

/** One instance's metrics, in Unikraft Cloud's field names plus vmbranch's disk figures. */
export const InstanceMetricsSchema = z.object({
  uuid: UuidSchema,
  name: z.string(),
  state: InstanceStateSchema,
  /** Resident memory of the VM's QEMU process (guest RAM it touched plus QEMU itself). */
  rss_bytes: z.number(),
  /** Proportional share of that memory: pages shared with other VMs (branches of one snapshot) count in part. */
  pss_bytes: z.number(),
  /** CPU time the QEMU process consumed, user and system. */
  cpu_time_ms: z.number(),
  /** Launch to the guest's readiness marker (0 for a start from memory). */
  boot_time_us: z.number(),
  /** Not measured by vmbranch (it does not watch the guest's sockets): always 0. */
  net_time_us: z.number(),
  /** Ethernet frames into the guest (rx) and out of it (tx), counted by QEMU's network layer. */
  rx_bytes: z.number(),
  rx_packets: z.number(),
  tx_bytes: z.number(),
  tx_packets: z.number(),
  /** Established TCP connections into the guest through its published ports, now. */
  nconns: z.number(),
  /** No HTTP proxy stands in front of instances: always 0. */
  nreqs: z.number(),
  nqueued: z.number(),
  /** Inbound TCP connections the guest was offered through its published ports (SYNs into the guest). */
  ntotal: z.number(),
  disk_read_bytes: z.number(),
  disk_write_bytes: z.number(),
  volumes: z.array(VolumeIoSchema),
  sampled_at: TimestampSchema,
});
export type InstanceMetrics = z.infer<typeof InstanceMetricsSchema>;
