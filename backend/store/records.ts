/**
 * Records: what the store keeps for each resource, in camelCase, already decoded from SQL.
 * Core reads and writes these; the API turns them into wire objects. No SQL here.
 */
import type { BranchPhase, InstanceState, VolumeState } from "vmbranch/sdk";

/** A qcow2 file: a writable head or a frozen layer that heads and snapshots build on. */
export interface DiskRecord {
  id: string;
  path: string;
  parentId: string | null;
  frozen: boolean;
  /** Number of backing files below this one. */
  depth: number;
  sizeMb: number;
  createdAt: string;
  /** The host its file is on (HostRecord's name; migration 9). Null only in rows older than that, until serve starts. */
  host?: string | null;
}

/** A frozen layer's file copied to another host, at the same path (migration 10). */
export interface DiskCopyRecord {
  diskId: string;
  host: string;
  bytes: number;
  copiedAt: string;
}

/** Clone progress of a volume made by `POST /v1/volumes/clone` (or implicitly). */
export interface CloneRecord {
  sourceUuid: string;
  sourceName: string;
  progress: number;
  startedAt: string;
  finishedAt: string | null;
  message: string | null;
}

/**
 * The states the store records for a volume. `template` is not one of them: a volume template is
 * flagged (`isTemplate`) and keeps state `available`; the API shows it as `template`.
 */
export type StoredVolumeState = Exclude<VolumeState, "template">;

/** A volume or a volume template (`isTemplate`). */
export interface VolumeRecord {
  uuid: string;
  name: string;
  kind: "block" | "managed";
  /** For a template, `available` (the state it was made in); it no longer changes. */
  state: StoredVolumeState;
  /** A volume template: volumes are made from it, it is never attached or written (migration 6). */
  isTemplate: boolean;
  sizeMb: number | null;
  filesystem: string | null;
  hostPath: string | null;
  uid: number | null;
  gid: number | null;
  /** False for volumes created inline with an instance: they die with it. */
  persistent: boolean;
  /** The instance an inline volume belongs to. */
  ownerUuid: string | null;
  /** The qcow2 holding the data (block volumes only; frozen for templates). */
  headDisk: string | null;
  /** The volume template this volume was instantiated or cloned from, if any. */
  templateUuid: string | null;
  clone: CloneRecord | null;
  tags: string[];
  deleteLock: boolean;
  /** True once data may have been written (import, clone, a read-write mount): import needs an empty volume. */
  populated: boolean;
  error: string | null;
  createdAt: string;
  /** The host its data lives on (HostRecord's name; migration 8). Null only in rows older than hosts, until serve starts. */
  host?: string | null;
}

/** How a branch was made, kept on the branch. */
export interface BranchRecord {
  sourceUuid: string;
  sourceName: string;
  snapshotUuid: string | null;
  snapshotAt: string | null;
  sourcePauseMs: number | null;
  snapshotMs: number | null;
  restoreMs: number | null;
  phase: BranchPhase;
  fromMemory: boolean;
  /** The guest agent froze the source's volumes for the live snapshot; absent (null) without one, and in rows written before. */
  quiesced?: boolean | null;
  message: string | null;
}

/** What a checkpoint captured and how it is used (instances.checkpoint; only on checkpoints). */
export interface CheckpointRecord {
  sourceUuid: string;
  sourceName: string;
  hasMemory: boolean;
  sourcePauseMs: number | null;
  /** When the capture completed; null while the checkpoint is `starting`. */
  readyAt: string | null;
  /** Instances loaded from it so far. */
  loads: number;
  /** Why the capture failed (state `error`), else null. */
  message: string | null;
  /** The source's published guest ports: instances loaded from it publish them on new host ports. */
  guestPorts: { guestPort: number; protocol: "tcp" | "udp" }[];
}

/**
 * The states the store records for an instance. `template` is not one of them: a template is
 * flagged (`isTemplate`) and keeps the state it was converted in; the API shows it as `template`.
 */
export type StoredInstanceState = Exclude<InstanceState, "template">;

/**
 * An instance, an instance template (`isTemplate`) or a checkpoint (`checkpoint` set). The
 * optional fields came with checkpoints; records read from the store always have them (null or []).
 */
export interface InstanceRecord {
  uuid: string;
  name: string;
  /** For a template, the state it was converted in (stopped or standby); it no longer changes. */
  state: StoredInstanceState;
  /** An instance template: instances are made from it, it never runs (migration 5). */
  isTemplate: boolean;
  image: string;
  memoryMb: number;
  vcpus: number;
  args: string[];
  env: Record<string, string>;
  hostname: string;
  mac: string;
  smbiosSerial: string;
  tags: string[];
  annotations: Record<string, string>;
  deleteLock: boolean;
  autostart: boolean;
  /** The guest may open connections beyond the host (never to the host itself). */
  outboundNetwork: boolean;
  createdAt: string;
  startedAt: string | null;
  stoppedAt: string | null;
  bootTimeMs: number | null;
  exitCode: number | null;
  stopReason: string | null;
  startCount: number;
  accelerator: "kvm" | "tcg" | null;
  /** Memory snapshot held while in standby or as a template. */
  snapshotUuid: string | null;
  template: { uuid: string; name: string } | null;
  branch: BranchRecord | null;
  pid: number | null;
  error: string | null;
  /** Set on checkpoints only. */
  checkpoint?: CheckpointRecord | null;
  /** The checkpoint this instance was loaded from. */
  fromCheckpoint?: { uuid: string; name: string } | null;
  /** Checkpoints inherited from the checkpoint it was loaded from (uuids, newest first). */
  lineage?: string[];
  /** Templates and checkpoints: deleted this long after their last use (null or 0: never). */
  autokillMs?: number | null;
  /** Templates and checkpoints: when an instance was last made from it. */
  lastUsedAt?: string | null;
  /** The host it lives on (HostRecord's name; migration 8). Null only in rows older than hosts, until serve starts. */
  host?: string | null;
}

/**
 * One recorded state transition of an instance (written by the store itself on every change); the
 * conversion into a template is recorded as a transition to `template`.
 */
export interface TransitionRecord {
  id: number;
  instanceUuid: string;
  at: string;
  fromState: InstanceState | null;
  toState: InstanceState;
  stopReason: string | null;
  error: string | null;
  exitCode: number | null;
  bootTimeMs: number | null;
}

/** A volume attached to an instance at a mount point. */
export interface AttachmentRecord {
  volumeUuid: string;
  instanceUuid: string;
  at: string;
  readonly: boolean;
  /** Order of the volume on the instance (stable device order). */
  position: number;
}

/** A published port. `requested` says whether the user chose the host port. */
export interface PortRecord {
  instanceUuid: string;
  guestPort: number;
  protocol: "tcp" | "udp";
  hostPort: number;
  requested: boolean;
}

/** The machine configuration a memory snapshot was taken with (the instance's, at that instant); a restore must use the same. */
export interface MachineRecord extends Pick<InstanceRecord, "image" | "memoryMb" | "vcpus" | "args" | "env" | "hostname" | "mac" | "smbiosSerial"> {
  /** VM generation ID the snapshot's guest last saw (a resume keeps it, a branch gets a new one). */
  vmgenid: string;
  accelerator: "kvm" | "tcg";
  /**
   * Versioned QEMU machine type and QEMU version the snapshot was taken with (a memory snapshot
   * only loads into them); absent only in rows written before they were recorded (core fills them at start).
   */
  machineType?: string;
  qemuVersion?: string;
  /** The VM had the guest agent's channel (a device: restores must have it too); absent: it had none. */
  guestAgent?: boolean;
  /** The snapshot caught the guest with its volumes frozen by the agent: a restore thaws them. */
  quiesced?: boolean;
}

/** A point-in-time snapshot of an instance: frozen disks and, when `hasMemory`, RAM and device state. */
export interface SnapshotRecord {
  uuid: string;
  sourceUuid: string;
  sourceName: string;
  purpose: "branch" | "standby" | "template";
  state: "pending" | "ready" | "failed";
  hasMemory: boolean;
  ramPath: string | null;
  devstatePath: string | null;
  machine: MachineRecord;
  pauseMs: number | null;
  createdAt: string;
  /** The host its files are on, the source's (migration 9). Null only in rows older than that, until serve starts. */
  host?: string | null;
}

/** One disk of a snapshot, with where it was mounted. */
export interface SnapshotDiskRecord {
  snapshotUuid: string;
  volumeUuid: string;
  diskId: string;
  at: string;
  readonly: boolean;
  position: number;
}

/**
 * One freeze of a multi-step operation's journal entry: volume `volumeUuid`'s head `headId`
 * becomes a layer and `overlay` (its file already made) its new head, on disk `diskId` of the VM.
 */
export interface FreezeIntent {
  volumeUuid: string;
  headId: string;
  diskId: string;
  overlay: DiskRecord;
}

/** What an open journal entry was doing, with what start-up recovery needs to finish or undo it. */
export type OperationIntent =
  | { kind: "live-freeze"; instanceUuid: string; snapshotUuid: string | null; freezes: FreezeIntent[] }
  | { kind: "suspend"; instanceUuid: string; snapshotUuid: string }
  | { kind: "resize"; volumeUuid: string; sizeMb: number };

/** An operation journal entry: written before an operation's first irreversible step, deleted after its last. */
export interface OperationRecord {
  id: string;
  kind: OperationIntent["kind"];
  subject: string;
  intent: OperationIntent;
  startedAt: string;
  /** The term of the serve that opened it (TermRecord); only the newest term's can be opened. */
  epoch: number;
}

/** A term of office: one serve that took the state, from when (migration 7). */
export interface TermRecord {
  /** One more than the term before. */
  epoch: number;
  /** Who took it: host name and pid. */
  holder: string;
  startedAt: string;
}

/** A host the control plane places instances and volumes on (migration 8). */
export interface HostRecord {
  name: string;
  /** `online` while it heartbeats; `offline` once its heartbeats stopped. */
  state: "online" | "offline";
  /** MemTotal and MemAvailable of the host at its last heartbeat, in MiB (null until known). */
  memoryTotalMib: number | null;
  memoryFreeMib: number | null;
  lastHeartbeat: string | null;
  joinedAt: string;
}
