/**
 * Hosts (docs/cluster.md, "Hosts"): this serve's own host registers at start and heartbeats with
 * its memory figures (read through the VM driver, never from /proc here); hosts whose heartbeats
 * stopped are marked offline; the API's host views; and placement's inputs read from the store.
 * Which host a new instance or volume goes to is placement.ts's pure decision. Also the refusal
 * of every operation on what lives on an offline host (docs/cluster.md, "Host failure").
 */
import { messages, type Host, type HostState } from "vmbranch/sdk";
import type { HostRecord, InstanceRecord, VolumeRecord } from "../store/records";
import type { Store } from "../store/store";
import type { CoreContext } from "./context";
import { ApiError } from "./errors";
import { now } from "./identity";
import { chooseHost, type PlacementRequest } from "./placement";

/** How often this serve reads its host's memory and looks for stale hosts. */
export const HEARTBEAT_MS = 5_000;

/** The longest a host goes without recording a heartbeat, even when nothing changed. */
export const REFRESH_MS = 20_000;

/** Free memory moving by this much is recorded at once: placement reads it. */
export const MEMORY_STEP_MIB = 64;

/** A host that has not recorded a heartbeat for this long is offline: three refreshes missed (the default of `hostOfflineAfterMs`). */
export const OFFLINE_AFTER_MS = 3 * REFRESH_MS;

/** What this serve last recorded for its host. */
export interface Recorded {
  at: number;
  totalMib: number | null;
  freeMib: number | null;
}

/**
 * Whether a heartbeat is worth a state write: the first one, one every REFRESH_MS for liveness,
 * and any move of the memory figures placement reads. Sampling every 5 s but writing only these
 * keeps an idle host to a write every 20 s (as Nova's service reports), with placement still
 * seeing a real change within one sample.
 */
export function worthRecording(last: Recorded | null, next: Recorded): boolean {
  if (!last) return true;
  if (next.at - last.at >= REFRESH_MS) return true;
  if (next.totalMib !== last.totalMib) return true;
  if (next.freeMib === null || last.freeMib === null) return next.freeMib !== last.freeMib;
  return Math.abs(next.freeMib - last.freeMib) >= MEMORY_STEP_MIB;
}

/** The host `req` goes to, among the hosts the store records now. */
export function placeOn(store: Store, req: PlacementRequest): string {
  return chooseHost(store.hosts.byName(), req);
}

/**
 * The state the views show for host `name`: its record's, and `offline` when it has none (nothing
 * heartbeats for it). A row that names no host is older than hosts and is serve's own once it
 * started (`Hosts.start` adopts it): online.
 */
export function hostStateOf(host: (name: string) => HostRecord | null | undefined, name: string | null | undefined): HostState {
  if (!name) return "online";
  return host(name)?.state === "online" ? "online" : "offline";
}

/** The host record named `name` in `store`, for `hostStateOf`. */
export const storedHost = (store: Store) => (name: string) => store.hosts.get({ name });

/** What `rec` is in the API's words, as a HOST_OFFLINE message names it. */
function subjectOf(rec: InstanceRecord | VolumeRecord): string {
  if ("image" in rec) return rec.checkpoint ? "Checkpoint" : rec.isTemplate ? "Instance template" : "Instance";
  return rec.isTemplate ? "Volume template" : "Volume";
}

/**
 * Refuse, with 409 HOST_OFFLINE, any operation that would act on one of `recs` while its host is
 * offline: its VM, disks and memory image are on that machine, which nothing reaches until it
 * heartbeats again, and a change recorded meanwhile would describe what is not there (a deleted
 * row over files that remain, a start that never happened). Called by every action path before
 * it changes anything; reads do not call it. The first record on an offline host is named.
 */
export function requireHostOnline(store: Store, ...recs: (InstanceRecord | VolumeRecord)[]): void {
  for (const rec of recs) {
    if (hostStateOf(storedHost(store), rec.host) === "offline")
      throw new ApiError("HOST_OFFLINE", messages.onOfflineHost(subjectOf(rec), rec.name, rec.host!));
  }
}

/**
 * True when `rec` lives on this serve's host (a row older than hosts too): only its VMs and files
 * are on this machine. Start-up reconciliation and the doctor judge only these; another host's
 * rows stay as last recorded, for its agent to reconcile.
 */
export function onLocalHost(ctx: CoreContext, rec: { host?: string | null }): boolean {
  return !rec.host || rec.host === ctx.config.hostName;
}

/** Wire form of a host. */
function hostView(r: HostRecord, instances: number): Host {
  return {
    name: r.name, state: r.state, memory_total_mib: r.memoryTotalMib, memory_free_mib: r.memoryFreeMib, instances,
    last_heartbeat: r.lastHeartbeat, joined_at: r.joinedAt,
  };
}

/** The local host's registration, heartbeats and the host views. */
export class Hosts {
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private recorded: Recorded | null = null;
  /** This serve marked its own host offline (it could not be read); the next heartbeat records it online. */
  private localOffline = false;

  constructor(private readonly ctx: CoreContext) {}

  /** This serve's host. */
  get local(): string {
    return this.ctx.config.hostName;
  }

  /**
   * Register this serve's host as online, give it the instances and volumes that name no host
   * (rows from before hosts existed: they were all on this machine, the only one a serve ever
   * drove), take a first heartbeat, then heartbeat every HEARTBEAT_MS until `close`.
   */
  async start(): Promise<void> {
    const store = this.ctx.store;
    store.hosts.register(this.local, now());
    const adopted = store.adoptUnplaced(this.local);
    if (adopted.instances + adopted.volumes > 0)
      this.ctx.log.info(`host ${this.local}: took ${adopted.instances} instance(s) and ${adopted.volumes} volume(s) recorded before hosts existed`);
    await this.heartbeat();
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  /** One heartbeat at a time: a slow store must not pile them up. */
  private beat(): Promise<void> {
    this.beating ??= this.heartbeat()
      .catch((err) => this.ctx.log.warn({ err: String(err) }, `host ${this.local}: heartbeat not recorded`))
      .finally(() => (this.beating = null));
    return this.beating;
  }

  /**
   * Read this host's memory; record it when `worthRecording` says so; mark offline the other
   * hosts whose heartbeats stopped (only a read when there are none: between refreshes an idle host
   * writes nothing).
   */
  async heartbeat(): Promise<void> {
    const store = this.ctx.store;
    const offlineAfterMs = this.ctx.config.hostOfflineAfterMs;
    let memory;
    try {
      memory = await this.ctx.driver.memory();
    } catch (err) {
      // This host cannot be read (its agent is unreachable): once its last heartbeat is as old as
      // another host's would have to be, it is offline like one, itself included.
      const cutoff = new Date(Date.now() - offlineAfterMs).toISOString();
      const stale = store.tx(() => store.hosts.markStale(cutoff, null));
      if (stale.includes(this.local)) this.localOffline = true;
      if (stale.length > 0) this.ctx.log.warn(`hosts offline (no heartbeat for ${offlineAfterMs / 1000}s): ${stale.join(", ")}`);
      throw err;
    }
    const next: Recorded = { at: Date.now(), totalMib: memory.totalMb, freeMib: memory.availableMb };
    // A host that was offline is recorded online at its first heartbeat back.
    const record = this.localOffline || worthRecording(this.recorded, next);
    store.tx(() => {
      if (record) store.hosts.heartbeat(this.local, new Date(next.at).toISOString(), next);
      const stale = store.hosts.markStale(new Date(next.at - offlineAfterMs).toISOString(), this.local);
      if (stale.length > 0) this.ctx.log.warn(`hosts offline (no heartbeat for ${offlineAfterMs / 1000}s): ${stale.join(", ")}`);
    });
    if (record) {
      if (this.localOffline) this.ctx.log.info(`host ${this.local} heartbeats again: online`);
      this.recorded = next;
      this.localOffline = false;
    }
  }

  /** Stop heartbeating. The host's row stays as last recorded; a serve on another host marks it offline once it is stale. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** `GET /v1/hosts`: every host, by name. */
  list(): Host[] {
    const counts = this.ctx.store.hosts.instanceCounts();
    return this.ctx.store.hosts.byName().map((h) => hostView(h, counts.get(h.name) ?? 0));
  }

  /** `GET /v1/hosts/{name}`; 404 when there is no such host. */
  get(name: string): Host {
    const h = this.ctx.store.hosts.get({ name });
    if (!h) throw new ApiError("HOST_NOT_FOUND", `Host '${name}' not found`);
    return hostView(h, this.ctx.store.hosts.instanceCounts().get(name) ?? 0);
  }
}
