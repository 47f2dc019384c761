/**
 * Instance template routes (`/v1/instances/templates`): convert instances into templates, list,
 * get, update (tags, delete lock, delete-on-idle policy) and delete, each per template and in
 * bulk. Validation with the SDK schemas; the work is core's.
 */
import type { FastifyPluginAsync } from "fastify";
import { InstanceTemplateCreateRequestSchema, ListQuerySchema, RefItemSchema, TemplatePatchOpSchema, TemplatePatchRequestSchema } from "vmbranch/sdk";
import { ApiError } from "../../core/errors";
import { applyListQuery, brief } from "../../core/listing";
import { refId } from "../../core/lookup";
import type { Core } from "../../core/service";
import { bulk, ok } from "../envelope";
import { itemsReply, parseItems, parsePatchItems, runItems } from "../items";
import { parse } from "../validate";

type IdParams = { id: string };

/** Instance template routes. */
export function instanceTemplateRoutes(core: Core): FastifyPluginAsync {
  return async (app) => {
    const T = core.templates;

    app.post("/instances/templates", async (req, reply) => {
      const items = parse(InstanceTemplateCreateRequestSchema, req.body ?? {});
      const results = await core.templateUpdates.create(items);
      const out = bulk("instances", results, req.id, req.startedNs);
      reply.code(out.status === "error" ? results[0]!.error!.status : 201);
      return out;
    });
    app.get("/instances/templates", async (req, reply) => {
      const q = parse(ListQuerySchema, req.query);
      const all = core.ctx.store.instances.templates();
      const results = applyListQuery(all, q, (id) => new ApiError("TEMPLATE_NOT_FOUND", `Instance template '${id}' not found`));
      return itemsReply(reply, "instances", results, req, 200, (rec) => brief(core.instances.view(rec), q.details));
    });
    app.patch("/instances/templates", async (req, reply) => {
      const items = parsePatchItems(TemplatePatchOpSchema, req.body);
      const results = await runItems(items, async ({ id, op }) => ({ ...(await core.templateUpdates.patch(id, [op])), ...(op.id ? { id: op.id } : {}) }));
      return itemsReply(reply, "instances", results, req);
    });
    app.delete("/instances/templates", async (req, reply) => {
      const items = parseItems(RefItemSchema, req.body);
      return itemsReply(reply, "instances", await runItems(items, (ref) => T.delete(refId(ref))), req);
    });

    app.get<{ Params: IdParams }>("/instances/templates/:id", async (req) => ok("instances", [T.get(req.params.id)], req.id, req.startedNs));
    app.patch<{ Params: IdParams }>("/instances/templates/:id", async (req) => {
      const ops = parse(TemplatePatchRequestSchema, req.body);
      return ok("instances", [await core.templateUpdates.patch(req.params.id, ops)], req.id, req.startedNs);
    });
    app.delete<{ Params: IdParams }>("/instances/templates/:id", async (req) =>
      ok("instances", [await T.delete(req.params.id)], req.id, req.startedNs),
    );
  };
}
