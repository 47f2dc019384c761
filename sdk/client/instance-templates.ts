/**
 * `client.instances.templates`: convert stopped or standby instances into instance templates, and
 * list, get, update and delete templates (`/v1/instances/templates`), one or several at a time.
 * Owns paths and answer schemas only. Instantiating a template is `client.instances.create({ template })`.
 */
import {
  InstanceSchema,
  InstanceTemplatesEnvelopeSchema,
  type Autokill,
  type Instance,
  type Ref,
  type RefOut,
  type TemplatePatchOp,
  type TemplateUpdateItem,
} from "../schemas";
import { DeletedInstancesEnvelopeSchema, callBulk, callDelete, callItems, callMany, callOne, itemsEnvelopeSchema, toRef, type BulkResult, type PatchOpInput } from "./calls";
import { pathSegment, type RequestOptions } from "./options";
import { listPath, pagesOf, paginate, type ListParams } from "./pagination";
import type { Transport } from "./transport";

const BASE = "/v1/instances/templates";
const ItemsSchema = itemsEnvelopeSchema("instances", InstanceSchema);

/** One PATCH operation on a template or checkpoint (tags, delete_lock, autokill). */
export type TemplateUpdateOp = PatchOpInput<TemplatePatchOp>;
/** What to convert: an instance (uuid, name or reference), optionally with a delete-on-idle policy. */
export type InstanceTemplateCreateParams = string | (Ref & { autokill?: Autokill });

function toItem(p: InstanceTemplateCreateParams): Ref & { autokill?: Autokill } {
  return typeof p === "string" ? toRef(p) : p;
}

/** Instance template endpoints. Obtain through `client.instances.templates`. */
export class InstanceTemplates {
  constructor(private readonly transport: Transport) {}

  /**
   * Convert one instance into a template; its volumes become volume templates atomically. Only
   * valid while the instance is stopped or in standby.
   */
  create(instance: InstanceTemplateCreateParams, options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(this.transport, { method: "POST", path: BASE, json: toItem(instance), schema: InstanceTemplatesEnvelopeSchema, options }, "instances");
  }

  /** Convert several instances in one request; items that failed come back in `errors`. */
  createMany(instances: readonly InstanceTemplateCreateParams[], options?: RequestOptions): Promise<BulkResult<Instance>> {
    return callBulk<Instance>(this.transport, { method: "POST", path: BASE, json: instances.map(toItem), schema: InstanceTemplatesEnvelopeSchema, options }, "instances");
  }

  /** List instance templates (tags, order, paging: see `ListParams`). */
  list(params: ListParams = {}, options?: RequestOptions): Promise<Instance[]> {
    return callMany<Instance>(this.transport, { method: "GET", path: listPath(BASE, params), schema: InstanceTemplatesEnvelopeSchema, options }, "instances");
  }

  /** Iterate over instance templates, page by page. */
  iterate(params: ListParams = {}, options?: RequestOptions): AsyncGenerator<Instance, void, undefined> {
    return paginate(pagesOf((p) => this.list(p, options), params));
  }

  /** Get one instance template by uuid or name. */
  get(idOrName: string, options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(this.transport, { method: "GET", path: `${BASE}/${pathSegment(idOrName)}`, schema: InstanceTemplatesEnvelopeSchema, options }, "instances");
  }

  /** Apply PATCH operations (tags, delete_lock, autokill); returns the updated template. */
  update(idOrName: string, ops: TemplateUpdateOp | readonly TemplateUpdateOp[], options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(this.transport, { method: "PATCH", path: `${BASE}/${pathSegment(idOrName)}`, json: ops, schema: InstanceTemplatesEnvelopeSchema, options }, "instances");
  }

  /** One PATCH operation per item, each naming its template; answered item by item. */
  updateMany(items: readonly TemplateUpdateItem[], options?: RequestOptions): Promise<BulkResult<Instance>> {
    return callItems<Instance>(this.transport, { method: "PATCH", path: BASE, json: items, schema: ItemsSchema, options }, "instances");
  }

  /** Delete an instance template (refused while instances use its volumes, or while locked). */
  delete(idOrName: string, options?: RequestOptions): Promise<RefOut | undefined> {
    return callDelete(this.transport, { method: "DELETE", path: `${BASE}/${pathSegment(idOrName)}`, schema: DeletedInstancesEnvelopeSchema, options }, "instances");
  }

  /** Delete several templates; answered item by item. */
  deleteMany(templates: readonly (string | Ref)[], options?: RequestOptions): Promise<BulkResult<Instance>> {
    return callItems<Instance>(this.transport, { method: "DELETE", path: BASE, json: templates.map(toRef), schema: ItemsSchema, options }, "instances");
  }
}
