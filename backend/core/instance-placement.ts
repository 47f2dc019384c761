/**
 * Where a new instance goes (docs/cluster.md, "Placement"): beside the existing volumes it mounts;
 * an instance made from a source (a branch, a template's instance, a checkpoint load) beside its
 * source, unless another host is asked for or the source's host has no room for it while another
 * has: then the source's disk layers and memory image are sent to that host (disks.ts `overlay`,
 * memory-copies.ts). Else the request's host, else placement.ts's free choice. A source that
 * shares a read-only volume stays with it: shared volumes are not copied.
 */
import type { InstanceCreateRequest } from "vmbranch/sdk";
import type { InstanceRecord } from "../store/records";
import { placeNeed } from "./capacity";
import type { CoreContext } from "./context";
import { chooseAway, type Pin } from "./placement";
import { hostStateOf, placementHosts, placeOn, requireHostOnline, storedHost } from "./hosts";
import { INSTANCE_DEFAULTS } from "./instances";
import { findAnyInstance, findVolume, refId } from "./lookup";

/** The source an instance is made from, if any, as a pin would name it. */
function sourceOf(ctx: CoreContext, req: InstanceCreateRequest): { kind: Pin["kind"]; rec: InstanceRecord } | null {
  const ref = req.branch_from ? (["branch_from", req.branch_from] as const) : req.template ? (["template", req.template] as const) : req.checkpoint ? (["checkpoint", req.checkpoint] as const) : null;
  const rec = ref ? findAnyInstance(ctx.store, refId(ref[1])) : null;
  return ref && rec ? { kind: ref[0], rec } : null;
}

/** How an instance made from `src` gets its memory: a live snapshot taken now, an existing memory snapshot, or a boot. */
function startKind(ctx: CoreContext, kind: Pin["kind"], src: InstanceRecord): "live" | "memory" | "boot" {
  if (kind === "branch_from" && src.state === "running") return "live";
  const snap = src.snapshotUuid ? ctx.store.snapshots.get({ uuid: src.snapshotUuid }) : null;
  return snap?.hasMemory && (kind !== "branch_from" || src.state === "standby") ? "memory" : "boot";
}

/** Read-only volumes an instance made from `src` would share with it (a template's are cloned, not shared). */
function sharedVolumes(ctx: CoreContext, kind: Pin["kind"], src: InstanceRecord): Pin[] {
  const store = ctx.store;
  const uuids = kind === "branch_from"
    ? store.attachments.ofInstance(src.uuid).filter((a) => a.readonly).map((a) => a.volumeUuid)
    : kind === "checkpoint" && src.snapshotUuid
      ? store.snapshotDisks.ofSnapshot(src.snapshotUuid).filter((d) => d.readonly).map((d) => d.volumeUuid)
      : [];
  return uuids.map((uuid) => store.volumes.get({ uuid })).flatMap((v) => (v?.host ? [{ kind: "volume" as const, name: v.name, host: v.host }] : []));
}

/** The host for new instance `req`; throws the placement refusals (placement.ts) before anything is made. */
export function placeInstance(ctx: CoreContext, req: InstanceCreateRequest): string {
  const store = ctx.store;
  const pins: Pin[] = [];
  // Inline volumes are made where the instance goes; existing ones are files on their host.
  for (const v of req.volumes ?? []) {
    if (v.size_mb !== undefined || v.host_path !== undefined) continue;
    const rec = findVolume(store, (v.uuid ?? v.name)!);
    if (rec?.host) pins.push({ kind: "volume", name: rec.name, host: rec.host });
  }
  const source = sourceOf(ctx, req);
  const memoryMb = source?.rec.memoryMb ?? req.memory_mb ?? INSTANCE_DEFAULTS.memoryMb;
  if (source?.rec.host) {
    const { kind, rec } = source;
    const shared = sharedVolumes(ctx, kind, rec);
    pins.push(...shared);
    const stays = { kind, name: rec.name, host: rec.host! };
    if (req.host !== undefined && req.host !== rec.host && shared.length === 0) {
      // Sent to the host asked for: the source's host must be reachable to send from.
      requireHostOnline(store, rec);
    } else if (req.host === undefined && pins.length === 0 && hostStateOf(storedHost(store), rec.host) === "online") {
      // Only from a host that is online: a source on an offline one stays pinned, for placement's HOST_OFFLINE.
      const away = roomAway(ctx, rec.host!, placeNeed(memoryMb, startKind(ctx, kind, rec), req.count));
      if (away) return away;
      pins.push(stays);
    } else pins.push(stays);
  }
  return placeOn(ctx, { requested: req.host, memoryMb, pins });
}

/** The host an instance made from a source on `home` goes to when `home` is short of room for it (placement.ts `chooseAway`), else null. */
function roomAway(ctx: CoreContext, home: string, need: { beside: number; away: number }): string | null {
  // Only hosts an agent of this serve runs can receive the files; the home host is judged by its record whatever it is.
  const hosts = placementHosts(ctx).filter((h) => h.name === home || ctx.hosts.has(h.name));
  return chooseAway(hosts, home, need, ctx.config.hostReserveMb);
}
