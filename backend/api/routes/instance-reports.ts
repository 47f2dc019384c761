/**
 * What happened to instances and what they cost: histories (checkpoint lineage and state
 * transitions) and metrics, per instance and for several (`?uuid=…&name=…`, all when none).
 */
import type { FastifyPluginAsync } from "fastify";
import { IdsQuerySchema } from "vmbranch/sdk";
import { ApiError } from "../../core/errors";
import { applyListQuery } from "../../core/listing";
import { requireInstance } from "../../core/lookup";
import { Metrics } from "../../core/metrics";
import type { Core } from "../../core/service";
import { ok } from "../envelope";
import { itemsReply, runItemsConcurrently } from "../items";
import { parse } from "../validate";

type IdParams = { id: string };

/** History and metrics routes. */
export function instanceReportRoutes(core: Core): FastifyPluginAsync {
  return async (app) => {
    const notFound = (id: string) => new ApiError("INSTANCE_NOT_FOUND", `Instance '${id}' not found`);
    const selected = (query: unknown) => applyListQuery(core.ctx.store.instances.plain(), parse(IdsQuerySchema, query), notFound);

    app.get("/instances/history", async (req, reply) =>
      itemsReply(reply, "instances", selected(req.query), req, 200, (rec) => core.history.ofInstance(rec)),
    );
    app.get<{ Params: IdParams }>("/instances/:id/history", async (req) =>
      ok("instances", [core.history.ofInstance(requireInstance(core.ctx.store, req.params.id))], req.id, req.startedNs),
    );
    app.get("/instances/metrics", async (req, reply) => {
      const results = await runItemsConcurrently(selected(req.query), async (rec) => Metrics.view(await core.metrics.sample(rec)));
      return itemsReply(reply, "instances", results, req, 200, (m) => m);
    });
    app.get<{ Params: IdParams }>("/instances/:id/metrics", async (req) =>
      ok("instances", [Metrics.view(await core.metrics.sample(requireInstance(core.ctx.store, req.params.id)))], req.id, req.startedNs),
    );
  };
}
