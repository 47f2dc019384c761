/**
 * Types of the QMP arguments and replies vmbranch uses, named after QEMU's QAPI schema (qapi/*.json
 * of QEMU 10) and spelled as on the wire. Only the fields we read or send are listed; QEMU may send
 * more. The commands themselves are in commands.ts.
 */
import type { QemuVersionTriple } from "./monitor";

/** `query-status` run states (QAPI RunState). */
export type RunState =
  | "debug"
  | "inmigrate"
  | "internal-error"
  | "io-error"
  | "paused"
  | "postmigrate"
  | "prelaunch"
  | "finish-migrate"
  | "restore-vm"
  | "running"
  | "save-vm"
  | "shutdown"
  | "suspended"
  | "watchdog"
  | "guest-panicked"
  | "colo";

/** Reply of `query-status`. */
export interface StatusInfo {
  running: boolean;
  status: RunState;
}

/** Reply of `query-version`. */
export interface VersionInfo {
  qemu: QemuVersionTriple;
  package: string;
}

/** QAPI MigrationStatus. */
export type MigrationStatus =
  | "none"
  | "setup"
  | "cancelling"
  | "cancelled"
  | "active"
  | "postcopy-active"
  | "postcopy-paused"
  | "postcopy-recover-setup"
  | "postcopy-recover"
  | "completed"
  | "failed"
  | "colo"
  | "pre-switchover"
  | "device"
  | "wait-unplug";

/** RAM counters of a migration (QAPI MigrationStats, subset). */
export interface MigrationStats {
  transferred: number;
  remaining: number;
  total: number;
  duplicate: number;
  normal: number;
  "dirty-sync-count": number;
}

/** Reply of `query-migrate` (QAPI MigrationInfo, subset). */
export interface MigrationInfo {
  status?: MigrationStatus;
  ram?: MigrationStats;
  "total-time"?: number;
  "expected-downtime"?: number;
  /** Milliseconds the source was stopped (on the source, once completed). */
  downtime?: number;
  "setup-time"?: number;
  "error-desc"?: string;
}

/** Migration capabilities vmbranch knows by name (QAPI MigrationCapability, subset). */
export type MigrationCapability =
  | "x-ignore-shared"
  | "background-snapshot"
  | "mapped-ram"
  | "multifd"
  | "events"
  | "auto-converge"
  | "postcopy-ram"
  | "release-ram"
  | "zero-blocks"
  | "validate-uuid";

/** One entry of `query-migrate-capabilities`; `capability` may be one we do not know. */
export interface MigrationCapabilityStatus {
  capability: MigrationCapability | (string & {});
  state: boolean;
}

/** Arguments of `migrate-set-parameters` (QAPI MigrateSetParameters, subset). */
export interface MigrationParameters {
  "max-bandwidth"?: number;
  "downtime-limit"?: number;
  "multifd-channels"?: number;
  "max-cpu-throttle"?: number;
  "avail-switchover-bandwidth"?: number;
}

/** Cache settings of a block node. */
export interface BlockdevCacheOptions {
  direct?: boolean;
  "no-flush"?: boolean;
}

interface BlockdevCommon {
  "node-name": string;
  "read-only"?: boolean;
  "auto-read-only"?: boolean;
  discard?: "ignore" | "unmap";
  cache?: BlockdevCacheOptions;
  "detect-zeroes"?: "off" | "on" | "unmap";
}

/** A host file protocol node. */
export interface BlockdevOptionsFile extends BlockdevCommon {
  driver: "file";
  filename: string;
  locking?: "auto" | "on" | "off";
}

/** A qcow2 format node over `file` (a node name or inline options). */
export interface BlockdevOptionsQcow2 extends BlockdevCommon {
  driver: "qcow2";
  file: string | BlockdevOptionsFile;
  /** Node name of the backing node, null for none, absent to open the backing file named in the image. */
  backing?: string | null;
}

/** A raw format node over `file`. */
export interface BlockdevOptionsRaw extends BlockdevCommon {
  driver: "raw";
  file: string | BlockdevOptionsFile;
}

/** Arguments of `blockdev-add` for the drivers vmbranch uses. */
export type BlockdevOptions = BlockdevOptionsFile | BlockdevOptionsQcow2 | BlockdevOptionsRaw;

/** `transaction` action: make `overlay` (already added, no backing) the new top over `node`. */
export interface BlockdevSnapshotAction {
  type: "blockdev-snapshot";
  data: { node: string; overlay: string };
}

/** Actions `transaction` accepts here (all succeed or none do). */
export type TransactionAction = BlockdevSnapshotAction;

/** Arguments of `block-stream`: copy the backing chain below `device` into it, up to `base-node`. */
export interface BlockStreamOptions {
  "job-id": string;
  /** Node name of the top node (the one that receives the data). */
  device: string;
  "base-node"?: string;
  "backing-file"?: string;
  speed?: number;
  "on-error"?: "report" | "ignore" | "enospc" | "stop";
  "auto-finalize"?: boolean;
  "auto-dismiss"?: boolean;
}

/** QAPI JobStatus. */
export type JobStatus =
  | "undefined"
  | "created"
  | "running"
  | "paused"
  | "ready"
  | "standby"
  | "waiting"
  | "pending"
  | "aborting"
  | "concluded"
  | "null";

/** One entry of `query-block-jobs` (QAPI BlockJobInfo, subset). */
export interface BlockJobInfo {
  type: string;
  device: string;
  len: number;
  offset: number;
  busy: boolean;
  paused: boolean;
  speed: number;
  ready: boolean;
  status: JobStatus;
  error?: string;
}

/** Image facts of a node (QAPI ImageInfo, subset). */
export interface ImageInfo {
  filename: string;
  format: string;
  "virtual-size": number;
  "actual-size"?: number;
  "backing-filename"?: string;
  "backing-image"?: ImageInfo;
}

/** One entry of `query-jobs` (QAPI JobInfo, subset): any job, also one that concluded and awaits dismissal. */
export interface JobInfo {
  id: string;
  type: string;
  status: JobStatus;
  "current-progress": number;
  "total-progress": number;
  /** Set when the job failed (or was cancelled): QEMU's description of why. */
  error?: string;
}

/** One entry of `query-named-block-nodes` (QAPI BlockDeviceInfo, subset). */
export interface BlockDeviceInfo {
  "node-name": string;
  file: string;
  ro: boolean;
  drv: string;
  backing_file?: string;
  backing_file_depth: number;
  image: ImageInfo;
}

/** One entry of `query-block` (QAPI BlockInfo, subset): a guest-visible block backend. */
export interface BlockInfo {
  device: string;
  qdev?: string;
  inserted?: BlockDeviceInfo;
  locked: boolean;
  removable: boolean;
}

/** One entry of `query-blockstats` (QAPI BlockStats, subset): counters of a device since QEMU started. */
export interface BlockStats {
  device?: string;
  qdev?: string;
  "node-name"?: string;
  stats: { rd_bytes: number; wr_bytes: number; rd_operations: number; wr_operations: number };
}

/** Arguments of `device_add`: a driver, an id, and the driver's own properties. */
export interface DeviceAddOptions {
  driver: string;
  id: string;
  bus?: string;
  addr?: string;
  [property: string]: string | number | boolean | undefined;
}
