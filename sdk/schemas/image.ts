/** Image wire contract: what `GET /v1/images` lists. Zod only. */
import { z } from "zod";
import { TimestampSchema } from "./common";

/** An image in the local image store. */
export const ImageSchema = z.object({
  name: z.string(),
  digest: z.string(),
  kernel_version: z.string(),
  features: z.array(z.string()),
  size_bytes: z.number().int(),
  created_at: TimestampSchema,
});
export type Image = z.infer<typeof ImageSchema>;
