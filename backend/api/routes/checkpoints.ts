/**
 * Checkpoint routes (`/v1/instances/checkpoints`): create from instances, list, get, update (tags,
 * delete lock, delete-on-idle policy), delete — per checkpoint and in bulk — and checkpoint
 * histories. Loading a checkpoint is `POST /v1/instances {"checkpoint": …}`. The work is core's.
 */
import type { FastifyPluginAsync } from "fastify";
import {
  CheckpointCreateItemSchema,
  IdsQuerySchema,
  ListQuerySchema,
  RefItemSchema,
  TemplatePatchOpSchema,
  TemplatePatchRequestSchema,
} from "vmbranch/sdk";
import { ApiError } from "../../core/errors";
import { applyListQuery, brief } from "../../core/listing";
import { refId, requireCheckpoint } from "../../core/lookup";
import type { Core } from "../../core/service";
import { ok } from "../envelope";
import { itemsReply, parseItems, parsePatchItems, runItems } from "../items";
import { parse } from "../validate";

type IdParams = { id: string };

/** Checkpoint routes. */
export function checkpointRoutes(core: Core): FastifyPluginAsync {
  return async (app) => {
    const C = core.checkpoints;
    const notFound = (id: string) => new ApiError("CHECKPOINT_NOT_FOUND", `Checkpoint '${id}' not found`);

    app.post("/instances/checkpoints", async (req, reply) => {
      const items = parseItems(CheckpointCreateItemSchema, req.body);
      return itemsReply(reply, "instances", await runItems(items, (item) => C.create(item)), req, 201);
    });
    app.get("/instances/checkpoints", async (req, reply) => {
      const q = parse(ListQuerySchema, req.query);
      const results = applyListQuery(C.records(), q, notFound);
      return itemsReply(reply, "instances", results, req, 200, (rec) => brief(core.instances.view(rec), q.details));
    });
    app.patch("/instances/checkpoints", async (req, reply) => {
      const items = parsePatchItems(TemplatePatchOpSchema, req.body);
      const results = await runItems(items, async ({ id, op }) => ({ ...(await C.patch(id, [op])), ...(op.id ? { id: op.id } : {}) }));
      return itemsReply(reply, "instances", results, req);
    });
    app.delete("/instances/checkpoints", async (req, reply) => {
      const items = parseItems(RefItemSchema, req.body);
      return itemsReply(reply, "instances", await runItems(items, (ref) => C.delete(refId(ref))), req);
    });
    app.get("/instances/checkpoints/history", async (req, reply) => {
      const q = parse(IdsQuerySchema, req.query);
      const results = applyListQuery(C.records(), q, notFound);
      return itemsReply(reply, "instances", results, req, 200, (rec) => core.history.ofCheckpoint(rec));
    });

    app.get<{ Params: IdParams }>("/instances/checkpoints/:id", async (req) => ok("instances", [C.get(req.params.id)], req.id, req.startedNs));
    app.patch<{ Params: IdParams }>("/instances/checkpoints/:id", async (req) => {
      const ops = parse(TemplatePatchRequestSchema, req.body);
      return ok("instances", [await C.patch(req.params.id, ops)], req.id, req.startedNs);
    });
    app.delete<{ Params: IdParams }>("/instances/checkpoints/:id", async (req) => ok("instances", [await C.delete(req.params.id)], req.id, req.startedNs));
    app.get<{ Params: IdParams }>("/instances/checkpoints/:id/history", async (req) =>
      ok("instances", [core.history.ofCheckpoint(requireCheckpoint(core.ctx.store, req.params.id))], req.id, req.startedNs),
    );
  };
}
