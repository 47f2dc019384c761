/**
 * One implementation of `check`, `diff`, `read`, `update` and `delete` for the resources shaped
 * like a volume (Volume, VolumeTemplate, VolumeClone, Checkpoint): a named server object with
 * tags and a delete lock, made from one create request, replaced by a table of fields, refreshed
 * from its GET and deleted by uuid. Each resource module states its differences as a
 * `VolumeLikeSpec` (endpoints, request, field tables, outputs, extra operations) and keeps only its
 * own `create`.
 */
import type { RequestOptions, VmbranchClient } from "vmbranch/sdk";
import { schemaFailures, triggersFailures, uniqueFailures, unknownInputFailures, type CheckFailure, type RequestSchema } from "./check-failures";
import { connectionFailures, withClient } from "./connection";
import { failure, isNotFound } from "./errors";
import { answerOf, type DiffAnswer, type DiffDetail } from "./instance-diff";
import { resolveName, type CheckOptions } from "./naming";
import { Deadline, operationMs, resolveTimeouts, timeoutsFailures, type OperationOptions, type TimeoutsInput } from "./timeouts";
import { isRecord, jsonEqual } from "./values";
import { diffByTable, propertyOf, resolveVolumeInputs, tagSet, upgradeVolumeOutputs, volumeInputsAfterRefresh, type VolumeBaseInputs } from "./volume-common";

type Props = Record<string, unknown>;

/** What every volume-like server object has (an API volume, template or checkpoint). */
export interface VolumeLikeObject {
  uuid: string;
  tags: string[];
  delete_lock: boolean;
}

/** A PATCH operation on tags or the delete lock, as every volume-like endpoint takes it. */
export type TagsOrLockOp = { prop: "tags"; op: "set"; value: string[] } | { prop: "delete_lock"; op: "set"; value: boolean };

/** The endpoints of one kind of object: the client's `volumes`, `volumes.templates` or `instances.checkpoints`. */
export interface VolumeLikeApi<T, Op> {
  get(idOrName: string, options?: RequestOptions): Promise<T>;
  update(idOrName: string, ops: readonly Op[], options?: RequestOptions): Promise<T>;
  delete(idOrName: string, options?: RequestOptions): Promise<unknown>;
}

/** The differences between the volume-like resources, as data. */
export interface VolumeLikeSpec<I extends VolumeBaseInputs, T extends VolumeLikeObject, Op, O> {
  /** For messages: "volume", "volume template", "volume clone", "checkpoint". */
  kind: string;
  api(client: VmbranchClient): VolumeLikeApi<T, Op>;
  /** Every input the resource reads (others fail `check`). */
  knownInputs: readonly string[];
  /** Inputs whose change replaces, and inputs updated in place. */
  replaceFields: readonly string[];
  updateFields: readonly string[];
  /** The create request built from the inputs (placeholders for unknowns), and its schema for `check`. */
  request(i: Props): unknown;
  requestSchema: RequestSchema;
  /** Request field → input property, where snake_case → camelCase does not name it. */
  renames: Record<string, string>;
  /** The input naming what to copy or capture, required (`check` says so, with this reason). */
  source?: { property: string; reason: string };
  /** More failures of `check`, given the previous inputs (a volume refuses to shrink). */
  moreFailures?(old: I | undefined, inputs: I): CheckFailure[];
  /** Inputs with a managed default, filled in before the diff (a checkpoint's `autokillMs`). */
  defaults?: Props;
  /** Outputs from the server's object and the inputs. */
  outputs(v: T, i: I): O;
  /** Inputs the server does not know, kept from the stored outputs across a refresh (besides naming, timeouts and triggers). */
  kept: readonly string[];
  /** The inputs that describe an object the state does not hold yet (a lookup by id). */
  inputsFromServer(v: T): Props;
  /** Wait, before an update, until an object a partial create left unready is usable. */
  untilUsable?(client: VmbranchClient, v: T, deadline: Deadline): Promise<T>;
  /** Operations besides tags and lock, put before (`grow`) or after (`more`) them. */
  updateOps?: { before?(cur: T, i: I): Op[]; after?(cur: T, i: I): Op[] };
}

/** The methods a volume-like resource module exports besides `create` and `configure`. */
export interface VolumeLikeMethods<I, O> {
  check(olds: Props, news: Props, opts?: CheckOptions): Promise<{ inputs: I; failures: CheckFailure[] }>;
  diff(id: string, olds: Props, news: Props): Promise<DiffAnswer>;
  diffDetail(id: string, olds: Props, news: Props): Promise<DiffDetail>;
  read(id: string, props?: Props): Promise<{ id?: string; props?: O; inputs?: Props }>;
  update(id: string, olds: Props, news: Props, opts?: OperationOptions): Promise<{ outs: O }>;
  remove(id: string, props: Props, opts?: OperationOptions): Promise<void>;
}

/** PATCH operations for the tags the user manages and the delete lock (default false). */
export function tagsAndLockOps(cur: VolumeLikeObject, i: VolumeBaseInputs): TagsOrLockOp[] {
  const ops: TagsOrLockOp[] = [];
  if (i.tags !== undefined && !jsonEqual(tagSet(cur.tags), tagSet(i.tags))) ops.push({ prop: "tags", op: "set", value: [...new Set(i.tags)] });
  const lock = i.deleteLock ?? false;
  if (cur.delete_lock !== lock) ops.push({ prop: "delete_lock", op: "set", value: lock });
  return ops;
}

/** The shared methods of one volume-like resource, built from its spec. */
export function volumeLikeResource<I extends VolumeBaseInputs, T extends VolumeLikeObject, Op, O>(spec: VolumeLikeSpec<I, T, Op, O>): VolumeLikeMethods<I, O> {
  const withDefaults = (p: Props): Props => {
    const out = { ...p };
    for (const [k, v] of Object.entries(spec.defaults ?? {})) if (out[k] === undefined || out[k] === null) out[k] = v;
    return out;
  };

  const check = async (olds: Props, news: Props, opts: CheckOptions = {}) => {
    const old = olds ? resolveVolumeInputs<I>(olds) : undefined;
    const inputs = resolveName(old, resolveVolumeInputs<I>(news), opts);
    const raw = inputs as unknown as Props;
    const failures = [...unknownInputFailures(raw, spec.knownInputs), ...timeoutsFailures(raw.timeouts)];
    if (spec.knownInputs.includes("triggers")) failures.push(...triggersFailures(raw.triggers));
    if (spec.source && raw[spec.source.property] === undefined) failures.push({ property: spec.source.property, reason: spec.source.reason });
    else failures.push(...schemaFailures(spec.requestSchema, spec.request(raw), (f) => propertyOf(f, spec.renames)));
    failures.push(...connectionFailures(), ...(spec.moreFailures?.(old, inputs) ?? []));
    return { inputs, failures: uniqueFailures(failures) };
  };

  const diffDetail = async (_id: string, olds: Props, news: Props): Promise<DiffDetail> =>
    diffByTable(withDefaults(upgradeVolumeOutputs(olds, spec.kind)), withDefaults(resolveVolumeInputs(news)), spec.replaceFields, spec.updateFields);

  const read = (id: string, props?: Props) =>
    withClient(async (client): Promise<{ id?: string; props?: O; inputs?: Props }> => {
      let v: T;
      try {
        v = await spec.api(client).get(id);
      } catch (err) {
        if (isNotFound(err)) return {};
        throw failure(`reading ${spec.kind} '${id}'`, err);
      }
      if (!props || typeof props.uuid !== "string") return { id: v.uuid, props: spec.outputs(v, {} as I), inputs: spec.inputsFromServer(v) };
      const prev = upgradeVolumeOutputs<Props>(props, spec.kind);
      const keep = ["namePrefix", "autoNamed", "timeouts", "triggers", ...spec.kept];
      const kept = resolveVolumeInputs<I>(Object.fromEntries(keep.map((k) => [k, prev[k]])));
      const outs = { ...spec.outputs(v, kept), managedInputs: prev.managedInputs } as O;
      const inputs = volumeInputsAfterRefresh(outs as Props);
      return { id: v.uuid, props: outs, ...(inputs ? { inputs } : {}) };
    });

  const update = async (id: string, _olds: Props, news: Props, opts: OperationOptions = {}) => {
    const i = resolveVolumeInputs<I>(news);
    const deadline = new Deadline(operationMs(resolveTimeouts(i.timeouts).updateMs, opts));
    return withClient(async (client) => {
      const api = spec.api(client);
      try {
        let cur = await api.get(id, { timeoutMs: deadline.remainingMs() });
        if (spec.untilUsable) cur = await spec.untilUsable(client, cur, deadline);
        const ops = [...(spec.updateOps?.before?.(cur, i) ?? []), ...(tagsAndLockOps(cur, i) as Op[]), ...(spec.updateOps?.after?.(cur, i) ?? [])];
        const v = ops.length > 0 ? await api.update(id, ops, { timeoutMs: deadline.remainingMs() }) : cur;
        return { outs: spec.outputs(v, i) };
      } catch (err) {
        throw failure(`updating ${spec.kind} '${i.name}'`, err);
      }
    });
  };

  // Refused by the API while attached, depended on or locked; already gone is fine.
  const remove = async (id: string, props: Props, opts: OperationOptions = {}) => {
    const timeoutMs = operationMs(resolveTimeouts((isRecord(props.timeouts) ? props.timeouts : undefined) as TimeoutsInput | undefined).deleteMs, opts);
    await withClient(async (client) => {
      try {
        await spec.api(client).delete(id, { timeoutMs });
      } catch (err) {
        if (!isNotFound(err)) throw failure(`deleting ${spec.kind} '${String(props.name ?? id)}'`, err);
      }
    });
  };

  return { check, diff: async (id, olds, news) => answerOf(await diffDetail(id, olds, news)), diffDetail, read, update, remove };
}
