/**
 * Instance routes (DESIGN.md §3): create (image, template, branch), list, get, PATCH, DELETE,
 * start/stop/suspend, wait, log, and instance templates. Validation with the SDK schemas; the
 * work is core's.
 */
import type { FastifyPluginAsync } from "fastify";
import {
  InstanceCreateRequestSchema,
  InstanceLogQuerySchema,
  InstancePatchRequestSchema,
  InstanceStopRequestSchema,
  InstanceTemplateCreateRequestSchema,
  InstanceWaitQuerySchema,
} from "vmbranch/sdk";
import { z } from "zod";
import type { Core } from "../../core/service";
import { parseTagFilter } from "../../core/lookup";
import { bulk, ok } from "../envelope";
import { parse } from "../validate";

type IdParams = { id: string };
const ListQuerySchema = z.object({ tags: z.string().optional() }).passthrough();

/** Instance and instance template routes. */
export function instanceRoutes(core: Core): FastifyPluginAsync {
  return async (app) => {
    const I = core.instances;

    app.post("/instances", async (req, reply) => {
      const body = parse(InstanceCreateRequestSchema, req.body ?? {});
      reply.code(201);
      return ok("instances", [await core.createInstance(body)], req.id, req.startedNs);
    });
    app.get("/instances", async (req) => {
      const q = parse(ListQuerySchema, req.query);
      return ok("instances", I.list(parseTagFilter(q.tags)), req.id, req.startedNs);
    });

    // Templates before /instances/:id so "templates" is never taken for an instance name.
    app.post("/instances/templates", async (req, reply) => {
      const refs = parse(InstanceTemplateCreateRequestSchema, req.body ?? {});
      const results = await core.templates.create(refs);
      const out = bulk("templates", results, req.id, req.startedNs);
      reply.code(out.status === "error" ? results[0]!.error!.status : 201);
      return out;
    });
    app.get("/instances/templates", async (req) => {
      const q = parse(ListQuerySchema, req.query);
      return ok("templates", core.templates.list(parseTagFilter(q.tags)), req.id, req.startedNs);
    });
    app.get<{ Params: IdParams }>("/instances/templates/:id", async (req) => ok("templates", [core.templates.get(req.params.id)], req.id, req.startedNs));
    app.delete<{ Params: IdParams }>("/instances/templates/:id", async (req) =>
      ok("templates", [await core.templates.delete(req.params.id)], req.id, req.startedNs),
    );

    app.get<{ Params: IdParams }>("/instances/:id", async (req) => ok("instances", [I.get(req.params.id)], req.id, req.startedNs));
    app.patch<{ Params: IdParams }>("/instances/:id", async (req) => {
      const ops = parse(InstancePatchRequestSchema, req.body);
      return ok("instances", [await I.patch(req.params.id, ops)], req.id, req.startedNs);
    });
    app.delete<{ Params: IdParams }>("/instances/:id", async (req) => ok("instances", [await I.delete(req.params.id)], req.id, req.startedNs));
    app.put<{ Params: IdParams }>("/instances/:id/start", async (req) => ok("instances", [await I.start(req.params.id)], req.id, req.startedNs));
    app.put<{ Params: IdParams }>("/instances/:id/stop", async (req) => {
      const body = parse(InstanceStopRequestSchema, req.body ?? {});
      return ok("instances", [await I.stop(req.params.id, body)], req.id, req.startedNs);
    });
    app.put<{ Params: IdParams }>("/instances/:id/suspend", async (req) => ok("instances", [await I.suspend(req.params.id)], req.id, req.startedNs));
    app.get<{ Params: IdParams }>("/instances/:id/wait", async (req) => {
      const q = parse(InstanceWaitQuerySchema, req.query);
      const abort = new AbortController();
      req.raw.on("close", () => abort.abort());
      const inst = await I.wait(req.params.id, q.state, (q.timeout_s ?? 60) * 1000, abort.signal);
      return ok("instances", [inst], req.id, req.startedNs);
    });
    app.get<{ Params: IdParams }>("/instances/:id/log", async (req) => {
      const q = parse(InstanceLogQuerySchema, req.query);
      return ok("logs", [await I.log(req.params.id, q.offset, q.limit)], req.id, req.startedNs);
    });
  };
}
