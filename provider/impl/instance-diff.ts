/**
 * `diff` of the Instance resource: which input changes replace the instance and which are
 * updated in place (the table in docs/provider.md, "Instance"). Deterministic, and it compares
 * only what the user wrote with what was stored for it, never server-assigned values (host ports,
 * MACs, UUIDs), so a second `up` with no code change reports no changes, also after branching and
 * restarts. An input left unset is not managed and never causes a diff, except `state` (default
 * `running`) and `deleteLock` (default false), and the provider's own inputs (`triggers`,
 * `timeouts`, `readiness`, `waitForExit`), whose removal is a change too. No I/O.
 */
import {
  desiredState,
  resolveInstanceInputs,
  settledState,
  sortedPorts,
  sortedVolumes,
  tagSet,
  type InstanceInputs,
  type InstanceOutputs,
  type NormalVolume,
} from "./instance-model";
import { upgradeInstanceOutputs } from "./instance-outputs";
import { nameIsFixed } from "./naming";
import { containsUnknown, isUnknown, jsonEqual } from "./values";

/**
 * Inputs whose change replaces the instance (hostname, outboundNetwork and host too: the API cannot
 * change them, and nothing moves an instance between hosts; triggers: that is what they are for).
 */
export const INSTANCE_REPLACE_FIELDS = ["name", "image", "template", "branchFrom", "checkpoint", "memoryMb", "vcpus", "args", "env", "cloneOptions", "hostname", "outboundNetwork", "host", "triggers"] as const;
/**
 * Inputs updated in place. Changing an inline volume (one with `sizeMb`) replaces the instance
 * instead. `timeouts`, `readiness` and `waitForExit` change nothing on the server, but an update
 * stores them: delete reads its deadline from the state.
 */
export const INSTANCE_UPDATE_FIELDS = ["tags", "annotations", "deleteLock", "state", "volumes", "ports", "timeouts", "readiness", "waitForExit"] as const;

// The provider's own inputs: unset means the default, so removing one is a change.
const PROVIDER_SIDE: readonly string[] = ["triggers", "timeouts", "readiness"];

/** What `diff` answers (the subset the Node dynamic-provider host passes on). */
export interface DiffAnswer {
  changes: boolean;
  replaces: string[];
  deleteBeforeReplace: boolean;
}

/** The answer with the inputs updated in place named too (the schema-based plugin's detailed diff). */
export interface DiffDetail extends DiffAnswer {
  updates: string[];
}

/** `detail` without `updates`: what the dynamic provider answers. */
export function answerOf(detail: DiffDetail): DiffAnswer {
  return { changes: detail.changes, replaces: detail.replaces, deleteBeforeReplace: detail.deleteBeforeReplace };
}

type Field = (typeof INSTANCE_REPLACE_FIELDS)[number] | (typeof INSTANCE_UPDATE_FIELDS)[number];

/** Compare the stored outputs `olds` with the new inputs `news` (unknown values count as changed). */
export function diffInstance(olds: Record<string, unknown>, news: Record<string, unknown>): DiffAnswer {
  return answerOf(diffInstanceDetail(olds, news));
}

/** `diffInstance` naming the inputs updated in place too (a volume change that replaces is only in `replaces`). */
export function diffInstanceDetail(olds: Record<string, unknown>, news: Record<string, unknown>): DiffDetail {
  const o = upgradeInstanceOutputs(olds);
  const n = resolveInstanceInputs(news);
  const replaces: string[] = INSTANCE_REPLACE_FIELDS.filter((f) => changed(f, o, n));
  let updates: string[] = INSTANCE_UPDATE_FIELDS.filter((f) => changed(f, o, n));
  if (updates.includes("volumes") && inlineVolumesChanged(o, n)) {
    replaces.push("volumes");
    updates = updates.filter((f) => f !== "volumes");
  }
  const changes = replaces.length > 0 || updates.length > 0;
  return { changes, replaces, updates, deleteBeforeReplace: replaces.length > 0 && mustDeleteFirst(n) };
}

function changed(field: Field, o: InstanceOutputs, n: InstanceInputs): boolean {
  const value = (n as Record<string, unknown>)[field];
  if (field === "state") return isUnknown(n.state) || settledState(o.state) !== desiredState(n);
  if (field === "deleteLock") return isUnknown(value) || (n.deleteLock ?? false) !== o.deleteLock;
  if (field === "waitForExit") return isUnknown(value) || (n.waitForExit ?? false) !== o.waitForExit;
  if (PROVIDER_SIDE.includes(field)) return containsUnknown(value) || !jsonEqual((o as unknown as Record<string, unknown>)[field] ?? null, value ?? null);
  // Unset is the default (isolated), except for an instance made from another, which takes its source's.
  if (field === "outboundNetwork") {
    if (isUnknown(value)) return true;
    const have = o.outboundNetwork ?? false;
    const derived = n.branchFrom !== undefined || n.template !== undefined || n.checkpoint !== undefined;
    return (n.outboundNetwork ?? (derived ? have : false)) !== have;
  }
  if (value === undefined) return false;
  if (containsUnknown(value)) return true;
  switch (field) {
    case "tags":
      return !jsonEqual(tagSet(o.tags), tagSet(n.tags ?? []));
    case "volumes":
      return !jsonEqual(sortedVolumes(o.volumes), sortedVolumes(n.volumes ?? []));
    case "ports":
      return !jsonEqual(sortedPorts(o.ports), sortedPorts(n.ports ?? []));
    default:
      return !jsonEqual((o as unknown as Record<string, unknown>)[field], value);
  }
}

const inline = (list: readonly NormalVolume[]) => list.filter((v) => v.sizeMb !== null);

/** Inline volumes live and die with their instance: adding, removing or changing one means a new instance. */
function inlineVolumesChanged(o: InstanceOutputs, n: InstanceInputs): boolean {
  if (containsUnknown(n.volumes)) return false;
  return !jsonEqual(inline(sortedVolumes(o.volumes)), inline(sortedVolumes(n.volumes ?? [])));
}

/**
 * True when old and new instance cannot exist side by side: a fixed name, a fixed host port, an
 * existing volume mounted read-write (exclusive), or a named inline volume (volume names are
 * unique, and the old instance's inline volume goes only with it). Unknown entries count as
 * conflicting.
 */
export function mustDeleteFirst(n: InstanceInputs): boolean {
  if (nameIsFixed(n) || isUnknown(n.name)) return true;
  if (isUnknown(n.volumes) || isUnknown(n.ports)) return true;
  const rwVolume = (n.volumes ?? []).some((v) => isUnknown(v) || (v.volume !== undefined && v.sizeMb === undefined && v.readonly !== true));
  const namedInline = (n.volumes ?? []).some((v) => v.volume !== undefined && v.sizeMb !== undefined);
  const fixedPort = (n.ports ?? []).some((p) => isUnknown(p) || p.hostPort !== undefined);
  return rwVolume || namedInline || fixedPort;
}
