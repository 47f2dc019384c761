/**
 * The Instance resource's data as the provider methods see it: resolved inputs (camelCase, plain
 * values), the outputs stored in state, and the normal forms used to compare them. Owns which
 * values count as "the same" (tags as sets, ports by guest port, volumes by mount point) so that
 * check, diff, outputs and updates agree. No I/O.
 */
import type { NamingInputs } from "./naming";
import type { TimeoutsInput } from "./timeouts";
import { isRecord, sortedRecord } from "./values";

/** A volume of an instance: an existing one by name or uuid, or a new inline one with `sizeMb`. */
export interface InstanceVolumeInput {
  volume?: string;
  sizeMb?: number;
  at: string;
  readonly?: boolean;
}

/** A published port; `hostPort` is chosen by the server when absent. */
export interface PortInput {
  guestPort: number;
  hostPort?: number;
  protocol?: "tcp" | "udp";
}

/** KubeVirt clone options for a branch or a template instance. */
export interface CloneOptionsInput {
  tagFilters?: string[];
  annotationFilters?: string[];
  newMacAddresses?: Record<string, string>;
  newSmbiosSerial?: string;
}

/** An HTTP readiness check on a published port, run from the machine running Pulumi. */
export interface ReadinessInput {
  guestPort: number;
  path?: string;
}

/** The lifecycle states a program may ask for. */
export type DesiredState = "running" | "stopped" | "standby";

/** Resolved inputs of an Instance (every value known: create, update). */
export interface InstanceInputs extends NamingInputs {
  image?: string;
  template?: string;
  branchFrom?: string;
  /** Checkpoint (name or uuid) to load. */
  checkpoint?: string;
  memoryMb?: number;
  vcpus?: number;
  args?: string[];
  env?: Record<string, string>;
  volumes?: InstanceVolumeInput[];
  ports?: PortInput[];
  tags?: string[];
  annotations?: Record<string, string>;
  deleteLock?: boolean;
  state?: DesiredState;
  hostname?: string;
  outboundNetwork?: boolean;
  /** The host to run it on; the server places it when unset. */
  host?: string;
  cloneOptions?: CloneOptionsInput;
  timeouts?: TimeoutsInput;
  readiness?: ReadinessInput;
  waitForExit?: boolean;
  /** Any values; a change replaces the instance. */
  triggers?: unknown[];
}

/** A published port as the server assigned it. */
export interface PublishedPort {
  guestPort: number;
  hostPort: number;
  hostIp: string;
  protocol: "tcp" | "udp";
}

/** A volume attached to the instance, as the server reports it. */
export interface AttachedVolume {
  uuid: string;
  name: string;
  at: string;
  readonly: boolean;
  inline: boolean;
  kind: "block" | "managed";
}

/** What an Instance stores in state: every input (as given, else the server's value) plus computed fields. */
export interface InstanceOutputs {
  schemaVersion: number;
  name: string;
  namePrefix: string | null;
  autoNamed: boolean;
  image: string;
  template: string | null;
  branchFrom: string | null;
  checkpoint: string | null;
  memoryMb: number;
  vcpus: number;
  args: string[];
  env: Record<string, string>;
  volumes: NormalVolume[];
  ports: NormalPort[];
  tags: string[];
  annotations: Record<string, string>;
  deleteLock: boolean;
  /** The instance's state as last seen (equal to the desired one after create and update). */
  state: string;
  hostname: string;
  /** Absent in outputs stored before the field existed (false then). */
  outboundNetwork?: boolean;
  /** The host it lives on, as the server reports it; null from servers older than hosts, absent in outputs stored before the field. */
  host?: string | null;
  cloneOptions: CloneOptionsInput | null;
  timeouts: TimeoutsInput | null;
  readiness: ReadinessInput | null;
  waitForExit: boolean;
  triggers: unknown[] | null;
  /** The inputs the program gave at the last create or update (refresh reports them back); null in states written before 0.2. */
  managedInputs: string[] | null;
  uuid: string;
  /** Its host's state (`online`, `offline`) as last seen; null from servers older than host failure, absent in outputs stored before the field. */
  hostState?: string | null;
  publishedPorts: PublishedPort[];
  hostPorts: Record<string, number>;
  attachedVolumes: AttachedVolume[];
  macAddress: string | null;
  privateIp: string | null;
  smbiosSerial: string;
  branchedFrom: string | null;
  branchedFromUuid: string | null;
  branchPhase: string | null;
  sourcePauseMs: number | null;
  snapshotAt: string | null;
  snapshotMs: number | null;
  restoreMs: number | null;
  bootTimeMs: number | null;
  createdAt: string;
  startedAt: string | null;
  exitCode: number | null;
  stopReason: string | null;
  accelerator: string | null;
}

/** Version of the output layout above; bump it (and upgrade old states) when the layout changes. */
export const INSTANCE_SCHEMA_VERSION = 1;

/** A volume entry in normal form. */
export interface NormalVolume {
  volume: string | null;
  sizeMb: number | null;
  at: string;
  readonly: boolean;
}

/** A port entry in normal form. */
export interface NormalPort {
  guestPort: number;
  hostPort: number | null;
  protocol: "tcp" | "udp";
}

/** True when the instance copies its configuration from a source (a branch, a template or a checkpoint instance). */
export function isDerived(i: Pick<InstanceInputs, "branchFrom" | "template" | "checkpoint">): boolean {
  return i.branchFrom !== undefined || i.template !== undefined || i.checkpoint !== undefined;
}

/** The state the program asks for: `running` unless said otherwise (`stopped` for a run-to-exit job). */
export function desiredState(i: Pick<InstanceInputs, "state" | "waitForExit">): DesiredState {
  return i.state ?? (i.waitForExit === true ? "stopped" : "running");
}

/** Where a transitional server state is heading, so `starting` compares equal to `running`. */
export function settledState(state: string): string {
  if (state === "starting") return "running";
  if (state === "stopping") return "stopped";
  return state;
}

/** Normal form of a volume entry. */
export function normalVolume(v: InstanceVolumeInput | NormalVolume): NormalVolume {
  return { volume: v.volume ?? null, sizeMb: v.sizeMb ?? null, at: v.at, readonly: v.readonly ?? false };
}

/** Normal form of a port entry (tcp by default). */
export function normalPort(p: PortInput | NormalPort): NormalPort {
  return { guestPort: p.guestPort, hostPort: p.hostPort ?? null, protocol: p.protocol ?? "tcp" };
}

/** Volume entries sorted by mount point, for order-insensitive comparison. */
export function sortedVolumes(list: readonly (InstanceVolumeInput | NormalVolume)[]): NormalVolume[] {
  return list.map(normalVolume).sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
}

/** Port entries sorted by guest port and protocol. */
export function sortedPorts(list: readonly (PortInput | NormalPort)[]): NormalPort[] {
  return list.map(normalPort).sort((a, b) => a.guestPort - b.guestPort || a.protocol.localeCompare(b.protocol));
}

/** Tags as a sorted set. */
export function tagSet(tags: readonly string[]): string[] {
  return [...new Set(tags)].sort();
}

/** The key of a port in `hostPorts`: "8080" for TCP, "53/udp" for UDP. */
export function portKey(guestPort: number, protocol: string): string {
  return protocol === "tcp" ? String(guestPort) : `${guestPort}/${protocol}`;
}

/** True when a volume entry names `attached` (by name, or by uuid in any case). */
export function volumeMatches(entry: NormalVolume, attached: { uuid: string; name: string }): boolean {
  if (entry.volume === null) return false;
  return entry.volume === attached.name || entry.volume.toLowerCase() === attached.uuid.toLowerCase();
}

/**
 * Inputs as the engine sent them, with `null` treated as absent (JavaScript programs may pass
 * null) and the engine's `__provider` removed. Values stay as given otherwise.
 */
export function resolveInstanceInputs(raw: Record<string, unknown>): InstanceInputs {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== null && v !== undefined && k !== "__provider") out[k] = v;
  if (isRecord(out.env)) out.env = sortedRecord(out.env as Record<string, string>);
  return out as InstanceInputs;
}
