/**
 * Placement: which host a new instance or volume goes to, decided from the hosts' records and what
 * the request pins (an explicit `host`, a source, existing volumes). Pure logic: the caller reads
 * the hosts and the pinning records from the store and records the answer; nothing here does I/O.
 */
import { messages } from "vmbranch/sdk";
import { ApiError } from "./errors";

/** What placement needs of a host. */
export interface PlacementHost {
  name: string;
  state: "online" | "offline";
  /** MemAvailable at its last heartbeat, in MiB; null until known. */
  memoryFreeMib: number | null;
  /** Instances it holds (templates and checkpoints aside); 0 when not given. */
  instances?: number;
}

/**
 * The precision of the free-memory figures: a heartbeat records a move of this much at once and a
 * smaller one only at its next refresh, so hosts whose figures differ by less are equal here.
 */
export const MEMORY_STEP_MIB = 64;

/** Something already on a host that the new instance must live beside. */
export interface Pin {
  /** A branch, template or checkpoint source, an existing volume the instance mounts, or a new volume's template. */
  kind: "branch_from" | "template" | "checkpoint" | "volume" | "volume_template";
  name: string;
  host: string;
}

/** What is being placed. */
export interface PlacementRequest {
  /** The request's `host`, when it names one. */
  requested?: string;
  /** Host memory the work needs, in MiB (0 for a volume). */
  memoryMb: number;
  /** What the new instance must live beside; empty for a free choice. */
  pins?: readonly Pin[];
}

const PIN_WORDS: Record<Pin["kind"], string> = { branch_from: "branch source", template: "template", checkpoint: "checkpoint", volume: "volume", volume_template: "template" };
/** What a pin is in the API's words, as HOST_OFFLINE names it (hosts.ts's requireHostOnline says the same). */
const PIN_SUBJECTS: Record<Pin["kind"], string> = {
  branch_from: "Instance", template: "Instance template", checkpoint: "Checkpoint", volume: "Volume", volume_template: "Volume template",
};
/** The request field that names a pin. */
const PIN_FIELDS: Record<Pin["kind"], string> = { branch_from: "branch_from", template: "template", checkpoint: "checkpoint", volume: "volumes", volume_template: "template" };

function pinText(p: Pin) {
  return { what: PIN_WORDS[p.kind], name: p.name, host: p.host };
}

/** The requested host, or a 400 naming the known ones; a 409 when it is offline. */
function requireOnline(hosts: readonly PlacementHost[], name: string): PlacementHost {
  const host = hosts.find((h) => h.name === name);
  if (!host) throw new ApiError("VALIDATION_FAILED", messages.hostUnknown(name, hosts.map((h) => h.name).sort()), "host");
  if (host.state !== "online") throw new ApiError("HOST_OFFLINE", messages.hostOffline(name), "host");
  return host;
}

/**
 * The host for `req` among `hosts`:
 * - a pin (a volume the instance mounts or shares, or a source it stays beside: instance-placement.ts
 *   decides when a source's files are sent elsewhere instead) decides; pins on two hosts, or a
 *   requested host other than the pins', are a 409;
 * - else the requested host, when it is known and online;
 * - else the online host with the most free memory that fits `memoryMb`. Most free memory rather
 *   than fewest instances: instances differ in size by orders of magnitude (a 64 MiB sandbox
 *   beside a 16 GiB one), and memory, not a count, is what runs out and makes a start fail with a
 *   507; free memory also counts what the host runs besides vmbranch. When none fits, the one
 *   with the most free memory is still chosen: the figures are a heartbeat old, and the start's
 *   own capacity check (core/capacity.ts) answers the exact 507 from the figures of that moment.
 *   Hosts whose free memory is within two MEMORY_STEP_MIB of the most are equal (each figure may
 *   lag by a step); among them the one with the fewest instances wins.
 * Remaining ties go to the name first in order, so the same state always places the same way.
 */
export function chooseHost(hosts: readonly PlacementHost[], req: PlacementRequest): string {
  if (req.requested !== undefined) requireOnline(hosts, req.requested);
  const pins = req.pins ?? [];
  const first = pins[0];
  if (first) {
    const other = pins.find((p) => p.host !== first.host);
    if (other) throw new ApiError("PLACEMENT_CONFLICT", messages.placementSplit(pinText(first), pinText(other)), PIN_FIELDS[other.kind]);
    if (req.requested !== undefined && req.requested !== first.host) {
      throw new ApiError("PLACEMENT_CONFLICT", messages.pinOnOtherHost(pinText(first), req.requested), "host");
    }
    // What the instance needs is on an offline host: the same refusal as any operation on it.
    if (hosts.find((h) => h.name === first.host)?.state !== "online")
      throw new ApiError("HOST_OFFLINE", messages.onOfflineHost(PIN_SUBJECTS[first.kind], first.name, first.host), PIN_FIELDS[first.kind]);
    return first.host;
  }
  if (req.requested !== undefined) return req.requested;
  const online = hosts.filter((h) => h.state === "online").sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (online.length === 0) throw new ApiError("HOST_OFFLINE", messages.noHostOnline);
  const free = (h: PlacementHost) => h.memoryFreeMib ?? -1;
  const fitting = online.filter((h) => h.memoryFreeMib === null || h.memoryFreeMib >= req.memoryMb);
  const pool = fitting.length > 0 ? fitting : online;
  const most = Math.max(...pool.map(free));
  // Each recorded figure may lag the truth by up to a step, so two within two steps cannot be told
  // apart: of those, the host with fewer instances spreads the work (and what one host's failure
  // takes down); `pool` is in name order, so the first of the emptiest wins.
  const equals = pool.filter((h) => free(h) > most - 2 * MEMORY_STEP_MIB || free(h) === most);
  return equals.reduce((best, h) => ((h.instances ?? 0) < (best.instances ?? 0) ? h : best)).name;
}

/**
 * Where an instance made from a source on `home` goes when `home` has no room for it: null while
 * `home` has `need.beside` MiB free above `reserveMb` by its last figure (an unknown figure counts
 * as room: the start's own capacity check has the last word), or when no other online host has
 * `need.away` free above the reserve; else the one `chooseHost` picks among those that have.
 */
export function chooseAway(hosts: readonly PlacementHost[], home: string, need: { beside: number; away: number }, reserveMb: number): string | null {
  const room = (h: PlacementHost | undefined, mb: number) => h?.memoryFreeMib === null || h?.memoryFreeMib === undefined || h.memoryFreeMib - reserveMb >= mb;
  if (room(hosts.find((h) => h.name === home), need.beside)) return null;
  const others = hosts.filter((h) => h.name !== home && h.state === "online" && room(h, need.away));
  return others.length === 0 ? null : chooseHost(others, { memoryMb: need.away + reserveMb });
}
