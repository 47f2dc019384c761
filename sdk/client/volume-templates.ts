/**
 * `client.volumes.templates`: make volume templates (convert a volume in place, or freeze a copy of
 * its contents while it stays writable) and list, get, update and delete them
 * (`/v1/volumes/templates`). Owns paths and answer schemas only; instantiating a template is
 * `client.volumes.create({ template })` and cloning it is `client.volumes.clone`.
 */
import {
  VolumeTemplatesEnvelopeSchema,
  type RefOut,
  type Volume,
  type VolumeTemplateItem,
} from "../schemas";
import { DeletedTemplatesEnvelopeSchema, callDelete, callBulk, callMany, callOne, toRef, type BulkResult } from "./calls";
import { pathSegment, queryString, type RequestOptions } from "./options";
import { paginate, type ListParams } from "./pagination";
import type { Transport } from "./transport";
import type { VolumeUpdateOp } from "./volumes";

const BASE = "/v1/volumes/templates";

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
    return callOne<Volume>(this.transport, { method: "POST", path: BASE, json: toItem(params), schema: VolumeTemplatesEnvelopeSchema, options }, "templates");
  }

  /** Make several templates in one request; items that failed come back in `errors`. */
  createMany(items: readonly VolumeTemplateCreateParams[], options?: RequestOptions): Promise<BulkResult<Volume>> {
    const json = items.map(toItem);
    return callBulk<Volume>(this.transport, { method: "POST", path: BASE, json, schema: VolumeTemplatesEnvelopeSchema, options }, "templates");
  }

  /** List volume templates, optionally only those carrying all of `tags`. */
  list(params: ListParams = {}, options?: RequestOptions): Promise<Volume[]> {
    const path = `${BASE}${queryString({ tags: params.tags })}`;
    return callMany<Volume>(this.transport, { method: "GET", path, schema: VolumeTemplatesEnvelopeSchema, options }, "templates");
  }

  /** Iterate over volume templates (lazily, page by page). */
  iterate(params: ListParams = {}, options?: RequestOptions): AsyncGenerator<Volume, void, undefined> {
    return paginate(async () => ({ items: await this.list(params, options), next: undefined }));
  }

  /** Get one volume template by uuid or name. */
  get(idOrName: string, options?: RequestOptions): Promise<Volume> {
    const path = `${BASE}/${pathSegment(idOrName)}`;
    return callOne<Volume>(this.transport, { method: "GET", path, schema: VolumeTemplatesEnvelopeSchema, options }, "templates");
  }

  /** Apply PATCH operations (tags, delete_lock; a template's size never changes). */
  update(idOrName: string, ops: VolumeUpdateOp | readonly VolumeUpdateOp[], options?: RequestOptions): Promise<Volume> {
    const path = `${BASE}/${pathSegment(idOrName)}`;
    return callOne<Volume>(this.transport, { method: "PATCH", path, json: ops, schema: VolumeTemplatesEnvelopeSchema, options }, "templates");
  }

  /** Delete a volume template (refused while clones depend on it or while locked). */
  delete(idOrName: string, options?: RequestOptions): Promise<RefOut | undefined> {
    const path = `${BASE}/${pathSegment(idOrName)}`;
    return callDelete(this.transport, { method: "DELETE", path, schema: DeletedTemplatesEnvelopeSchema, options }, "templates");
  }
}
