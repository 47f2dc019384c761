/**
 * Bulk forms of the instance actions (Unikraft Cloud's `PUT /v1/instances/start|stop|suspend`,
 * `PATCH /v1/instances`, `DELETE /v1/instances`, `GET /v1/instances/wait` and `/log`): a list of
 * items, each naming an instance, answered item by item (see items.ts). Waits run side by side.
 */
import type { FastifyPluginAsync } from "fastify";
import {
  BulkLogQuerySchema,
  BulkWaitQuerySchema,
  InstanceDeleteItemSchema,
  InstancePatchOpSchema,
  InstanceStartItemSchema,
  InstanceStateSchema,
  InstanceStopItemSchema,
  InstanceSuspendItemSchema,
} from "vmbranch/sdk";
import { ApiError } from "../../core/errors";
import { waitSeconds } from "../../core/instance-actions";
import { refId } from "../../core/lookup";
import type { Core } from "../../core/service";
import { itemsReply, parseItems, parsePatchItems, runItems, runItemsConcurrently, type BulkItem } from "../items";
import { parse } from "../validate";

/** The ids of a bulk read (`?uuid=…&name=…`) with the i-th value of each per-item parameter (or its only value). */
function queryItems<T>(q: { uuid?: string[]; name?: string[] }, build: (i: number) => T): BulkItem<{ id: string } & T>[] {
  const refs = [...(q.uuid ?? []).map((uuid) => ({ uuid })), ...(q.name ?? []).map((name) => ({ name }))];
  if (refs.length === 0) throw new ApiError("VALIDATION_FAILED", "Name the instances with 'uuid' or 'name' query parameters", "uuid");
  return refs.map((ref, i) => ({ ok: true, value: { id: refId(ref), ...build(i) }, ref }));
}

function nth<T>(values: T[] | undefined, i: number): T | undefined {
  if (!values || values.length === 0) return undefined;
  return values.length === 1 ? values[0] : values[i];
}

/** Bulk instance routes. */
export function instanceBulkRoutes(core: Core): FastifyPluginAsync {
  return async (app) => {
    const A = core.actions;

    app.put("/instances/start", async (req, reply) => {
      const items = parseItems(InstanceStartItemSchema, req.body);
      return itemsReply(reply, "instances", await runItems(items, (it) => A.start(refId(it), it)), req);
    });
    app.put("/instances/stop", async (req, reply) => {
      const items = parseItems(InstanceStopItemSchema, req.body);
      // Stops wait for each VM to end: side by side, so N graceful stops take one grace period.
      return itemsReply(reply, "instances", await runItemsConcurrently(items, (it) => A.stop(refId(it), it)), req);
    });
    app.put("/instances/suspend", async (req, reply) => {
      const items = parseItems(InstanceSuspendItemSchema, req.body);
      return itemsReply(reply, "instances", await runItems(items, (it) => A.suspend(refId(it))), req);
    });
    app.patch("/instances", async (req, reply) => {
      const items = parsePatchItems(InstancePatchOpSchema, req.body);
      const results = await runItems(items, async ({ id, op }) => ({ ...(await core.instances.patch(id, [op])), ...(op.id ? { id: op.id } : {}) }));
      return itemsReply(reply, "instances", results, req);
    });
    app.delete("/instances", async (req, reply) => {
      const items = parseItems(InstanceDeleteItemSchema, req.body);
      return itemsReply(reply, "instances", await runItems(items, (it) => A.delete(refId(it))), req);
    });
    app.get("/instances/wait", async (req, reply) => {
      const q = parse(BulkWaitQuerySchema, req.query);
      const abort = new AbortController();
      req.raw.on("close", () => abort.abort());
      const items = queryItems(q, (i) => ({ state: parse(InstanceStateSchema.default("running"), nth(q.state, i)), timeoutS: waitSeconds(nth(q.timeout_s, i), nth(q.timeout_ms, i), 60) }));
      const results = await runItemsConcurrently(items, (it) => core.instances.wait(it.id, it.state, it.timeoutS * 1000, abort.signal));
      return itemsReply(reply, "instances", results, req);
    });
    app.get("/instances/log", async (req, reply) => {
      const q = parse(BulkLogQuerySchema, req.query);
      const items = queryItems(q, (i) => ({ offset: nth(q.offset, i), limit: nth(q.limit, i) }));
      return itemsReply(reply, "instances", await runItems(items, (it) => core.instances.log(it.id, it.offset, it.limit)), req);
    });
  };
}
