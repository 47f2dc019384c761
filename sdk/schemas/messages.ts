/**
 * Exact user-facing messages for request combinations the API refuses. The backend's error
 * registry and the Pulumi provider's `check` both use these, so a preview fails with the very
 * words the API would answer (docs/api.md lists them).
 */

/** Fields a branch inherits from its source and therefore refuses in the request. */
export const BRANCH_INHERITED_FIELDS = ["args", "env", "memory_mb", "vcpus"] as const;

/** Fields that only make sense when cloning identity from a source (branch or template). */
export const CLONE_OPTION_FIELDS = ["tag_filters", "annotation_filters", "new_mac_addresses", "new_smbios_serial"] as const;

/** Something on a host, as placement messages name it. */
export interface PinText {
  what: string;
  name: string;
  host: string;
}

export const messages = {
  branchWithImage: "Cannot specify 'image' when 'branch_from' is set",
  quiesceWithoutBranch: "Cannot specify 'quiesce' without 'branch_from'",
  countWithoutBranch: "Cannot specify 'count' without 'branch_from'",
  /** A batch's names are `<name>-1` … `<name>-<count>`, which must stay within the 63 characters of a name. */
  /** One request's branches would all get the one value given. */
  countWithIdentity: (field: string) => `Cannot specify '${field}' when 'count' is above 1: every branch would get the same`,
  countWithHostPort: "Cannot specify a 'host_port' when 'count' is above 1: every branch would need the same host port",
  countNameTooLong: (name: string, count: number) => `Name '${name}' is too long for ${count} branches: '${name}-${count}' would exceed 63 characters`,
  branchWithTemplate: "Cannot specify 'branch_from' when creating an instance from a template",
  branchInherited: (field: string) => `Cannot specify '${field}' when branching from an existing instance`,
  branchPendingSnapshot: "Cannot branch from VM with pending snapshot",
  branchBadState: (state: string) => `Cannot branch from VM in state '${state}'`,
  branchManagedVolume: (volume: string) =>
    `Cannot branch from VM with managed volume '${volume}': only block-based volumes (for example, ext4) can be branched`,
  templateWithImage: "Cannot specify 'image' when creating an instance from a template",
  templateInherited: (field: string) => `Cannot specify '${field}' when creating an instance from a template`,
  /** `image`, `template`, `branch_from` or an inherited field next to `checkpoint`. */
  checkpointConflict: (field: string) => `Cannot specify '${field}' when creating an instance from a checkpoint`,
  missingSource: "Missing 'image': set 'image', 'template', 'branch_from' or 'checkpoint'",
  cloneOptionWithoutSource: (field: string) => `Cannot specify '${field}' without 'branch_from', 'template' or 'checkpoint'`,
  checkpointNameTaken: (name: string) => `A checkpoint with the name '${name}' already exists`,
  checkpointNotReady: (name: string, state: string) =>
    `Failed to create instance from checkpoint: checkpoint '${name}' is in state '${state}'; wait until it is in state 'checkpoint'`,
  timeoutNeedsAutostart: "Cannot specify 'timeout_s' when 'autostart' is false: there is no start to wait for",
  badFilter: (filter: string) =>
    `Invalid filter '${filter}': '*' is allowed only at the end and '!' only at the start`,
  badMac: (iface: string, mac: string) =>
    `Invalid MAC address '${mac}' for interface '${iface}': expected a unicast address like 02:00:00:00:00:01`,
  hostPathExclusive: (field: string) => `Cannot specify '${field}' together with 'host_path'`,
  volumeSizeOrTemplate: "Specify exactly one of 'size_mb', 'template' or 'host_path'",
  hostPathNotAbsolute: (path: string) => `'host_path' must be an absolute path: '${path}'`,
  hostPathNotNormalised: (path: string) =>
    `'host_path' must be normalised, with no '.', '..', ':' or empty components: '${path}'`,
  mountPathInvalid: (path: string) => `Mount path 'at' must be absolute, with no '.', '..' or ':' components: '${path}'`,
  hostUnknown: (host: string, known: readonly string[]) => `Unknown host '${host}': the known hosts are ${known.map((h) => `'${h}'`).join(", ") || "none"}`,
  hostOffline: (host: string) => `Host '${host}' is offline: nothing is placed on it until it heartbeats again`,
  /** Something (`what`: Instance, Instance template, Checkpoint, Volume, Volume template) lives on an offline host: no operation may act on it. */
  onOfflineHost: (what: string, name: string, host: string) =>
    `${what} '${name}' is on host '${host}', which is offline: nothing can act on it until the host heartbeats again`,
  /** Two things an instance must live beside (`what`: volume, branch source, template, checkpoint) are on different hosts. */
  placementSplit: (a: PinText, b: PinText) =>
    `Cannot place the instance: ${a.what} '${a.name}' is on host '${a.host}' and ${b.what} '${b.name}' on host '${b.host}'`,
  /** An explicit `host` other than the one something the instance must live beside (a volume it mounts or shares) is on. */
  pinOnOtherHost: (pin: PinText, requested: string) => `Cannot place the instance on host '${requested}': its ${pin.what} '${pin.name}' is on host '${pin.host}'`,
  noHostOnline: "No host is online: nothing can be placed until one heartbeats",
  volumeShrink: (from: number, to: number) => `Cannot shrink volume from ${from} MiB to ${to} MiB: volumes can only grow`,
} as const;
