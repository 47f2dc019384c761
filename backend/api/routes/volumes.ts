/**
 * Volume routes (docs/api.md, "Volumes"): volumes, attach/detach, import, clones and volume templates.
 * Validation with the SDK schemas; the work is core's.
 */
import type { Readable } from "node:stream";
import type { FastifyPluginAsync } from "fastify";
import {
  ListQuerySchema,
  VolumeAttachRequestSchema,
  VolumeCloneRequestSchema,
  VolumeCreateRequestSchema,
  VolumeDetachRequestSchema,
  VolumePatchRequestSchema,
  VolumeTemplateRequestSchema,
} from "vmbranch/sdk";
import { ApiError } from "../../core/errors";
import { applyListQuery, brief } from "../../core/listing";
import type { Core } from "../../core/service";
import { bulk, ok } from "../envelope";
import { itemsReply } from "../items";
import { parse } from "../validate";

type IdParams = { id: string };

/** Volume and volume template routes. */
export function volumeRoutes(core: Core): FastifyPluginAsync {
  return async (app) => {
    const V = core.volumes;

    app.post("/volumes", async (req, reply) => {
      const body = parse(VolumeCreateRequestSchema, req.body ?? {});
      reply.code(201);
      return ok("volumes", [await V.create(body)], req.id, req.startedNs);
    });
    app.get("/volumes", async (req, reply) => {
      const q = parse(ListQuerySchema, req.query);
      const results = applyListQuery(core.ctx.store.volumes.plain(), q, (id) => new ApiError("VOLUME_NOT_FOUND", `Volume '${id}' not found`));
      const view = V.viewer();
      return itemsReply(reply, "volumes", results, req, 200, (rec) => brief(view(rec), q.details));
    });

    app.post("/volumes/clone", async (req, reply) => {
      const items = parse(VolumeCloneRequestSchema, req.body ?? {});
      const results = await core.clones.clone(items);
      type Item = { status: "success" | "error"; uuid?: string; name?: string; state?: string; message?: string; error?: number };
      const out = bulk<(typeof results)[number]["value"] & object, Item>("volumes", results, req.id, req.startedNs,
        (v) => ({ status: "success", uuid: v.uuid, name: v.name, state: v.state }),
        (e, i) => ({ status: "error", ...(items[i]!.uuid ? { uuid: items[i]!.uuid } : {}), ...(items[i]!.name ? { name: items[i]!.name } : {}), message: e.message, error: e.status }));
      reply.code(out.status === "error" ? results[0]!.error!.status : 201);
      return out;
    });

    app.post("/volumes/templates", async (req, reply) => {
      const items = parse(VolumeTemplateRequestSchema, req.body ?? {});
      const results = await core.clones.createTemplates(items);
      const out = bulk("volumes", results, req.id, req.startedNs);
      reply.code(out.status === "error" ? results[0]!.error!.status : 201);
      return out;
    });
    app.get("/volumes/templates", async (req, reply) => {
      const q = parse(ListQuerySchema, req.query);
      const all = core.ctx.store.volumes.templates();
      const results = applyListQuery(all, q, (id) => new ApiError("VOLUME_TEMPLATE_NOT_FOUND", `Volume template '${id}' not found`));
      const view = V.viewer();
      return itemsReply(reply, "volumes", results, req, 200, (rec) => brief(view(rec), q.details));
    });
    app.get<{ Params: IdParams }>("/volumes/templates/:id", async (req) => ok("volumes", [core.clones.getTemplate(req.params.id)], req.id, req.startedNs));
    app.patch<{ Params: IdParams }>("/volumes/templates/:id", async (req) =>
      ok("volumes", [await V.patch(req.params.id, parse(VolumePatchRequestSchema, req.body), true)], req.id, req.startedNs),
    );
    app.delete<{ Params: IdParams }>("/volumes/templates/:id", async (req) => ok("volumes", [await V.delete(req.params.id, true)], req.id, req.startedNs));

    app.get<{ Params: IdParams }>("/volumes/:id", async (req) => ok("volumes", [V.get(req.params.id)], req.id, req.startedNs));
    app.patch<{ Params: IdParams }>("/volumes/:id", async (req) =>
      ok("volumes", [await V.patch(req.params.id, parse(VolumePatchRequestSchema, req.body))], req.id, req.startedNs),
    );
    app.delete<{ Params: IdParams }>("/volumes/:id", async (req) => ok("volumes", [await V.delete(req.params.id)], req.id, req.startedNs));
    app.put<{ Params: IdParams }>("/volumes/:id/attach", async (req) =>
      ok("volumes", [await V.attach(req.params.id, parse(VolumeAttachRequestSchema, req.body ?? {}))], req.id, req.startedNs),
    );
    app.put<{ Params: IdParams }>("/volumes/:id/detach", async (req) =>
      ok("volumes", [await V.detach(req.params.id, parse(VolumeDetachRequestSchema, req.body ?? {}))], req.id, req.startedNs),
    );
    app.put<{ Params: IdParams }>("/volumes/:id/import", async (req, reply) => {
      const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
      if (!["application/x-tar", "application/octet-stream", "application/gzip", "application/x-gzip"].includes(type))
        throw new ApiError("UNSUPPORTED_MEDIA_TYPE", `Import takes a tar stream (Content-Type: application/x-tar), not '${type}'`);
      try {
        return ok("volumes", [await V.import(req.params.id, req.body as Readable)], req.id, req.startedNs);
      } catch (err) {
        // The rest of an abandoned body is not read: close the connection after the answer.
        if (!req.raw.readableEnded) reply.header("connection", "close");
        throw err;
      }
    });
  };
}
