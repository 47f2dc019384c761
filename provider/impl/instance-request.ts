/**
 * From Instance inputs (camelCase) to the API's create request (snake_case), and back from the
 * API's field paths to input property names, so check failures name what the user wrote. In
 * check mode every unknown value (preview) is replaced by a placeholder that is valid for its
 * field: the SDK schemas then still see the field as present (combination rules apply) without
 * rejecting its type (zod skips the combination rules after a type error).
 */
import { looksLikeUuid, type InstanceCreateParams, type Ref } from "vmbranch/sdk";
import type { InstanceInputs } from "./instance-model";
import { isRecord, isUnknown, withoutUndefined } from "./values";

/** How unknown values are treated: `none` (all known), or `placeholders` (check during preview). */
export type UnknownMode = "none" | "placeholders";

// A name that passes NameSchema; stands in for a name not known yet.
const NAME_PLACEHOLDER = "unknown-during-preview";

/** A reference from a name or uuid string. */
export function toRef(idOrName: string): Ref {
  return looksLikeUuid(idOrName) ? { uuid: idOrName } : { name: idOrName };
}

function known<T>(value: unknown, placeholder: T): T {
  return isUnknown(value) ? placeholder : (value as T);
}

function list<T>(value: unknown, item: (v: unknown) => T): T[] | undefined {
  if (value === undefined) return undefined;
  if (isUnknown(value) || !Array.isArray(value)) return isUnknown(value) ? [] : (value as T[]);
  return value.filter((v) => !isUnknown(v)).map(item);
}

function record(value: unknown, placeholder: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (isUnknown(value)) return {};
  if (!isRecord(value)) return value as Record<string, string>;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) out[k] = known(v, placeholder);
  return out;
}

function ref(value: unknown): Ref | undefined {
  if (value === undefined) return undefined;
  return isUnknown(value) ? { name: NAME_PLACEHOLDER } : typeof value === "string" ? toRef(value) : (value as Ref);
}

/** Options of `instanceCreateRequest`. */
export interface CreateRequestOptions {
  autostart: boolean;
  /** Leave `volumes` and `ports` out (a branch gets them after creation, see instance-reconcile). */
  omitVolumes?: boolean;
  omitPorts?: boolean;
}

/**
 * The `POST /v1/instances` body for `inputs`. With unknown values (check during preview), pass
 * the inputs as the engine sent them: unknowns become valid placeholders.
 */
export function instanceCreateRequest(inputs: InstanceInputs | Record<string, unknown>, opts: CreateRequestOptions): InstanceCreateParams {
  const i = inputs as Record<string, unknown>;
  const clone = isUnknown(i.cloneOptions) ? {} : ((i.cloneOptions ?? {}) as Record<string, unknown>);
  const req: Record<string, unknown> = {
    name: i.name === undefined ? undefined : known(i.name, NAME_PLACEHOLDER),
    image: i.image === undefined ? undefined : known(i.image, "unknown"),
    template: ref(i.template),
    branch_from: ref(i.branchFrom),
    checkpoint: ref(i.checkpoint),
    memory_mb: i.memoryMb === undefined ? undefined : known(i.memoryMb, 128),
    vcpus: i.vcpus === undefined ? undefined : known(i.vcpus, 1),
    args: list(i.args, (v) => v),
    env: record(i.env, ""),
    volumes: opts.omitVolumes ? undefined : list(i.volumes, volumeSpec),
    ports: opts.omitPorts ? undefined : list(i.ports, portSpec),
    autostart: opts.autostart,
    hostname: i.hostname === undefined ? undefined : known(i.hostname, "unknown"),
    outbound_network: i.outboundNetwork === undefined ? undefined : known(i.outboundNetwork, false),
    host: i.host === undefined ? undefined : known(i.host, "unknown"),
    tags: list(i.tags, (v) => v),
    annotations: record(i.annotations, ""),
    delete_lock: i.deleteLock === undefined ? undefined : known(i.deleteLock, false),
    tag_filters: list(clone.tagFilters, (v) => v),
    annotation_filters: list(clone.annotationFilters, (v) => v),
    new_mac_addresses: record(clone.newMacAddresses, "02:00:00:00:00:01"),
    new_smbios_serial: clone.newSmbiosSerial === undefined ? undefined : known(clone.newSmbiosSerial, "unknown"),
  };
  return withoutUndefined(req) as InstanceCreateParams;
}

function volumeSpec(v: unknown): Record<string, unknown> {
  if (!isRecord(v)) return v as Record<string, unknown>;
  const out: Record<string, unknown> = { at: v.at === undefined ? undefined : known(v.at, "/unknown") };
  if (v.volume !== undefined && v.volume !== null) {
    const id = known(v.volume, NAME_PLACEHOLDER);
    // A new inline volume may be named; an existing one is referenced by name or uuid.
    if (typeof id === "string" && looksLikeUuid(id) && v.sizeMb === undefined) out.uuid = id;
    else out.name = id;
  }
  if (v.sizeMb !== undefined && v.sizeMb !== null) out.size_mb = known(v.sizeMb, 1);
  if (v.readonly !== undefined && v.readonly !== null) out.readonly = known(v.readonly, false);
  return withoutUndefined(out);
}

function portSpec(p: unknown): Record<string, unknown> {
  if (!isRecord(p)) return p as Record<string, unknown>;
  const out: Record<string, unknown> = { guest_port: p.guestPort === undefined ? undefined : known(p.guestPort, 1) };
  if (p.hostPort !== undefined && p.hostPort !== null) out.host_port = known(p.hostPort, 1);
  if (p.protocol !== undefined && p.protocol !== null) out.protocol = known(p.protocol, "tcp");
  return withoutUndefined(out);
}

// API field → input property, where the rename is not just snake_case → camelCase.
const TOP_LEVEL: Record<string, string> = {
  autostart: "state",
  tag_filters: "cloneOptions.tagFilters",
  annotation_filters: "cloneOptions.annotationFilters",
  new_mac_addresses: "cloneOptions.newMacAddresses",
  new_smbios_serial: "cloneOptions.newSmbiosSerial",
};

function camel(s: string): string {
  return s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The input property for an API field path such as `volumes[0].size_mb` (→ `volumes[0].sizeMb`),
 * `branch_from.name` (→ `branchFrom`) or `tag_filters` (→ `cloneOptions.tagFilters`).
 */
export function inputPropertyOf(field: string): string {
  const m = /^([a-z_]+)(.*)$/.exec(field);
  if (!m) return field;
  const head = m[1] as string;
  let rest = m[2] as string;
  if (head === "template" || head === "branch_from" || head === "checkpoint") return camel(head);
  if (head === "volumes") rest = rest.replace(/\.(name|uuid)$/, ".volume");
  return (TOP_LEVEL[head] ?? camel(head)) + rest.replace(/\.([a-z_]+)/g, (_, s: string) => `.${camel(s)}`);
}
