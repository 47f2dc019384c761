/** Envelope schemas of each response kind, so clients and tests validate whole responses. */
import { z } from "zod";
import { envelopeSchema } from "./envelope";
import { InstanceLogSchema, InstanceSchema } from "./instance";
import { VolumeCloneResultSchema, VolumeSchema } from "./volume";
import { ImageSchema } from "./image";

export const InstancesEnvelopeSchema = envelopeSchema("instances", InstanceSchema);
export const InstanceLogEnvelopeSchema = envelopeSchema("logs", InstanceLogSchema);
export const VolumesEnvelopeSchema = envelopeSchema("volumes", VolumeSchema);
export const VolumeTemplatesEnvelopeSchema = envelopeSchema("templates", VolumeSchema);
export const InstanceTemplatesEnvelopeSchema = envelopeSchema("templates", InstanceSchema);
export const VolumeClonesEnvelopeSchema = envelopeSchema("volumes", VolumeCloneResultSchema);
export const ImagesEnvelopeSchema = envelopeSchema("images", ImageSchema);
/** `GET /healthz` body (not enveloped: it needs no auth and no parsing). */
export const HealthSchema = z.object({ status: z.literal("ok"), version: z.string() });
