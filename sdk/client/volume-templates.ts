/**
 * `client.volumes.templates`: make volume templates (convert a volume in place, or freeze a copy of
 * its contents while it stays writable) and list, get, update and delete them
 * (`/v1/volumes/templates`), one or several at a time. Owns paths and answer schemas only;
 * instantiating a template is `client.volumes.create({ template })` and cloning it `client.volumes.clone`.
 */
import {
  VolumeSchema,
  VolumeTemplatesEnvelopeSchema,
  type Ref,
  type RefOut,
  type Volume,
  type VolumeTemplateItem,
  type VolumeUpdateItem,
} from "../schemas";
import { DeletedVolumesEnvelopeSchema, callBulk, callDelete, callItems, callMany, callOne, itemsEnvelopeSchema, toRef, type BulkResult } from "./calls";
import { pathSegment, type RequestOptions } from "./options";
import { listPath, pagesOf, paginate, type ListParams } from "./pagination";
import type { Transport } from "./transport";
import type { VolumeUpdateOp } from "./volumes";

const BASE = "/v1/volumes/templates";
const ItemsSchema = itemsEnvelopeSchema("volumes", VolumeSchema);

/** A template request item, or just the source volume's uuid or name (mode `convert`). */
export type VolumeTemplateCreateParams = VolumeTemplateItem | string;

function toItem(params: VolumeTemplateCreateParams): VolumeTemplateItem {
  return typeof params === "string" ? toRef(params) : params;
}

/** Volume template endpoints. Obtain through `client.volumes.templates`. */
export class VolumeTemplates {
  constructor(private readonly transport: Transport) {}

  /**
   * Make one template. `mode: "convert"` (default) turns the volume itself into a template (only
   * valid while it is not mounted); `mode: "copy"` freezes its contents as `template_name`.
   */
  create(params: VolumeTemplateCreateParams, options?: RequestOptions): Promise<Volume> {
    return callOne<Volume>(this.transport, { method: "POST", path: BASE, json: toItem(params), schema: VolumeTemplatesEnvelopeSchema, options }, "volumes");
  }

  /** Make several templates in one request; items that failed come back in `errors`. */
  createMany(items: readonly VolumeTemplateCreateParams[], options?: RequestOptions): Promise<BulkResult<Volume>> {
    return callBulk<Volume>(this.transport, { method: "POST", path: BASE, json: items.map(toItem), schema: VolumeTemplatesEnvelopeSchema, options }, "volumes");
  }

  /** List volume templates (tags, order, paging: see `ListParams`). */
  list(params: ListParams = {}, options?: RequestOptions): Promise<Volume[]> {
    return callMany<Volume>(this.transport, { method: "GET", path: listPath(BASE, params), schema: VolumeTemplatesEnvelopeSchema, options }, "volumes");
  }

  /** Iterate over volume templates, page by page. */
  iterate(params: ListParams = {}, options?: RequestOptions): AsyncGenerator<Volume, void, undefined> {
    return paginate(pagesOf((p) => this.list(p, options), params));
  }

  /** Get one volume template by uuid or name. */
  get(idOrName: string, options?: RequestOptions): Promise<Volume> {
    return callOne<Volume>(this.transport, { method: "GET", path: `${BASE}/${pathSegment(idOrName)}`, schema: VolumeTemplatesEnvelopeSchema, options }, "volumes");
  }

  /** Apply PATCH operations (tags, delete_lock; a template's size never changes). */
  update(idOrName: string, ops: VolumeUpdateOp | readonly VolumeUpdateOp[], options?: RequestOptions): Promise<Volume> {
    return callOne<Volume>(this.transport, { method: "PATCH", path: `${BASE}/${pathSegment(idOrName)}`, json: ops, schema: VolumeTemplatesEnvelopeSchema, options }, "volumes");
  }

  /** One PATCH operation per item, each naming its template; answered item by item. */
  updateMany(items: readonly VolumeUpdateItem[], options?: RequestOptions): Promise<BulkResult<Volume>> {
    return callItems<Volume>(this.transport, { method: "PATCH", path: BASE, json: items, schema: ItemsSchema, options }, "volumes");
  }

  /** Delete a volume template (refused while clones depend on it or while locked). */
  delete(idOrName: string, options?: RequestOptions): Promise<RefOut | undefined> {
    return callDelete(this.transport, { method: "DELETE", path: `${BASE}/${pathSegment(idOrName)}`, schema: DeletedVolumesEnvelopeSchema, options }, "volumes");
  }

  /** Delete several volume templates; answered item by item. */
  deleteMany(templates: readonly (string | Ref)[], options?: RequestOptions): Promise<BulkResult<Volume>> {
    return callItems<Volume>(this.transport, { method: "DELETE", path: BASE, json: templates.map(toRef), schema: ItemsSchema, options }, "volumes");
  }
}
