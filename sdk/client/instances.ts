/**
 * `client.instances`: one typed method per instance endpoint (docs/api.md; per instance and in
 * bulk), plus `branch`, `waitFor` and `iterate`. Owns paths, bodies and which envelope schema each
 * answer is read with; sending, retries and errors are the transport's. Instance templates live in
 * `instance-templates.ts`, checkpoints in `checkpoints.ts`.
 */
import type { z } from "zod";
import {
  InstanceHistoryEnvelopeSchema,
  InstanceLogEnvelopeSchema,
  InstanceMetricsEnvelopeSchema,
  InstanceSchema,
  InstancesEnvelopeSchema,
  type Instance,
  type InstanceCreateRequestSchema,
  type InstanceHistory,
  type InstanceLog,
  type InstanceMetrics,
  type InstancePatchOp,
  type InstanceStartRequest,
  type InstanceState,
  type InstanceStopRequest,
  type InstanceUpdateItem,
  type Ref,
  type RefOut,
} from "../schemas";
import { DeletedInstancesEnvelopeSchema, callDelete, callItems, callMany, callOne, itemsEnvelopeSchema, toRef, type BulkResult, type PatchOpInput } from "./calls";
import { Checkpoints } from "./checkpoints";
import { InstanceTemplates } from "./instance-templates";
import type { RequestOptions } from "./options";
import { pathSegment, queryString } from "./options";
import { listPath, pagesOf, paginate, type ListParams } from "./pagination";
import type { Transport } from "./transport";
import { waitForState, type WaitOptions } from "./waiters";

/** Body of `instances.create` (the wire names, snake_case). */
export type InstanceCreateParams = z.input<typeof InstanceCreateRequestSchema>;
/** Body of `instances.branch`: a create without `branch_from` (given separately) nor the inherited fields. */
export type InstanceBranchParams = Omit<InstanceCreateParams, "branch_from" | "image" | "template" | "args" | "env" | "memory_mb" | "vcpus">;
/** One PATCH operation on an instance; `add`/`del` take one item or a list. */
export type InstanceUpdateOp = PatchOpInput<InstancePatchOp>;
/** Query of `instances.log`: byte offset (negative: from the end) and limit into the serial console output. */
export interface InstanceLogParams {
  offset?: number;
  limit?: number;
}

/** Serial console output as text, with where it came from in the log and where to read on. */
export interface InstanceLogText {
  uuid: string;
  name: string;
  state: InstanceState;
  /** The bytes read, decoded as UTF-8. */
  output: string;
  /** Byte offset of the first byte returned. */
  offset: number;
  /** Byte offset to read on from. */
  next_offset: number;
  /** Where the log ends: every byte it has held (the oldest may have been rotated out). */
  available: number;
}

/** Decode a wire log (base64, Unikraft Cloud's ranges) into text and offsets. */
export function logText(log: InstanceLog): InstanceLogText {
  return {
    uuid: log.uuid, name: log.name, state: log.state, output: Buffer.from(log.output, "base64").toString("utf8"),
    offset: log.range.start, next_offset: log.range.end, available: log.available.end,
  };
}

const ItemsSchema = itemsEnvelopeSchema("instances", InstanceSchema);
/** A reference to an instance, or its uuid or name. */
type InstanceRef = string | Ref;

// States an instance never leaves towards running/stopped/standby.
const TERMINAL_INSTANCE_STATES: readonly InstanceState[] = ["error", "deleted", "template", "checkpoint"];

/** Instance endpoints. Obtain through `client.instances`. */
export class Instances {
  /** Instance templates (`/v1/instances/templates`). */
  readonly templates: InstanceTemplates;
  /** Checkpoints (`/v1/instances/checkpoints`). */
  readonly checkpoints: Checkpoints;

  constructor(private readonly transport: Transport) {
    this.templates = new InstanceTemplates(transport);
    this.checkpoints = new Checkpoints(transport);
  }

  private path(idOrName: string, action = ""): string {
    return `/v1/instances/${pathSegment(idOrName)}${action}`;
  }

  /**
   * Create an instance from `image`, `template`, `checkpoint` or `branch_from`. A branch whose source has a
   * snapshot in flight (409 "Cannot branch from VM with pending snapshot") is retried with backoff.
   */
  create(params: InstanceCreateParams, options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(this.transport, this.createCall(params, options), "instances");
  }

  /** `create` answering every instance the request made: `count` branches of one snapshot of the source. */
  createMany(params: InstanceCreateParams, options?: RequestOptions): Promise<Instance[]> {
    return callMany<Instance>(this.transport, this.createCall(params, options), "instances");
  }

  private createCall(params: InstanceCreateParams, options?: RequestOptions) {
    return { method: "POST" as const, path: "/v1/instances", json: params, schema: InstancesEnvelopeSchema, branchCreate: params.branch_from !== undefined, options };
  }

  /** Branch `source` (uuid, name or reference): `create` with `branch_from` set. */
  branch(source: string | Ref, params: InstanceBranchParams = {}, options?: RequestOptions): Promise<Instance> {
    return this.create({ ...params, branch_from: toRef(source) }, options);
  }

  /** Branch `source` `count` times from one snapshot of it: `createMany` with `branch_from` and `count`. */
  branchMany(source: string | Ref, count: number, params: Omit<InstanceBranchParams, "count"> = {}, options?: RequestOptions): Promise<Instance[]> {
    return this.createMany({ ...params, branch_from: toRef(source), count }, options);
  }

  /** Get one instance by uuid or name. */
  get(idOrName: string, options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(this.transport, { method: "GET", path: this.path(idOrName), schema: InstancesEnvelopeSchema, options }, "instances");
  }

  /** List instances (tags, order, paging: see `ListParams`). */
  list(params: ListParams = {}, options?: RequestOptions): Promise<Instance[]> {
    return callMany<Instance>(this.transport, { method: "GET", path: listPath("/v1/instances", params), schema: InstancesEnvelopeSchema, options }, "instances");
  }

  /** Iterate over instances page by page (lazily; the first request happens on the first `next()`). */
  iterate(params: ListParams = {}, options?: RequestOptions): AsyncGenerator<Instance, void, undefined> {
    return paginate(pagesOf((p) => this.list(p, options), params));
  }

  /** Apply PATCH operations (tags, annotations, delete_lock, volumes, ports); returns the updated instance. */
  update(idOrName: string, ops: InstanceUpdateOp | readonly InstanceUpdateOp[], options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(this.transport, { method: "PATCH", path: this.path(idOrName), json: ops, schema: InstancesEnvelopeSchema, options }, "instances");
  }

  /** One PATCH operation per item, each naming its instance; answered item by item. */
  updateMany(items: readonly InstanceUpdateItem[], options?: RequestOptions): Promise<BulkResult<Instance>> {
    return callItems<Instance>(this.transport, { method: "PATCH", path: "/v1/instances", json: items, schema: ItemsSchema, options }, "instances");
  }

  /** Delete an instance (refused while `delete_lock` is set); returns its uuid and name. */
  delete(idOrName: string, options?: RequestOptions): Promise<RefOut | undefined> {
    return callDelete(this.transport, { method: "DELETE", path: this.path(idOrName), schema: DeletedInstancesEnvelopeSchema, options }, "instances");
  }

  /** Delete several instances; answered item by item. */
  deleteMany(instances: readonly InstanceRef[], options?: RequestOptions): Promise<BulkResult<Instance>> {
    return callItems<Instance>(this.transport, { method: "DELETE", path: "/v1/instances", json: instances.map(toRef), schema: ItemsSchema, options }, "instances");
  }

  /** Start a stopped instance, or resume a `standby` one from its memory snapshot (`waitFor` waits for `running`). */
  start(idOrName: string, options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(this.transport, { method: "PUT", path: this.path(idOrName, "/start"), schema: InstancesEnvelopeSchema, options }, "instances");
  }

  /** Start several instances; answered item by item. */
  startMany(items: readonly (InstanceRef | (Ref & InstanceStartRequest))[], options?: RequestOptions): Promise<BulkResult<Instance>> {
    return callItems<Instance>(this.transport, { method: "PUT", path: "/v1/instances/start", json: items.map(toRef), schema: ItemsSchema, options }, "instances");
  }

  /** Stop an instance: graceful power-off with a timeout, then forced (`force` skips the grace). */
  stop(idOrName: string, params: InstanceStopRequest = {}, options?: RequestOptions): Promise<Instance> {
    const json = Object.keys(params).length > 0 ? params : undefined;
    return callOne<Instance>(this.transport, { method: "PUT", path: this.path(idOrName, "/stop"), json, schema: InstancesEnvelopeSchema, options }, "instances");
  }

  /** Stop several instances at once; answered item by item. */
  stopMany(items: readonly (InstanceRef | (Ref & InstanceStopRequest))[], options?: RequestOptions): Promise<BulkResult<Instance>> {
    return callItems<Instance>(this.transport, { method: "PUT", path: "/v1/instances/stop", json: items.map(toRef), schema: ItemsSchema, options }, "instances");
  }

  /** Suspend a running instance: stop with a memory snapshot, ending in `standby`. */
  suspend(idOrName: string, options?: RequestOptions): Promise<Instance> {
    return callOne<Instance>(this.transport, { method: "PUT", path: this.path(idOrName, "/suspend"), schema: InstancesEnvelopeSchema, options }, "instances");
  }

  /** Suspend several instances; answered item by item. */
  suspendMany(instances: readonly InstanceRef[], options?: RequestOptions): Promise<BulkResult<Instance>> {
    return callItems<Instance>(this.transport, { method: "PUT", path: "/v1/instances/suspend", json: instances.map(toRef), schema: ItemsSchema, options }, "instances");
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

  /** Read serial console output from byte `offset` (negative: from the end; at most `limit` bytes), as text. */
  async log(idOrName: string, params: InstanceLogParams = {}, options?: RequestOptions): Promise<InstanceLogText> {
    const path = this.path(idOrName, `/log${queryString({ offset: params.offset, limit: params.limit })}`);
    return logText(await callOne<InstanceLog>(this.transport, { method: "GET", path, schema: InstanceLogEnvelopeSchema, options }, "instances"));
  }

  /**
   * The history of an instance: the checkpoints of its lineage (newest first) and its state
   * transitions with their times and reasons (oldest first).
   */
  history(idOrName: string, options?: RequestOptions): Promise<InstanceHistory> {
    return callOne<InstanceHistory>(this.transport, { method: "GET", path: this.path(idOrName, "/history"), schema: InstanceHistoryEnvelopeSchema, options }, "instances");
  }

  /** What the instance's VM costs and moves now: CPU time, memory, disk and network I/O (zeros when it has no VM). */
  metrics(idOrName: string, options?: RequestOptions): Promise<InstanceMetrics> {
    return callOne<InstanceMetrics>(this.transport, { method: "GET", path: this.path(idOrName, "/metrics"), schema: InstanceMetricsEnvelopeSchema, options }, "instances");
  }

  /** Metrics of several instances (all when `instances` is empty). */
  async metricsMany(instances: readonly InstanceRef[] = [], options?: RequestOptions): Promise<InstanceMetrics[]> {
    const search = new URLSearchParams();
    for (const r of instances.map(toRef)) {
      if (r.uuid !== undefined) search.append("uuid", r.uuid);
      else search.append("name", r.name!);
    }
    const q = search.toString();
    return callMany<InstanceMetrics>(this.transport, { method: "GET", path: `/v1/instances/metrics${q ? `?${q}` : ""}`, schema: InstanceMetricsEnvelopeSchema, options }, "instances");
  }
}
