/**
 * In-place changes of an instance: from the server's current instance and the desired inputs,
 * the PATCH operations for tags, annotations, delete lock and ports, the attach/detach
 * operations for volumes (which need the instance stopped), and then its lifecycle state. Used
 * after create (a branch gets its ports this way) and by update. Inputs the user left unset are
 * not touched. A branch or template instance keeps what it inherited: only what the user added
 * (and later removes) is changed there.
 */
import type { Instance, InstanceUpdateOp, VmbranchClient } from "vmbranch/sdk";
import {
  desiredState,
  isDerived,
  normalVolume,
  sortedPorts,
  tagSet,
  volumeMatches,
  type InstanceInputs,
  type InstanceOutputs,
  type NormalVolume,
} from "./instance-model";
import { settleInstance } from "./instance-lifecycle";
import { toRef } from "./instance-request";
import type { Deadline } from "./timeouts";
import { jsonEqual } from "./values";

/** Options of `reconcileInstance`. */
export interface ReconcileOptions {
  deadline: Deadline;
  /** The outputs stored before (update): what the user managed last time. */
  prev?: InstanceOutputs;
  /** True at update and refresh repairs; false right after create. */
  repair: boolean;
  waitForExit?: boolean;
}

/** Apply every in-place difference between `current` and `i`, then settle the state. */
export async function reconcileInstance(client: VmbranchClient, current: Instance, i: InstanceInputs, opts: ReconcileOptions): Promise<Instance> {
  const call = () => ({ timeoutMs: opts.deadline.remainingMs() });
  let cur = current;
  const ops = patchOps(cur, i, opts.prev);
  if (ops.length > 0) cur = await client.instances.update(cur.uuid, ops, call());
  const volumeOps = volumePatchOps(cur, i, opts.prev);
  if (volumeOps.length > 0) {
    // Hot-plug is refused by the API: attach and detach while stopped, then settle the state again.
    if (cur.state !== "stopped") cur = await settleInstance(client, cur, "stopped", { deadline: opts.deadline, repair: true });
    cur = await client.instances.update(cur.uuid, volumeOps, call());
  }
  return settleInstance(client, cur, desiredState(i), {
    deadline: opts.deadline,
    repair: opts.repair,
    readiness: i.readiness,
    waitForExit: opts.waitForExit,
  });
}

/** PATCH operations for tags, annotations, delete lock and ports (all applied while running). */
export function patchOps(cur: Instance, i: InstanceInputs, prev?: InstanceOutputs): InstanceUpdateOp[] {
  const ops: InstanceUpdateOp[] = [];
  const additive = isDerived(i);
  const lock = i.deleteLock ?? false;
  if (cur.delete_lock !== lock) ops.push({ prop: "delete_lock", op: "set", value: lock });

  if (i.tags !== undefined) {
    if (!additive) {
      if (!jsonEqual(tagSet(cur.tags), tagSet(i.tags))) ops.push({ prop: "tags", op: "set", value: [...new Set(i.tags)] });
    } else {
      const add = i.tags.filter((t) => !cur.tags.includes(t));
      const del = (prev?.tags ?? []).filter((t) => !i.tags?.includes(t) && cur.tags.includes(t));
      if (add.length > 0) ops.push({ prop: "tags", op: "add", value: [...new Set(add)] });
      if (del.length > 0) ops.push({ prop: "tags", op: "del", value: del });
    }
  }

  if (i.annotations !== undefined) {
    const want = i.annotations;
    if (!additive) {
      if (!jsonEqual(cur.annotations, want)) ops.push({ prop: "annotations", op: "set", value: want });
    } else {
      const changed = Object.fromEntries(Object.entries(want).filter(([k, v]) => cur.annotations[k] !== v));
      const del = Object.keys(prev?.annotations ?? {}).filter((k) => !(k in want) && k in cur.annotations);
      if (Object.keys(changed).length > 0) ops.push({ prop: "annotations", op: "add", value: changed });
      if (del.length > 0) ops.push({ prop: "annotations", op: "del", value: del });
    }
  }

  if (i.ports !== undefined && !portsMatch(cur, i)) {
    const value = sortedPorts(i.ports).map((p) => ({
      guest_port: p.guestPort,
      protocol: p.protocol,
      ...(p.hostPort !== null ? { host_port: p.hostPort } : {}),
    }));
    ops.push({ prop: "ports", op: "set", value });
  }
  return ops;
}

/** True when the published ports are the desired ones (host ports compared only where the user fixed them). */
function portsMatch(cur: Instance, i: InstanceInputs): boolean {
  const want = sortedPorts(i.ports ?? []);
  if (want.length !== cur.ports.length) return false;
  return want.every((w) => cur.ports.some((p) => p.guest_port === w.guestPort && p.protocol === w.protocol && (w.hostPort === null || w.hostPort === p.host_port)));
}

/**
 * Detach, then attach operations that make the existing (non-inline) volumes the desired ones.
 * Inline volumes are created with the instance and only change by replacement.
 */
export function volumePatchOps(cur: Instance, i: InstanceInputs, prev?: InstanceOutputs): InstanceUpdateOp[] {
  if (i.volumes === undefined) return [];
  const wanted = i.volumes.map(normalVolume).filter((v) => v.sizeMb === null && v.volume !== null);
  const attached = cur.volumes.filter((a) => !a.inline);
  const same = (e: NormalVolume, a: (typeof attached)[number]) => volumeMatches(e, a) && a.at === e.at && a.readonly === e.readonly;
  const owned = isDerived(i) ? (prev?.volumes ?? []).map(normalVolume) : null;
  const detach = attached.filter((a) => !wanted.some((e) => same(e, a)) && (owned === null || owned.some((e) => volumeMatches(e, a))));
  const attach = wanted.filter((e) => !attached.some((a) => same(e, a)));
  return [
    ...detach.map((a): InstanceUpdateOp => ({ prop: "volumes", op: "del", value: a.uuid })),
    ...attach.map((e): InstanceUpdateOp => ({ prop: "volumes", op: "add", value: { ...toRef(e.volume as string), at: e.at, readonly: e.readonly } })),
  ];
}
