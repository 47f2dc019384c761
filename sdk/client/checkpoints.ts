/**
 * `client.instances.checkpoints`: capture checkpoints of instances and list, get, update, delete
 * them and read their lineage (`/v1/instances/checkpoints`), one or several at a time. Loading a
 * checkpoint is `client.instances.create({ checkpoint })`. Owns paths and answer schemas only.
 */
import type { z } from "zod";
import {
  CheckpointsEnvelopeSchema,
  InstanceHistoryEnvelopeSchema,
  InstanceSchema,
  type CheckpointCreateItemSchema,
  type Instance,
  type InstanceHistory,
  type Ref,
  type RefOut,
  type TemplateUpdateItem,
} from "../schemas";
import { DeletedInstancesEnvelopeSchema, callDelete, callItems, callMany, callOne, itemsEnvelopeSchema, toRef, type BulkResult } from "./calls";
import type { TemplateUpdateOp } from "./instance-templates";
import { pathSegment, type RequestOptions } from "./options";
import { listPath, pagesOf, paginate, type ListParams } from "./pagination";
import type { Transport } from "./transport";
import { waitForState, type WaitOptions } from "./waiters";

const BASE = "/v1/instances/checkpoints";
const ItemsSchema = itemsEnvelopeSchema("instances", InstanceSchema);

/** One checkpoint to capture: `from` the instance, with an optional name, tags, lock, policy and wait. */
export type CheckpointCreateParams = z.input<typeof CheckpointCreateItemSchema>;

/** Checkpoint endpoints. Obtain through `client.instances.checkpoints`. */
export class Checkpoints {
  constructor(private readonly transport: Transport) {}

  /**
   * Capture a checkpoint of an instance: running (live; `starting` until its memory copy is done,
   * unless `timeout_s` waits for it), standby (with its memory) or stopped (volumes only).
   */
  create(params: CheckpointCreateParams, options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(this.transport, { method: "POST", path: BASE, json: [params], schema: CheckpointsEnvelopeSchema, options }, "instances");
  }

  /** Capture several checkpoints; answered item by item. */
  createMany(items: readonly CheckpointCreateParams[], options?: RequestOptions): Promise<BulkResult<Instance>> {
    return callItems<Instance>(this.transport, { method: "POST", path: BASE, json: items, schema: ItemsSchema, options }, "instances");
  }

  /** List checkpoints (tags, order, paging: see `ListParams`). */
  list(params: ListParams = {}, options?: RequestOptions): Promise<Instance[]> {
    return callMany<Instance>(this.transport, { method: "GET", path: listPath(BASE, params), schema: CheckpointsEnvelopeSchema, options }, "instances");
  }

  /** Iterate over checkpoints, page by page. */
  iterate(params: ListParams = {}, options?: RequestOptions): AsyncGenerator<Instance, void, undefined> {
    return paginate(pagesOf((p) => this.list(p, options), params));
  }

  /** Get one checkpoint by uuid or name. */
  get(idOrName: string, options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(this.transport, { method: "GET", path: `${BASE}/${pathSegment(idOrName)}`, schema: CheckpointsEnvelopeSchema, options }, "instances");
  }

  /** Apply PATCH operations (tags, delete_lock, autokill); returns the updated checkpoint. */
  update(idOrName: string, ops: TemplateUpdateOp | readonly TemplateUpdateOp[], options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(this.transport, { method: "PATCH", path: `${BASE}/${pathSegment(idOrName)}`, json: ops, schema: CheckpointsEnvelopeSchema, options }, "instances");
  }

  /** One PATCH operation per item, each naming its checkpoint; answered item by item. */
  updateMany(items: readonly TemplateUpdateItem[], options?: RequestOptions): Promise<BulkResult<Instance>> {
    return callItems<Instance>(this.transport, { method: "PATCH", path: BASE, json: items, schema: ItemsSchema, options }, "instances");
  }

  /** Delete a checkpoint (refused while locked); instances loaded from it stay. */
  delete(idOrName: string, options?: RequestOptions): Promise<RefOut | undefined> {
    return callDelete(this.transport, { method: "DELETE", path: `${BASE}/${pathSegment(idOrName)}`, schema: DeletedInstancesEnvelopeSchema, options }, "instances");
  }

  /** Delete several checkpoints; answered item by item. */
  deleteMany(checkpoints: readonly (string | Ref)[], options?: RequestOptions): Promise<BulkResult<Instance>> {
    return callItems<Instance>(this.transport, { method: "DELETE", path: BASE, json: checkpoints.map(toRef), schema: ItemsSchema, options }, "instances");
  }

  /** The lineage of a checkpoint: itself and the checkpoints it descends from, newest first. */
  history(idOrName: string, options?: RequestOptions): Promise<InstanceHistory> {
    return callOne<InstanceHistory>(this.transport, { method: "GET", path: `${BASE}/${pathSegment(idOrName)}/history`, schema: InstanceHistoryEnvelopeSchema, options }, "instances");
  }

  /** Wait until the checkpoint is ready (`checkpoint`), polling; rejects when its capture failed (`error`). */
  waitFor(idOrName: string, options: WaitOptions = {}): Promise<Instance> {
    return waitForState<Instance>(
      {
        kind: "checkpoint",
        idOrName,
        targets: ["checkpoint"],
        terminal: ["error", "deleted"],
        reason: (c) => c.checkpoint?.message,
        get: (o) => this.get(idOrName, o),
        defaultPollMs: 250,
      },
      options,
    );
  }
}
