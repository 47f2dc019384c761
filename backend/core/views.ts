/**
 * Turn records into the wire objects of the SDK schemas (Instance, Volume). Reads related rows
 * (attachments, ports, snapshots) from the store; decides nothing.
 */
import type { Instance, InstanceState, Volume, VolumeState } from "vmbranch/sdk";
import type { GuestNetwork } from "../host/vm-driver";
import type { AttachmentRecord, DiskRecord, HostRecord, InstanceRecord, PortRecord, VolumeRecord } from "../store/records";
import type { Store } from "../store/store";
import { hostStateOf, storedHost } from "./hosts";

/** A checkpoint's volumes: what its snapshot holds, at the paths the source mounted them. */
function checkpointVolumes(store: Store, r: InstanceRecord): Instance["volumes"] {
  if (!r.snapshotUuid) return [];
  return store.snapshotDisks.ofSnapshot(r.snapshotUuid).map((d) => {
    const v = store.volumes.get({ uuid: d.volumeUuid });
    return { uuid: d.volumeUuid, name: v?.name ?? "", at: d.at, readonly: d.readonly, kind: "block" as const, inline: v ? !v.persistent : true };
  });
}

/** The state the API shows for `r`: `template` for a template (the store keeps its flag apart), else its state. */
export function instanceState(r: InstanceRecord): InstanceState {
  return r.isTemplate ? "template" : r.state;
}

/** The state the API shows for `r`, mounts aside: `template` for a template (the store keeps its flag apart), else its state. */
export function volumeState(r: VolumeRecord): VolumeState {
  return r.isTemplate ? "template" : r.state;
}

/** The rows an instance's view reads besides its own: one query each, or loaded once for a list. */
export interface InstanceRelations {
  attachments(instanceUuid: string): AttachmentRecord[];
  ports(instanceUuid: string): PortRecord[];
  volume(uuid: string): VolumeRecord | null;
  host(name: string): HostRecord | null | undefined;
}

/** Relations read row by row, for one view. */
function queried(store: Store): InstanceRelations {
  return {
    attachments: (uuid) => store.attachments.ofInstance(uuid),
    ports: (uuid) => store.ports.ofInstance(uuid),
    volume: (uuid) => store.volumes.get({ uuid }),
    host: storedHost(store),
  };
}

/**
 * Relations of every instance read at once (four queries), for a list: per instance they would
 * be two queries and one per volume, thousands for a long list.
 */
export function loadedRelations(store: Store): InstanceRelations {
  const attachments = store.attachments.byInstance();
  const ports = store.ports.byInstance();
  const volumes = new Map(store.volumes.all().map((v) => [v.uuid, v]));
  const hosts = new Map(store.hosts.byName().map((h) => [h.name, h]));
  return {
    attachments: (uuid) => attachments.get(uuid) ?? [],
    ports: (uuid) => ports.get(uuid) ?? [],
    volume: (uuid) => volumes.get(uuid) ?? null,
    host: (name) => hosts.get(name),
  };
}

/** Wire form of an instance; `rel` gives its attachments, ports and volumes (read one by one when not given). */
export function instanceView(store: Store, r: InstanceRecord, net: Pick<GuestNetwork, "guestIp" | "forwardIp">, rel: InstanceRelations = queried(store)): Instance {
  const atts = rel.attachments(r.uuid);
  const volumes = r.checkpoint ? checkpointVolumes(store, r) : atts.map((a) => {
    const v = rel.volume(a.volumeUuid);
    return {
      uuid: a.volumeUuid,
      name: v?.name ?? "",
      at: a.at,
      readonly: a.readonly,
      kind: v?.kind ?? "block",
      inline: v ? !v.persistent : false,
    };
  });
  const ports = rel
    .ports(r.uuid)
    .map((p) => ({ guest_port: p.guestPort, host_port: p.hostPort, host_ip: net.forwardIp, protocol: p.protocol }));
  const snap = r.snapshotUuid ? store.snapshots.get({ uuid: r.snapshotUuid }) : null;
  return {
    uuid: r.uuid,
    name: r.name,
    state: instanceState(r),
    image: r.image,
    memory_mb: r.memoryMb,
    vcpus: r.vcpus,
    args: r.args,
    env: r.env,
    hostname: r.hostname,
    volumes,
    ports,
    network_interfaces: [{ name: "eth0", mac: r.mac, private_ip: net.guestIp }],
    smbios_serial: r.smbiosSerial,
    tags: r.tags,
    annotations: r.annotations,
    delete_lock: r.deleteLock,
    autostart: r.autostart,
    outbound_network: r.outboundNetwork,
    // Every row names its host once serve has started (it adopts older rows).
    host: r.host ?? "",
    // Offline: `state` stays as last recorded, since nothing can know more until the host is back.
    host_state: hostStateOf(rel.host, r.host),
    created_at: r.createdAt,
    started_at: r.startedAt,
    stopped_at: r.stoppedAt,
    boot_time_ms: r.bootTimeMs,
    exit_code: r.exitCode,
    stop_reason: r.stopReason ?? r.error,
    start_count: r.startCount,
    accelerator: r.accelerator,
    snapshot: snap ? { uuid: snap.uuid, created_at: snap.createdAt, has_memory: snap.hasMemory } : null,
    template: r.template,
    branch: r.branch
      ? {
          source: { uuid: r.branch.sourceUuid, name: r.branch.sourceName },
          snapshot_uuid: r.branch.snapshotUuid,
          snapshot_at: r.branch.snapshotAt,
          source_pause_ms: r.branch.sourcePauseMs,
          snapshot_ms: r.branch.snapshotMs ?? null,
          restore_ms: r.branch.restoreMs ?? null,
          phase: r.branch.phase,
          from_memory: r.branch.fromMemory,
          quiesced: r.branch.quiesced ?? null,
          message: r.branch.message,
        }
      : null,
    checkpoint: r.checkpoint
      ? {
          source: { uuid: r.checkpoint.sourceUuid, name: r.checkpoint.sourceName },
          has_memory: r.checkpoint.hasMemory,
          source_pause_ms: r.checkpoint.sourcePauseMs,
          ready_at: r.checkpoint.readyAt,
          loads: r.checkpoint.loads,
          last_loaded_at: r.lastUsedAt ?? null,
          guest_ports: r.checkpoint.guestPorts.map((p) => ({ guest_port: p.guestPort, protocol: p.protocol })),
          message: r.checkpoint.message,
        }
      : null,
    from_checkpoint: r.fromCheckpoint ?? null,
    template_autokill: r.isTemplate ? { time_ms: r.autokillMs ?? 0 } : null,
    checkpoint_autokill: r.checkpoint ? { time_ms: r.autokillMs ?? 0 } : null,
  };
}

/** The rows a volume's view reads besides its own: one query each, or loaded once for a list. */
export interface VolumeRelations {
  attachments(volumeUuid: string): AttachmentRecord[];
  instance(uuid: string): Pick<InstanceRecord, "name" | "state"> | null;
  template(uuid: string): VolumeRecord | null;
  clones(templateUuid: string): number;
  disk(id: string): DiskRecord | null;
  host(name: string): HostRecord | null | undefined;
}

/** Volume relations read row by row, for one view. */
function queriedForVolume(store: Store): VolumeRelations {
  return {
    attachments: (uuid) => store.attachments.ofVolume(uuid),
    instance: (uuid) => store.instances.get({ uuid }),
    template: (uuid) => store.volumes.get({ uuid }),
    clones: (uuid) => store.volumes.clonesOf(uuid),
    disk: (id) => store.disks.get({ id }),
    host: storedHost(store),
  };
}

/**
 * Relations of every volume read at once (six queries), for a list: per volume they would be
 * four queries and two per attachment. Instances are read as names and states only: a list of a
 * few volumes beside thousands of instances would otherwise spend its time decoding them.
 */
export function loadedVolumeRelations(store: Store): VolumeRelations {
  const attachments = store.attachments.byVolume();
  const instances = store.instances.namesAndStates();
  const templates = new Map(store.volumes.templates().map((v) => [v.uuid, v]));
  const clones = store.volumes.cloneCounts();
  const disks = new Map(store.disks.all().map((d) => [d.id, d]));
  const hosts = new Map(store.hosts.byName().map((h) => [h.name, h]));
  return {
    attachments: (uuid) => attachments.get(uuid) ?? [],
    instance: (uuid) => instances.get(uuid) ?? null,
    template: (uuid) => templates.get(uuid) ?? null,
    clones: (uuid) => clones.get(uuid) ?? 0,
    disk: (id) => disks.get(id) ?? null,
    host: (name) => hosts.get(name),
  };
}

/** Wire form of a volume or volume template; `rel` gives the rows it reads besides its own (one by one when not given). */
export function volumeView(store: Store, r: VolumeRecord, rel: VolumeRelations = queriedForVolume(store)): Volume {
  const atts = rel.attachments(r.uuid);
  const attachedTo = atts.map((a) => ({ uuid: a.instanceUuid, name: rel.instance(a.instanceUuid)?.name ?? "" }));
  const mountedBy = atts
    .map((a) => ({ a, i: rel.instance(a.instanceUuid) }))
    .filter(({ i }) => i !== null && (i.state === "running" || i.state === "starting" || i.state === "stopping"))
    .map(({ a, i }) => ({ uuid: a.instanceUuid, name: i!.name, at: a.at, readonly: a.readonly }));
  const template = r.templateUuid ? rel.template(r.templateUuid) : null;
  const clones = rel.clones(r.uuid);
  const state = !r.isTemplate && r.state === "available" && mountedBy.length > 0 ? "mounted" : volumeState(r);
  return {
    uuid: r.uuid,
    name: r.name,
    state,
    kind: r.kind,
    size_mb: r.sizeMb,
    filesystem: r.filesystem,
    host_path: r.hostPath,
    uid: r.uid,
    gid: r.gid,
    persistent: r.persistent,
    attached_to: attachedTo,
    mounted_by: mountedBy,
    tags: r.tags,
    delete_lock: r.deleteLock,
    created_at: r.createdAt,
    host: r.host ?? "",
    host_state: hostStateOf(rel.host, r.host),
    template: template ? { uuid: template.uuid, name: template.name } : null,
    clone: r.clone
      ? {
          source: { uuid: r.clone.sourceUuid, name: r.clone.sourceName },
          progress: r.clone.progress,
          started_at: r.clone.startedAt,
          finished_at: r.clone.finishedAt,
          message: r.clone.message,
        }
      : null,
    clones,
    chain_depth: r.headDisk ? (rel.disk(r.headDisk)?.depth ?? null) : null,
    error: r.error,
  };
}
