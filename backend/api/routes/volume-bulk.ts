/**
 * Bulk and by-id forms of the volume actions (Unikraft Cloud's `PUT /v1/volumes/attach|detach`,
 * `PATCH /v1/volumes`, `DELETE /v1/volumes`, `POST /v1/volumes/{id}/clone`, and the bulk PATCH and
 * DELETE of volume templates), answered item by item (see items.ts). The work is core's.
 */
import type { FastifyPluginAsync } from "fastify";
import {
  RefItemSchema,
  VolumeAttachItemSchema,
  VolumeCloneByIdRequestSchema,
  VolumeDetachItemSchema,
  VolumePatchOpSchema,
  looksLikeUuid,
} from "vmbranch/sdk";
import { refId } from "../../core/lookup";
import type { Core } from "../../core/service";
import { itemsReply, parseItems, parsePatchItems, runItems } from "../items";
import { parse } from "../validate";

type IdParams = { id: string };

/** Bulk volume routes. */
export function volumeBulkRoutes(core: Core): FastifyPluginAsync {
  return async (app) => {
    const V = core.volumes;

    app.put("/volumes/attach", async (req, reply) => {
      const items = parseItems(VolumeAttachItemSchema, req.body);
      return itemsReply(reply, "volumes", await runItems(items, (it) => V.attach(refId(it), it)), req);
    });
    app.put("/volumes/detach", async (req, reply) => {
      const items = parseItems(VolumeDetachItemSchema, req.body);
      return itemsReply(reply, "volumes", await runItems(items, (it) => V.detach(refId(it), it)), req);
    });
    app.patch("/volumes", async (req, reply) => {
      const items = parsePatchItems(VolumePatchOpSchema, req.body);
      const results = await runItems(items, async ({ id, op }) => ({ ...(await V.patch(id, [op])), ...(op.id ? { id: op.id } : {}) }));
      return itemsReply(reply, "volumes", results, req);
    });
    app.delete("/volumes", async (req, reply) => {
      const items = parseItems(RefItemSchema, req.body);
      return itemsReply(reply, "volumes", await runItems(items, (ref) => V.delete(refId(ref))), req);
    });
    app.patch("/volumes/templates", async (req, reply) => {
      const items = parsePatchItems(VolumePatchOpSchema, req.body);
      const results = await runItems(items, async ({ id, op }) => ({ ...(await V.patch(id, [op], true)), ...(op.id ? { id: op.id } : {}) }));
      return itemsReply(reply, "volumes", results, req);
    });
    app.delete("/volumes/templates", async (req, reply) => {
      const items = parseItems(RefItemSchema, req.body);
      return itemsReply(reply, "volumes", await runItems(items, (ref) => V.delete(refId(ref), true)), req);
    });
    app.post<{ Params: IdParams }>("/volumes/:id/clone", async (req, reply) => {
      const body = parse(VolumeCloneByIdRequestSchema, req.body ?? {});
      const id = req.params.id;
      const source = looksLikeUuid(id) ? { uuid: id } : { name: id };
      const [result] = await core.clones.clone([{ ...source, ...body }]);
      if (!result!.ok) throw result!.error!;
      const v = result!.value!;
      return itemsReply(reply, "volumes", [{ ok: true, value: { uuid: v.uuid, name: v.name, state: v.state }, ref: source }], req, 201);
    });
  };
}
