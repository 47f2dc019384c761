/**
 * `client.instances.templates`: convert stopped or standby instances into instance templates, and
 * list, get and delete templates (`/v1/instances/templates`). Owns paths and answer schemas only.
 * Instantiating a template is `client.instances.create({ template })`.
 */
import { InstanceTemplatesEnvelopeSchema, type Instance, type Ref, type RefOut } from "../schemas";
import { DeletedTemplatesEnvelopeSchema, callDelete, callBulk, callMany, callOne, toRef, type BulkResult } from "./calls";
import { pathSegment, queryString, type RequestOptions } from "./options";
import { paginate, type ListParams } from "./pagination";
import type { Transport } from "./transport";

const BASE = "/v1/instances/templates";

/** Instance template endpoints. Obtain through `client.instances.templates`. */
export class InstanceTemplates {
  constructor(private readonly transport: Transport) {}

  /**
   * Convert one instance (uuid, name or reference) into a template; its volumes become volume
   * templates atomically. Only valid while the instance is stopped or in standby.
   */
  create(instance: string | Ref, options?: RequestOptions): Promise<Instance> {
    const json = toRef(instance);
    return callOne<Instance>(this.transport, { method: "POST", path: BASE, json, schema: InstanceTemplatesEnvelopeSchema, options }, "templates");
  }

  /** Convert several instances in one request; items that failed come back in `errors`. */
  createMany(instances: readonly (string | Ref)[], options?: RequestOptions): Promise<BulkResult<Instance>> {
    const json = instances.map(toRef);
    return callBulk<Instance>(this.transport, { method: "POST", path: BASE, json, schema: InstanceTemplatesEnvelopeSchema, options }, "templates");
  }

  /** List instance templates, optionally only those carrying all of `tags`. */
  list(params: ListParams = {}, options?: RequestOptions): Promise<Instance[]> {
    const path = `${BASE}${queryString({ tags: params.tags })}`;
    return callMany<Instance>(this.transport, { method: "GET", path, schema: InstanceTemplatesEnvelopeSchema, options }, "templates");
  }

  /** Iterate over instance templates (lazily, page by page). */
  iterate(params: ListParams = {}, options?: RequestOptions): AsyncGenerator<Instance, void, undefined> {
    return paginate(async () => ({ items: await this.list(params, options), next: undefined }));
  }

  /** Get one instance template by uuid or name. */
  get(idOrName: string, options?: RequestOptions): Promise<Instance> {
    const path = `${BASE}/${pathSegment(idOrName)}`;
    return callOne<Instance>(this.transport, { method: "GET", path, schema: InstanceTemplatesEnvelopeSchema, options }, "templates");
  }

  /** Delete an instance template (refused while instances or clones depend on it). */
  delete(idOrName: string, options?: RequestOptions): Promise<RefOut | undefined> {
    const path = `${BASE}/${pathSegment(idOrName)}`;
    return callDelete(this.transport, { method: "DELETE", path, schema: DeletedTemplatesEnvelopeSchema, options }, "templates");
  }
}
