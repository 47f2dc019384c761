/**
 * Instance routes (docs/api.md, "Instances"): create (image, template, branch, checkpoint), list,
 * get, PATCH, DELETE, start/stop/suspend, wait and log of one instance. Bulk forms, templates,
 * checkpoints, history and metrics have their own route files. Validation with the SDK schemas;
 * the work is core's.
 */
import type { FastifyPluginAsync } from "fastify";
import {
  InstanceCreateRequestSchema,
  InstanceDeleteRequestSchema,
  InstanceLogQuerySchema,
  InstancePatchRequestSchema,
  InstanceStartRequestSchema,
  InstanceStopRequestSchema,
  InstanceSuspendRequestSchema,
  InstanceWaitQuerySchema,
  ListQuerySchema,
} from "vmbranch/sdk";
import { ApiError } from "../../core/errors";
import { waitSeconds } from "../../core/instance-actions";
import { applyListQuery, brief } from "../../core/listing";
import type { Core } from "../../core/service";
import { ok } from "../envelope";
import { itemsReply } from "../items";
import { parse } from "../validate";

type IdParams = { id: string };

/** Instance routes. */
export function instanceRoutes(core: Core): FastifyPluginAsync {
  return async (app) => {
    const I = core.instances;

    app.post("/instances", async (req, reply) => {
      const body = parse(InstanceCreateRequestSchema, req.body ?? {});
      reply.code(201);
      return ok("instances", await core.createInstances(body), req.id, req.startedNs);
    });
    app.get("/instances", async (req, reply) => {
      const q = parse(ListQuerySchema, req.query);
      const all = core.ctx.store.instances.plain();
      const results = applyListQuery(all, q, (id) => new ApiError("INSTANCE_NOT_FOUND", `Instance '${id}' not found`));
      const view = I.viewer();
      return itemsReply(reply, "instances", results, req, 200, (rec) => brief(view(rec), q.details));
    });

    app.get<{ Params: IdParams }>("/instances/:id", async (req) => ok("instances", [I.get(req.params.id)], req.id, req.startedNs));
    app.patch<{ Params: IdParams }>("/instances/:id", async (req) => {
      const ops = parse(InstancePatchRequestSchema, req.body);
      return ok("instances", [await I.patch(req.params.id, ops)], req.id, req.startedNs);
    });
    app.delete<{ Params: IdParams }>("/instances/:id", async (req) => {
      parse(InstanceDeleteRequestSchema, req.body ?? {});
      return ok("instances", [await core.actions.delete(req.params.id)], req.id, req.startedNs);
    });
    app.put<{ Params: IdParams }>("/instances/:id/start", async (req) => {
      const body = parse(InstanceStartRequestSchema, req.body ?? {});
      return ok("instances", [await core.actions.start(req.params.id, body)], req.id, req.startedNs);
    });
    app.put<{ Params: IdParams }>("/instances/:id/stop", async (req) => {
      const body = parse(InstanceStopRequestSchema, req.body ?? {});
      return ok("instances", [await core.actions.stop(req.params.id, body)], req.id, req.startedNs);
    });
    app.put<{ Params: IdParams }>("/instances/:id/suspend", async (req) => {
      parse(InstanceSuspendRequestSchema, req.body ?? {});
      return ok("instances", [await core.actions.suspend(req.params.id)], req.id, req.startedNs);
    });
    app.get<{ Params: IdParams }>("/instances/:id/wait", async (req) => {
      const q = parse(InstanceWaitQuerySchema, req.query);
      const abort = new AbortController();
      req.raw.on("close", () => abort.abort());
      const inst = await I.wait(req.params.id, q.state ?? "running", waitSeconds(q.timeout_s, q.timeout_ms, 60) * 1000, abort.signal);
      return ok("instances", [inst], req.id, req.startedNs);
    });
    app.get<{ Params: IdParams }>("/instances/:id/log", async (req) => {
      const q = parse(InstanceLogQuerySchema, req.query);
      return ok("instances", [await I.log(req.params.id, q.offset, q.limit)], req.id, req.startedNs);
    });
  };
}
