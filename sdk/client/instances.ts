/**
 * `client.instances`: one typed method per instance endpoint of DESIGN.md §3, plus `branch`,
 * `waitFor` and `iterate`. Owns paths, bodies and which envelope schema each answer is read with;
 * sending, retries and errors are the transport's. Instance templates live in `instance-templates.ts`.
 */
import type { z } from "zod";
import {
  InstanceLogEnvelopeSchema,
  InstancesEnvelopeSchema,
  type Instance,
  type InstanceCreateRequestSchema,
  type InstanceLog,
  type InstancePatchOp,
  type InstanceState,
  type InstanceStopRequest,
  type Ref,
  type RefOut,
} from "../schemas";
import { DeletedInstancesEnvelopeSchema, callDelete, callMany, callOne, toRef, type PatchOpInput } from "./calls";
import { InstanceTemplates } from "./instance-templates";
import type { RequestOptions } from "./options";
import { pathSegment, queryString } from "./options";
import { paginate, type ListParams } from "./pagination";
import type { Transport } from "./transport";
import { waitForState, type WaitOptions } from "./waiters";

/** Body of `instances.create` (the wire names, snake_case). */
export type InstanceCreateParams = z.input<typeof InstanceCreateRequestSchema>;
/** Body of `instances.branch`: a create without `branch_from` (given separately) nor the inherited fields. */
export type InstanceBranchParams = Omit<InstanceCreateParams, "branch_from" | "image" | "template" | "args" | "env" | "memory_mb" | "vcpus">;
/** One PATCH operation on an instance; `add`/`del` take one item or a list. */
export type InstanceUpdateOp = PatchOpInput<InstancePatchOp>;
/** Query of `instances.log`: byte offset and limit into the serial console output. */
export interface InstanceLogParams {
  offset?: number;
  limit?: number;
}

// States an instance never leaves towards running/stopped/standby.
const TERMINAL_INSTANCE_STATES: readonly InstanceState[] = ["error", "deleted", "template"];

/** Instance endpoints. Obtain through `client.instances`. */
export class Instances {
  /** Instance templates (`/v1/instances/templates`). */
  readonly templates: InstanceTemplates;

  constructor(private readonly transport: Transport) {
    this.templates = new InstanceTemplates(transport);
  }

  private path(idOrName: string, action = ""): string {
    return `/v1/instances/${pathSegment(idOrName)}${action}`;
  }

  /**
   * Create an instance from `image`, `template` or `branch_from`. A branch whose source has a
   * snapshot in flight (409 "Cannot branch from VM with pending snapshot") is retried with backoff.
   */
  create(params: InstanceCreateParams, options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(
      this.transport,
      { method: "POST", path: "/v1/instances", json: params, schema: InstancesEnvelopeSchema, branchCreate: params.branch_from !== undefined, options },
      "instances",
    );
  }

  /** Branch `source` (uuid, name or reference): `create` with `branch_from` set. */
  branch(source: string | Ref, params: InstanceBranchParams = {}, options?: RequestOptions): Promise<Instance> {
    return this.create({ ...params, branch_from: toRef(source) }, options);
  }

  /** Get one instance by uuid or name. */
  get(idOrName: string, options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(this.transport, { method: "GET", path: this.path(idOrName), schema: InstancesEnvelopeSchema, options }, "instances");
  }

  /** List instances, optionally only those carrying all of `tags`. */
  list(params: ListParams = {}, options?: RequestOptions): Promise<Instance[]> {
    const path = `/v1/instances${queryString({ tags: params.tags })}`;
    return callMany<Instance>(this.transport, { method: "GET", path, schema: InstancesEnvelopeSchema, options }, "instances");
  }

  /** Iterate over instances page by page (lazily; the first request happens on the first `next()`). */
  iterate(params: ListParams = {}, options?: RequestOptions): AsyncGenerator<Instance, void, undefined> {
    // One page today; a cursor from the envelope would go in `next`.
    return paginate(async () => ({ items: await this.list(params, options), next: undefined }));
  }

  /** Apply PATCH operations (tags, annotations, delete_lock, volumes, ports); returns the updated instance. */
  update(idOrName: string, ops: InstanceUpdateOp | readonly InstanceUpdateOp[], options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(this.transport, { method: "PATCH", path: this.path(idOrName), json: ops, schema: InstancesEnvelopeSchema, options }, "instances");
  }

  /** Delete an instance (refused while `delete_lock` is set); returns its uuid and name. */
  delete(idOrName: string, options?: RequestOptions): Promise<RefOut | undefined> {
    return callDelete(this.transport, { method: "DELETE", path: this.path(idOrName), schema: DeletedInstancesEnvelopeSchema, options }, "instances");
  }

  /** Start a stopped instance, or resume a `standby` one from its memory snapshot. */
  start(idOrName: string, options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(this.transport, { method: "PUT", path: this.path(idOrName, "/start"), schema: InstancesEnvelopeSchema, options }, "instances");
  }

  /** Stop an instance: graceful power-off with a timeout, then forced (`force` skips the grace). */
  stop(idOrName: string, params: InstanceStopRequest = {}, options?: RequestOptions): Promise<Instance> {
    const json = Object.keys(params).length > 0 ? params : undefined;
    return callOne<Instance>(this.transport, { method: "PUT", path: this.path(idOrName, "/stop"), json, schema: InstancesEnvelopeSchema, options }, "instances");
  }

  /** Suspend a running instance: stop with a memory snapshot, ending in `standby`. */
  suspend(idOrName: string, options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(this.transport, { method: "PUT", path: this.path(idOrName, "/suspend"), schema: InstancesEnvelopeSchema, options }, "instances");
  }

  /**
   * One long-poll of `GET …/wait?state=&timeout_s=`: the instance once it is in `state`, or the
   * server's error when `timeout_s` passes first. `waitFor` builds a deadline-bound wait on it.
   */
  wait(idOrName: string, state: InstanceState, params: { timeoutS?: number } = {}, options?: RequestOptions): Promise<Instance> {
    const path = this.path(idOrName, `/wait${queryString({ state, timeout_s: params.timeoutS })}`);
    return callOne<Instance>(this.transport, { method: "GET", path, schema: InstancesEnvelopeSchema, options }, "instances");
  }

  /**
   * Wait until the instance is in `state` (or one of several), by long-polling the server, within
   * `timeoutMs` overall. Rejects with `TimeoutError` at the deadline, `RequestAbortedError` on abort,
   * and `UnexpectedStateError` when the instance lands in `error`, `deleted` or `template` instead.
   */
  waitFor(idOrName: string, state: InstanceState | readonly InstanceState[], options: WaitOptions = {}): Promise<Instance> {
    const targets = typeof state === "string" ? [state] : [...state];
    return waitForState<Instance>(
      {
        kind: "instance",
        idOrName,
        targets,
        terminal: TERMINAL_INSTANCE_STATES.filter((s) => !targets.includes(s)),
        reason: (i) => i.stop_reason ?? (i.branch?.phase === "Failed" ? i.branch.message : undefined),
        get: (o) => this.get(idOrName, o),
        longPoll: (s, timeoutS, o) => this.wait(idOrName, s as InstanceState, { timeoutS }, o),
        defaultPollMs: 1_000,
      },
      options,
    );
  }

  /** Read serial console output from byte `offset` (at most `limit` bytes). */
  log(idOrName: string, params: InstanceLogParams = {}, options?: RequestOptions): Promise<InstanceLog> {
    const path = this.path(idOrName, `/log${queryString({ offset: params.offset, limit: params.limit })}`);
    return callOne<InstanceLog>(this.transport, { method: "GET", path, schema: InstanceLogEnvelopeSchema, options }, "logs");
  }
}
