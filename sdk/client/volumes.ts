/**
 * `client.volumes`: one typed method per volume endpoint (docs/api.md) (create, get, list, update,
 * delete, attach, detach, import, clone) plus `waitFor` by polling and `iterate`. Owns paths, bodies
 * and answer schemas; sending and retries are the transport's. Templates live in `volume-templates.ts`.
 */
import type { z } from "zod";
import {
  VolumeClonesEnvelopeSchema,
  VolumeSchema,
  VolumesEnvelopeSchema,
  type Ref,
  type VolumeAttachItem,
  type VolumeAttachRequest,
  type VolumeCloneByIdRequest,
  type VolumeCloneItem,
  type VolumeCloneResultSchema,
  type VolumeCreateRequestSchema,
  type VolumeDetachItem,
  type VolumeDetachRequest,
  type RefOut,
  type Volume,
  type VolumePatchOp,
  type VolumeState,
  type VolumeUpdateItem,
} from "../schemas";
import { DeletedVolumesEnvelopeSchema, callBulk, callDelete, callItems, callMany, callOne, itemsEnvelopeSchema, toRef, type BulkResult, type PatchOpInput } from "./calls";
import { SdkError } from "./errors";
import { pathSegment, type RequestOptions } from "./options";
import { listPath, pagesOf, paginate, type ListParams } from "./pagination";
import type { RawBody, Transport } from "./transport";
import { VolumeTemplates } from "./volume-templates";
import { waitForState, type WaitOptions } from "./waiters";

/** Body of `volumes.create`: exactly one of `size_mb`, `template` or `host_path`. */
export type VolumeCreateParams = z.input<typeof VolumeCreateRequestSchema>;
/** One PATCH operation on a volume or volume template; `add`/`del` of tags take one tag or a list. */
export type VolumeUpdateOp = PatchOpInput<VolumePatchOp>;
/** One item of a clone answer: the new volume (`pending` at first) or why it failed. */
export type VolumeCloneResult = z.infer<typeof VolumeCloneResultSchema>;
/** A tar archive for `volumes.import`: bytes (retryable when marked idempotent) or a stream (sent once). */
export type TarBody = RawBody;

const ItemsSchema = itemsEnvelopeSchema("volumes", VolumeSchema);

// States a volume never leaves towards available or mounted.
const TERMINAL_VOLUME_STATES: readonly VolumeState[] = ["error", "template"];

/** Volume endpoints. Obtain through `client.volumes`. */
export class Volumes {
  /** Volume templates (`/v1/volumes/templates`). */
  readonly templates: VolumeTemplates;

  constructor(private readonly transport: Transport) {
    this.templates = new VolumeTemplates(transport);
  }

  private path(idOrName: string, action = ""): string {
    return `/v1/volumes/${pathSegment(idOrName)}${action}`;
  }

  /** Create a volume: empty with `size_mb`, from a volume `template`, or managed over `host_path`. */
  create(params: VolumeCreateParams, options?: RequestOptions): Promise<Volume> {
    return callOne<Volume>(this.transport, { method: "POST", path: "/v1/volumes", json: params, schema: VolumesEnvelopeSchema, options }, "volumes");
  }

  /** Get one volume by uuid or name. */
  get(idOrName: string, options?: RequestOptions): Promise<Volume> {
    return callOne<Volume>(this.transport, { method: "GET", path: this.path(idOrName), schema: VolumesEnvelopeSchema, options }, "volumes");
  }

  /** List volumes (tags, order, paging: see `ListParams`). */
  list(params: ListParams = {}, options?: RequestOptions): Promise<Volume[]> {
    return callMany<Volume>(this.transport, { method: "GET", path: listPath("/v1/volumes", params), schema: VolumesEnvelopeSchema, options }, "volumes");
  }

  /** Iterate over volumes page by page (lazily; the first request happens on the first `next()`). */
  iterate(params: ListParams = {}, options?: RequestOptions): AsyncGenerator<Volume, void, undefined> {
    return paginate(pagesOf((p) => this.list(p, options), params));
  }

  /** Apply PATCH operations (size_mb grow, tags, delete_lock); returns the updated volume. */
  update(idOrName: string, ops: VolumeUpdateOp | readonly VolumeUpdateOp[], options?: RequestOptions): Promise<Volume> {
    return callOne<Volume>(this.transport, { method: "PATCH", path: this.path(idOrName), json: ops, schema: VolumesEnvelopeSchema, options }, "volumes");
  }

  /** One PATCH operation per item, each naming its volume; answered item by item. */
  updateMany(items: readonly VolumeUpdateItem[], options?: RequestOptions): Promise<BulkResult<Volume>> {
    return callItems<Volume>(this.transport, { method: "PATCH", path: "/v1/volumes", json: items, schema: ItemsSchema, options }, "volumes");
  }

  /** Delete several volumes; answered item by item. */
  deleteMany(volumes: readonly (string | Ref)[], options?: RequestOptions): Promise<BulkResult<Volume>> {
    return callItems<Volume>(this.transport, { method: "DELETE", path: "/v1/volumes", json: volumes.map(toRef), schema: ItemsSchema, options }, "volumes");
  }

  /** Delete a volume (refused while mounted, locked, or while clones depend on it). */
  delete(idOrName: string, options?: RequestOptions): Promise<RefOut | undefined> {
    return callDelete(this.transport, { method: "DELETE", path: this.path(idOrName), schema: DeletedVolumesEnvelopeSchema, options }, "volumes");
  }

  /** Attach to an instance at a mount path (`readonly` mounts may be shared; a read-write one is exclusive). */
  attach(idOrName: string, params: VolumeAttachRequest, options?: RequestOptions): Promise<Volume> {
    return callOne<Volume>(this.transport, { method: "PUT", path: this.path(idOrName, "/attach"), json: params, schema: VolumesEnvelopeSchema, options }, "volumes");
  }

  /** Attach several volumes, each item naming its volume and instance; answered item by item. */
  attachMany(items: readonly VolumeAttachItem[], options?: RequestOptions): Promise<BulkResult<Volume>> {
    return callItems<Volume>(this.transport, { method: "PUT", path: "/v1/volumes/attach", json: items, schema: ItemsSchema, options }, "volumes");
  }

  /** Detach several volumes (each from one instance, or from all); answered item by item. */
  detachMany(items: readonly VolumeDetachItem[], options?: RequestOptions): Promise<BulkResult<Volume>> {
    return callItems<Volume>(this.transport, { method: "PUT", path: "/v1/volumes/detach", json: items, schema: ItemsSchema, options }, "volumes");
  }

  /** Detach from one instance (`from`), or from all when `from` is absent. */
  detach(idOrName: string, params: VolumeDetachRequest = {}, options?: RequestOptions): Promise<Volume> {
    return callOne<Volume>(this.transport, { method: "PUT", path: this.path(idOrName, "/detach"), json: params, schema: VolumesEnvelopeSchema, options }, "volumes");
  }

  /**
   * Fill an empty volume from a tar archive (`application/x-tar`). Only valid for an unmounted block
   * volume that was never written. A stream body is sent once and never retried.
   */
  import(idOrName: string, tar: TarBody, options?: RequestOptions): Promise<Volume> {
    return callOne<Volume>(
      this.transport,
      { method: "PUT", path: this.path(idOrName, "/import"), raw: { body: tar, contentType: "application/x-tar" }, schema: VolumesEnvelopeSchema, options },
      "volumes",
    );
  }

  /**
   * Clone one volume or volume template asynchronously: the result names the new volume, `pending`
   * until its data is ready (see `waitFor`). Rejects when the server reports the item as failed.
   */
  async clone(item: VolumeCloneItem, options?: RequestOptions): Promise<VolumeCloneResult> {
    const path = "/v1/volumes/clone";
    const result = await callOne<VolumeCloneResult>(this.transport, { method: "POST", path, json: item, schema: VolumeClonesEnvelopeSchema, options }, "volumes");
    if (result.status === "error")
      throw new SdkError(result.message ?? `Clone of volume '${item.name ?? item.uuid}' failed`, { code: "CLONE_FAILED", method: "POST", path });
    return result;
  }

  /** Clone the volume or volume template `idOrName` (`POST /v1/volumes/{id}/clone`): the new volume, `pending` at first. */
  cloneFrom(idOrName: string, params: VolumeCloneByIdRequest = {}, options?: RequestOptions): Promise<VolumeCloneResult> {
    return callOne<VolumeCloneResult>(this.transport, { method: "POST", path: this.path(idOrName, "/clone"), json: params, schema: VolumeClonesEnvelopeSchema, options }, "volumes");
  }

  /** Clone several volumes in one request; on partial success the failed items come back in `errors`. */
  cloneMany(items: readonly VolumeCloneItem[], options?: RequestOptions): Promise<BulkResult<VolumeCloneResult>> {
    return callBulk<VolumeCloneResult>(this.transport, { method: "POST", path: "/v1/volumes/clone", json: items, schema: VolumeClonesEnvelopeSchema, options }, "volumes");
  }

  /**
   * Wait until the volume is in `state` (or one of several) by polling GET every `pollMs` (default
   * 500 ms), e.g. a clone going `pending` → `available`. Rejects with `TimeoutError` at the deadline
   * and `UnexpectedStateError` when the volume lands in `error` (or `template`) instead.
   */
  waitFor(idOrName: string, state: VolumeState | readonly VolumeState[], options: WaitOptions = {}): Promise<Volume> {
    const targets = typeof state === "string" ? [state] : [...state];
    return waitForState<Volume>(
      {
        kind: "volume",
        idOrName,
        targets,
        terminal: TERMINAL_VOLUME_STATES.filter((s) => !targets.includes(s)),
        reason: (v) => v.error ?? v.clone?.message,
        get: (o) => this.get(idOrName, o),
        defaultPollMs: 500,
      },
      options,
    );
  }
}
