/**
 * Envelope schemas of each response kind, so clients and tests validate whole responses. As on
 * Unikraft Cloud, items live under the kind of resource they are: instance templates,
 * checkpoints, logs, histories and metrics under `instances`; volume templates under `volumes`.
 */
import { z } from "zod";
import { InstanceHistorySchema } from "./checkpoint";
import { envelopeSchema } from "./envelope";
import { InstanceActionResultSchema, InstanceLogSchema, InstanceSchema } from "./instance";
import { InstanceMetricsSchema } from "./metrics";
import { VolumeCloneResultSchema, VolumeSchema } from "./volume";
import { ImageSchema } from "./image";

export const InstancesEnvelopeSchema = envelopeSchema("instances", InstanceSchema);
/** Answers of start, stop, suspend and delete: each item with `status` and `previous_state`. */
export const InstanceActionsEnvelopeSchema = envelopeSchema("instances", InstanceActionResultSchema);
export const InstanceLogEnvelopeSchema = envelopeSchema("instances", InstanceLogSchema);
export const InstanceHistoryEnvelopeSchema = envelopeSchema("instances", InstanceHistorySchema);
export const InstanceMetricsEnvelopeSchema = envelopeSchema("instances", InstanceMetricsSchema);
export const InstanceTemplatesEnvelopeSchema = envelopeSchema("instances", InstanceSchema);
export const CheckpointsEnvelopeSchema = envelopeSchema("instances", InstanceSchema);
export const VolumesEnvelopeSchema = envelopeSchema("volumes", VolumeSchema);
export const VolumeTemplatesEnvelopeSchema = envelopeSchema("volumes", VolumeSchema);
export const VolumeClonesEnvelopeSchema = envelopeSchema("volumes", VolumeCloneResultSchema);
export const ImagesEnvelopeSchema = envelopeSchema("images", ImageSchema);
/** `GET /healthz` body (not enveloped: it needs no auth and no parsing). */
export const HealthSchema = z.object({ status: z.literal("ok"), version: z.string() });
