/**
 * Host wire contract (docs/api.md, "Hosts"): the machines the control plane places instances and
 * volumes on, with their heartbeat state and memory. Zod only.
 */
import { z } from "zod";
import { HostStateSchema, TimestampSchema } from "./common";
import { envelopeSchema } from "./envelope";

/** A host: `online` while it heartbeats, `offline` once its heartbeats stopped. */
export const HostSchema = z.object({
  name: z.string().describe("The host's name (`vmbranch serve --host-name`, default the machine's host name)."),
  state: HostStateSchema.describe("`online` while it heartbeats, `offline` once its heartbeats stopped."),
  memory_total_mib: z.number().int().describe("Its memory (MemTotal) at the last heartbeat, in MiB.").nullable(),
  memory_free_mib: z.number().int().describe("Its available memory (MemAvailable) at the last heartbeat, in MiB.").nullable(),
  instances: z.number().int().describe("How many instances live on it (templates and checkpoints aside)."),
  last_heartbeat: TimestampSchema.describe("When it last reported.").nullable(),
  joined_at: TimestampSchema.describe("When it first registered."),
});
export type Host = z.infer<typeof HostSchema>;

/** The answer of `GET /v1/hosts` and `GET /v1/hosts/{name}`. */
export const HostsEnvelopeSchema = envelopeSchema("hosts", HostSchema);
