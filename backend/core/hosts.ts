/**
 * Hosts (docs/cluster.md, "Hosts"): each host this serve drives (its own, or each agent's)
 * registers at start and heartbeats with its memory figures (read through its VM driver, never
 * from /proc here); hosts whose heartbeats stopped are marked offline; the API's host views; and
 * placement's inputs read from the store. Which host a new instance or volume goes to is
 * placement.ts's pure decision. Also the refusal
 * of every operation on what lives on an offline host (docs/cluster.md, "Host failure").
 */
import { messages, type Host, type HostState } from "vmbranch/sdk";
import type { HostRecord, InstanceRecord, VolumeRecord } from "../store/records";
import type { Store } from "../store/store";
import { noAgentFor, type CoreContext } from "./context";
import { ApiError } from "./errors";
import { now } from "./identity";
import { chooseHost, MEMORY_STEP_MIB, type PlacementHost, type PlacementRequest } from "./placement";

/** How often this serve reads its host's memory and looks for stale hosts. */
export const HEARTBEAT_MS = 5_000;

/** The longest a host goes without recording a heartbeat, even when nothing changed. */
export const REFRESH_MS = 20_000;


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

/** Every host the store records, with the instances it holds, as placement.ts weighs them. */
export function placementHosts(ctx: CoreContext): PlacementHost[] {
  const counts = ctx.store.hosts.instanceCounts();
  return ctx.store.hosts.byName().map((h) => ({ ...h, instances: counts.get(h.name) ?? 0 }));
}

/**
 * The host `req` goes to, among the hosts the store records now. A free choice is made among the
 * hosts this serve drives; a host no agent of it runs has nowhere to put a VM or a file, so a
 * request pinned to one (by `host` or a source there) is refused saying why.
 */
export function placeOn(ctx: CoreContext, req: PlacementRequest): string {
  const hosts = placementHosts(ctx);
  const free = req.requested === undefined && (req.pins ?? []).length === 0;
  const chosen = chooseHost(free ? hosts.filter((h) => ctx.hosts.has(h.name)) : hosts, req);
  if (!ctx.hosts.has(chosen)) throw new ApiError("HOST_OFFLINE", noAgentFor(chosen), req.requested !== undefined ? "host" : undefined);
  return chosen;
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
 * True when `rec` lives on a host this serve drives (a row older than hosts too): only those VMs
 * and files are within its reach. Start-up reconciliation and the doctor judge only these;
 * another host's rows stay as last recorded, for the control plane that drives it.
 */
export function drivenHere(ctx: CoreContext, rec: { host?: string | null }): boolean {
  return ctx.hosts.has(rec.host ?? ctx.config.hostName);
}

/** Wire form of a host. */
function hostView(r: HostRecord, instances: number): Host {
  return {
    name: r.name, state: r.state, memory_total_mib: r.memoryTotalMib, memory_free_mib: r.memoryFreeMib, instances,
    last_heartbeat: r.lastHeartbeat, joined_at: r.joinedAt,
  };
}

/** The registration and heartbeats of the hosts this serve drives, and the host views. */
export class Hosts {
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  /** What was last recorded for each driven host. */
  private readonly recorded = new Map<string, Recorded>();
  /** Driven hosts this serve marked offline (they could not be read); the next heartbeat that reads one records it online. */
  private readonly markedOffline = new Set<string>();

  constructor(private readonly ctx: CoreContext) {}

  /** This serve's home host. */
  get local(): string {
    return this.ctx.config.hostName;
  }

  /**
   * Register every driven host as online, give the home host the rows that name no host (rows
   * from before hosts existed: they were all on the machine of the only host a serve then drove),
   * take a first heartbeat, then heartbeat every HEARTBEAT_MS until `close`.
   */
  async start(): Promise<void> {
    const store = this.ctx.store;
    for (const name of this.ctx.hosts.keys()) store.hosts.register(name, now());
    const adopted = store.adoptUnplaced(this.local);
    if (adopted.instances + adopted.volumes + adopted.disks + adopted.snapshots > 0)
      this.ctx.log.info(`host ${this.local}: took ${adopted.instances} instance(s), ${adopted.volumes} volume(s), ${adopted.disks} disk(s) and ${adopted.snapshots} snapshot(s) recorded before they named hosts`);
    await this.heartbeat().catch((err: Error) => this.ctx.log.warn(`a host did not answer its first heartbeat: ${err.message}`));
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  /** One heartbeat at a time: a slow store must not pile them up. */
  private beat(): Promise<void> {
    this.beating ??= this.heartbeat()
      .catch((err) => this.ctx.log.warn({ err: String(err) }, "heartbeat not recorded"))
      .finally(() => (this.beating = null));
    return this.beating;
  }

  /**
   * Read each driven host's memory; record it when `worthRecording` says so; mark offline the
   * other hosts whose heartbeats stopped (only a read when there are none: between refreshes an
   * idle host writes nothing). A driven host that cannot be read (its agent unreachable) goes
   * offline like any other once its last heartbeat is that old. Throws the first read's failure
   * after recording what could be read.
   */
  async heartbeat(): Promise<void> {
    const store = this.ctx.store;
    const offlineAfterMs = this.ctx.config.hostOfflineAfterMs;
    const names = [...this.ctx.hosts.keys()];
    const reads = await Promise.allSettled(names.map((name) => this.ctx.hosts.get(name)!.vm.memory()));
    const at = Date.now();
    const read = new Map<string, Recorded>();
    reads.forEach((r, i) => {
      if (r.status === "fulfilled") read.set(names[i]!, { at, totalMib: r.value.totalMb, freeMib: r.value.availableMb });
    });
    // A host that was marked offline is recorded online at its first heartbeat back.
    const toRecord = [...read].filter(([name, next]) => this.markedOffline.has(name) || worthRecording(this.recorded.get(name) ?? null, next));
    const stale = store.tx(() => {
      for (const [name, next] of toRecord) store.hosts.heartbeat(name, new Date(next.at).toISOString(), next);
      return store.hosts.markStale(new Date(at - offlineAfterMs).toISOString(), [...read.keys()]);
    });
    if (stale.length > 0) this.ctx.log.warn(`hosts offline (no heartbeat for ${offlineAfterMs / 1000}s): ${stale.join(", ")}`);
    for (const name of stale) if (this.ctx.hosts.has(name)) this.markedOffline.add(name);
    for (const [name, next] of toRecord) {
      if (this.markedOffline.delete(name)) this.ctx.log.info(`host ${name} heartbeats again: online`);
      this.recorded.set(name, next);
    }
    const failed = reads.findIndex((r) => r.status === "rejected");
    if (failed >= 0) throw new Error(`host ${names[failed]}: ${((reads[failed] as PromiseRejectedResult).reason as Error).message}`);
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
