/**
 * The outputs an Instance stores in state, built from the API's instance object: every input
 * (as the user gave it, or the server's value when unset) plus the computed fields. Also the
 * refresh rule: inputs that can drift in place (tags, annotations, delete lock, state, ports,
 * volumes) take the server's current values, projected onto what the user manages, so the next
 * `up` repairs real drift and never chases server-assigned values. Plain JSON only. No I/O.
 */
import type { Instance } from "vmbranch/sdk";
import {
  INSTANCE_SCHEMA_VERSION,
  desiredState,
  normalPort,
  normalVolume,
  portKey,
  sortedPorts,
  settledState,
  sortedVolumes,
  volumeMatches,
  type InstanceInputs,
  type InstanceOutputs,
  type NormalPort,
  type NormalVolume,
} from "./instance-model";
import { isRecord, managedInputsOf, orNull, plain, sortedRecord } from "./values";

/** Outputs after a create or update that ended with the server's `inst`. */
export function instanceOutputs(inst: Instance, i: InstanceInputs): InstanceOutputs {
  const echo: InstanceOutputs = {
    ...computedFields(inst),
    schemaVersion: INSTANCE_SCHEMA_VERSION,
    name: inst.name,
    namePrefix: orNull(i.namePrefix),
    autoNamed: i.autoNamed ?? false,
    image: i.image ?? inst.image,
    template: i.template ?? inst.template?.name ?? null,
    branchFrom: orNull(i.branchFrom),
    checkpoint: i.checkpoint ?? inst.from_checkpoint?.name ?? null,
    memoryMb: i.memoryMb ?? inst.memory_mb,
    vcpus: i.vcpus ?? inst.vcpus,
    args: i.args ?? inst.args,
    env: sortedRecord(i.env ?? inst.env),
    // In the program's order (refresh reports them back that way); comparisons sort them.
    volumes: (i.volumes ?? []).map(normalVolume),
    ports: (i.ports ?? []).map(normalPort),
    tags: i.tags ?? inst.tags,
    annotations: i.annotations ?? inst.annotations,
    deleteLock: inst.delete_lock,
    state: inst.state,
    hostname: i.hostname ?? inst.hostname,
    outboundNetwork: inst.outbound_network,
    cloneOptions: i.cloneOptions ? plain(i.cloneOptions) : null,
    timeouts: i.timeouts ? plain(i.timeouts) : null,
    readiness: i.readiness ? plain(i.readiness) : null,
    waitForExit: i.waitForExit ?? false,
    triggers: i.triggers ? plain(i.triggers) : null,
    managedInputs: managedInputsOf(i),
  };
  return refreshInstanceOutputs(echo, inst);
}

/**
 * The inputs as they stand after a refresh, for `read` to report: the inputs the program gave,
 * with what drifted in place (tags, annotations, delete lock, state, ports, volumes) at the
 * server's values, so the refresh names the drifted properties and the next preview shows what
 * it puts back. `state` and `deleteLock` have managed defaults: they are reported when they
 * drifted from them even if the program left them out. Undefined for outputs written before
 * `managedInputs` existed (then the engine keeps the inputs it has).
 */
export function instanceInputsAfterRefresh(outs: InstanceOutputs): Record<string, unknown> | undefined {
  if (outs.managedInputs === null) return undefined;
  const keys = new Set(outs.managedInputs);
  if (settledState(outs.state) !== desiredState({ waitForExit: outs.waitForExit })) keys.add("state");
  if (outs.deleteLock) keys.add("deleteLock");
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = inputValue(k, outs);
  return plain(out);
}

function inputValue(key: string, outs: InstanceOutputs): unknown {
  switch (key) {
    case "state":
      return settledState(outs.state);
    case "volumes":
      return outs.volumes.map(compactVolume);
    case "ports":
      return outs.ports.map(compactPort);
    default:
      return (outs as unknown as Record<string, unknown>)[key];
  }
}

/** A volume entry as a program writes it: defaults (`readonly: false`) and nulls left out. */
function compactVolume(v: NormalVolume): Record<string, unknown> {
  return { ...(v.volume !== null ? { volume: v.volume } : {}), ...(v.sizeMb !== null ? { sizeMb: v.sizeMb } : {}), at: v.at, ...(v.readonly ? { readonly: true } : {}) };
}

/** A port entry as a program writes it: `protocol: "tcp"` and an unset host port left out. */
function compactPort(p: NormalPort): Record<string, unknown> {
  return { guestPort: p.guestPort, ...(p.hostPort !== null ? { hostPort: p.hostPort } : {}), ...(p.protocol !== "tcp" ? { protocol: p.protocol } : {}) };
}

/**
 * The inputs that would describe `inst` as it is (`read` of an instance the state does not hold
 * yet: a lookup or an adoption): what it was made from and everything that can be set.
 */
export function instanceInputsFromServer(inst: Instance): Record<string, unknown> {
  const origin = inst.branch
    ? { branchFrom: inst.branch.source.name }
    : inst.template
      ? { template: inst.template.name }
      : inst.from_checkpoint
        ? { checkpoint: inst.from_checkpoint.name }
        : { image: inst.image, memoryMb: inst.memory_mb, vcpus: inst.vcpus, args: inst.args, env: sortedRecord(inst.env) };
  const ports = sortedPorts(inst.ports.map((p) => ({ guestPort: p.guest_port, protocol: p.protocol }))).map(compactPort);
  const volumes = sortedVolumes(inst.volumes.map((v) => ({ volume: v.name, at: v.at, readonly: v.readonly }))).map(compactVolume);
  return plain({
    name: inst.name,
    ...origin,
    hostname: inst.hostname,
    tags: inst.tags,
    annotations: sortedRecord(inst.annotations),
    deleteLock: inst.delete_lock,
    state: settledState(inst.state),
    ports,
    volumes,
  });
}

/**
 * Outputs `prev` brought up to date with the server's `inst` (`read`): computed fields are
 * replaced, in-place inputs take the server's values as far as the user manages them, and inputs
 * that only change by replacement keep what was stored.
 */
export function refreshInstanceOutputs(prev: InstanceOutputs, inst: Instance): InstanceOutputs {
  const derived = prev.branchFrom !== null || inst.branch !== null || inst.template !== null || inst.from_checkpoint !== null;
  const tags = derived ? prev.tags.filter((t) => inst.tags.includes(t)) : inst.tags;
  const annotations: Record<string, string> = {};
  if (derived) {
    for (const k of Object.keys(prev.annotations)) if (k in inst.annotations) annotations[k] = inst.annotations[k] as string;
  } else Object.assign(annotations, inst.annotations);
  return plain({
    ...prev,
    ...computedFields(inst),
    tags,
    annotations: sortedRecord(annotations),
    deleteLock: inst.delete_lock,
    state: inst.state,
    ports: projectPorts(prev.ports, inst),
    volumes: projectVolumes(prev.volumes, inst, !derived),
  });
}

/**
 * The server's ports in the user's terms: a host port appears only where the user fixed one.
 * The user's ports keep their order; ports only the server has follow, sorted.
 */
function projectPorts(prev: readonly NormalPort[], inst: Instance): NormalPort[] {
  const published = (q: NormalPort) => inst.ports.find((p) => p.guest_port === q.guestPort && p.protocol === normalPort(q).protocol);
  const mine = prev.map(normalPort).flatMap((q) => {
    const p = published(q);
    return p ? [{ guestPort: p.guest_port, protocol: p.protocol, hostPort: q.hostPort !== null ? p.host_port : null }] : [];
  });
  const others = inst.ports
    .filter((p) => !prev.some((q) => q.guestPort === p.guest_port && normalPort(q).protocol === p.protocol))
    .map((p) => ({ guestPort: p.guest_port, protocol: p.protocol, hostPort: null }));
  return [...mine, ...sortedPorts(others)];
}

/**
 * The server's attachments in the user's terms: stored entries that are still attached as
 * stored (inline ones by mount point), in the user's order, plus, unless the instance is a branch
 * or template instance (whose inherited volumes are not the user's), other attached existing
 * volumes, sorted (so the next `up` detaches them when the user manages `volumes`).
 */
function projectVolumes(prev: readonly NormalVolume[], inst: Instance, addUnknown: boolean): NormalVolume[] {
  const out: NormalVolume[] = [];
  const used = new Set<string>();
  for (const entry of prev.map(normalVolume)) {
    const att = inst.volumes.find((a) =>
      entry.sizeMb !== null ? a.inline && a.at === entry.at : !a.inline && volumeMatches(entry, a) && a.at === entry.at && a.readonly === entry.readonly,
    );
    if (att && !used.has(att.uuid)) {
      used.add(att.uuid);
      out.push(entry);
    }
  }
  const others = addUnknown ? inst.volumes.filter((a) => !a.inline && !used.has(a.uuid)).map((a) => ({ volume: a.name, sizeMb: null, at: a.at, readonly: a.readonly })) : [];
  return [...out, ...sortedVolumes(others)];
}

/** The fields only the server decides. */
function computedFields(inst: Instance) {
  const nic = inst.network_interfaces[0];
  const hostPorts: Record<string, number> = {};
  for (const p of inst.ports) hostPorts[portKey(p.guest_port, p.protocol)] = p.host_port;
  return {
    uuid: inst.uuid,
    // Where the server placed it (absent from servers older than hosts).
    host: inst.host ?? null,
    // `offline` when its host stopped heartbeating (absent from servers older than host failure).
    hostState: inst.host_state ?? null,
    publishedPorts: inst.ports.map((p) => ({ guestPort: p.guest_port, hostPort: p.host_port, hostIp: p.host_ip, protocol: p.protocol })),
    hostPorts,
    attachedVolumes: inst.volumes.map((v) => ({ uuid: v.uuid, name: v.name, at: v.at, readonly: v.readonly, inline: v.inline, kind: v.kind })),
    macAddress: nic?.mac ?? null,
    privateIp: nic?.private_ip ?? null,
    smbiosSerial: inst.smbios_serial,
    branchedFrom: inst.branch?.source.name ?? null,
    branchedFromUuid: inst.branch?.source.uuid ?? null,
    branchPhase: inst.branch?.phase ?? null,
    sourcePauseMs: inst.branch?.source_pause_ms ?? null,
    snapshotAt: inst.branch?.snapshot_at ?? null,
    snapshotMs: inst.branch?.snapshot_ms ?? null,
    restoreMs: inst.branch?.restore_ms ?? null,
    bootTimeMs: inst.boot_time_ms,
    createdAt: inst.created_at,
    startedAt: inst.started_at,
    exitCode: inst.exit_code,
    stopReason: inst.stop_reason,
    accelerator: inst.accelerator,
  };
}

/**
 * Outputs of any provider version read as the current layout. Version 1 is the first; states
 * without a version (none were written) are read as version 1. Fields added since (`triggers`,
 * `managedInputs`) read as null when absent. A newer layout is refused rather than misread.
 */
export function upgradeInstanceOutputs(olds: Record<string, unknown>): InstanceOutputs {
  const version = typeof olds.schemaVersion === "number" ? olds.schemaVersion : 1;
  if (version > INSTANCE_SCHEMA_VERSION)
    throw new Error(`This state was written by a newer vmbranch provider (instance schema ${version}; this one reads up to ${INSTANCE_SCHEMA_VERSION}): upgrade the vmbranch package`);
  const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
  const rec = (v: unknown): Record<string, string> => (isRecord(v) ? (v as Record<string, string>) : {});
  return {
    ...(olds as unknown as InstanceOutputs),
    schemaVersion: INSTANCE_SCHEMA_VERSION,
    autoNamed: olds.autoNamed === true,
    namePrefix: typeof olds.namePrefix === "string" ? olds.namePrefix : null,
    template: typeof olds.template === "string" ? olds.template : null,
    branchFrom: typeof olds.branchFrom === "string" ? olds.branchFrom : null,
    checkpoint: typeof olds.checkpoint === "string" ? olds.checkpoint : null,
    volumes: list<NormalVolume>(olds.volumes),
    ports: list<NormalPort>(olds.ports),
    tags: list<string>(olds.tags),
    annotations: rec(olds.annotations),
    env: rec(olds.env),
    deleteLock: olds.deleteLock === true,
    state: typeof olds.state === "string" ? olds.state : "unknown",
    waitForExit: olds.waitForExit === true,
    triggers: Array.isArray(olds.triggers) ? olds.triggers : null,
    managedInputs: Array.isArray(olds.managedInputs) ? (olds.managedInputs as string[]) : null,
    timeouts: isRecord(olds.timeouts) ? (olds.timeouts as unknown as InstanceOutputs["timeouts"]) : null,
    readiness: isRecord(olds.readiness) ? (olds.readiness as unknown as InstanceOutputs["readiness"]) : null,
  };
}
