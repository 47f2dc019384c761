/**
 * The response envelope every `/v1` endpoint returns (docs/api.md, "The envelope"): status,
 * optional message, `data` keyed by resource kind (always an array), and `errors` carrying HTTP
 * status and code.
 */
import { z } from "zod";

/** One error inside an envelope. `field` names the offending input when there is one. */
export const ApiErrorItemSchema = z.object({
  status: z.number().int(),
  code: z.string(),
  message: z.string(),
  field: z.string().optional(),
});
export type ApiErrorItem = z.infer<typeof ApiErrorItemSchema>;

/** Envelope status values. */
export const EnvelopeStatusSchema = z.enum(["success", "error", "partial_success"]);

/** Build the envelope schema for a response whose `data` holds `kind: item[]`. */
export function envelopeSchema<K extends string, T extends z.ZodType>(kind: K, item: T) {
  return z.object({
    status: EnvelopeStatusSchema,
    message: z.string().optional(),
    data: z.object({ [kind]: z.array(item) } as { [P in K]: z.ZodArray<T> }).optional(),
    errors: z.array(ApiErrorItemSchema).optional(),
    request_id: z.string().optional(),
    op_time_us: z.number().optional(),
  });
}

/** An error envelope (no data). */
export const ErrorEnvelopeSchema = z.object({
  status: z.literal("error"),
  message: z.string().optional(),
  errors: z.array(ApiErrorItemSchema),
  request_id: z.string().optional(),
  op_time_us: z.number().optional(),
});
export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;

/** The shape of any envelope, before its data is checked. */
export type Envelope<K extends string, T> = {
  status: "success" | "error" | "partial_success";
  message?: string;
  data?: { [P in K]: T[] };
  errors?: ApiErrorItem[];
  request_id?: string;
  op_time_us?: number;
};
