/**
 * Checkpoint wire contract (Unikraft Cloud's `/v1/instances/checkpoints`): a checkpoint is an
 * instance in state `checkpoint` captured from a source instance — its memory (when the source
 * had memory) and its block volumes — with tags, a delete lock and an optional delete-on-idle
 * policy. New instances are loaded from it with `POST /v1/instances {"checkpoint": …}`. Also the
 * checkpoint history both instances and checkpoints carry. Zod only.
 */
import { z } from "zod";
import { NameSchema, RefSchema, TagsSchema, TimestampSchema, UuidSchema, oneOrMany } from "./common";
import { AutokillSchema, InstanceStateSchema, MAX_WAIT_S } from "./instance";

/** One item of `POST /v1/instances/checkpoints`. */
export const CheckpointCreateItemSchema = z.strictObject({
  /** The instance to capture: running (live, the guest pauses for milliseconds), standby (with its memory) or stopped (volumes only). */
  from: RefSchema.describe("The instance to capture: running (live, its guest pauses for milliseconds), standby (with its memory) or stopped (volumes only)."),
  name: NameSchema.describe("Name of the checkpoint, unique on the server.").optional(),
  /** Wait up to this long for the capture to complete (`checkpoint` state) before answering; 0 answers at once. */
  timeout_s: z.number().int().min(-1).max(MAX_WAIT_S).optional(),
  tags: TagsSchema.optional(),
  delete_lock: z.boolean().describe("While true the API refuses to delete it. Default false.").optional(),
  autokill: AutokillSchema.optional(),
});
export type CheckpointCreateItem = z.infer<typeof CheckpointCreateItemSchema>;

/** `POST /v1/instances/checkpoints` body: one item or a list. */
export const CheckpointCreateRequestSchema = oneOrMany(CheckpointCreateItemSchema);

/** One entry of a checkpoint history. */
export const CheckpointHistoryEntrySchema = z.object({ uuid: UuidSchema, name: z.string(), created_at: TimestampSchema });
export type CheckpointHistoryEntry = z.infer<typeof CheckpointHistoryEntrySchema>;

/** One state transition of an instance, as its history records it. */
export const StateTransitionSchema = z.object({
  at: TimestampSchema,
  /** null for the creation. */
  from: InstanceStateSchema.nullable(),
  to: InstanceStateSchema,
  reason: z.string(),
});
export type StateTransition = z.infer<typeof StateTransitionSchema>;

/**
 * The history of an instance or checkpoint: `history` lists the checkpoints of its lineage, newest
 * first (the ones taken from it and those inherited from the checkpoint it was loaded from);
 * `transitions`, on instances, its state changes, oldest first, kept across restarts of vmbranch.
 */
export const InstanceHistorySchema = z.object({
  uuid: UuidSchema,
  name: z.string(),
  history: z.array(CheckpointHistoryEntrySchema),
  transitions: z.array(StateTransitionSchema).optional(),
});
export type InstanceHistory = z.infer<typeof InstanceHistorySchema>;
