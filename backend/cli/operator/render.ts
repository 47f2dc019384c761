/**
 * What people read: aligned tables, ages and durations, and the branch lineage as a tree (which
 * instance was branched from which, with each branch's source pause). Pure functions of SDK objects.
 */
import type { Instance } from "vmbranch/sdk";

/** Rows under a header, columns padded to their widest cell (the last one unpadded). */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? "").length)));
  return all.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  ").trimEnd()).join("\n") + "\n";
}

/** How long ago `iso` was, as people say it: `45s`, `3m`, `2h`, `5d`. */
export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** A duration in milliseconds, or `-` when there is none. */
export function millis(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "-";
  if (ms < 1000) return `${Math.round(ms * 10) / 10}ms`;
  return `${(ms / 1000).toFixed(1)}s`;
}

/**
 * The state people read: as the API says it, and `(host offline)` after it when the host stopped
 * heartbeating (the state is then only as last recorded, and nothing can act on it).
 */
export function stateText(r: { state: string; host_state?: "online" | "offline" }): string {
  return r.host_state === "offline" ? `${r.state} (host offline)` : r.state;
}

/** The host people read: its name, with `(offline)` while it does not heartbeat. */
export function hostText(r: { host?: string; host_state?: "online" | "offline" }): string {
  if (!r.host) return "-";
  return r.host_state === "offline" ? `${r.host} (offline)` : r.host;
}

/** One instance in the lineage with its branches. */
export interface LineageNode {
  instance: Instance;
  branches: LineageNode[];
}

/** Instances as a forest by `branch.source`; a branch whose source is gone is a root. Oldest first. */
export function lineage(instances: readonly Instance[]): LineageNode[] {
  const nodes = new Map(instances.map((i) => [i.uuid, { instance: i, branches: [] as LineageNode[] }]));
  const roots: LineageNode[] = [];
  const byAge = [...instances].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.name.localeCompare(b.name));
  for (const i of byAge) {
    const parent = i.branch ? nodes.get(i.branch.source.uuid) : undefined;
    (parent ? parent.branches : roots).push(nodes.get(i.uuid)!);
  }
  return roots;
}

/** The lineage as tree lines: NAME (with ├─/└─), STATE, PAUSE (the source's, for live branches), AGE. */
export function lineageTable(roots: readonly LineageNode[], now = Date.now()): string {
  const rows: string[][] = [];
  const walk = (n: LineageNode, prefix: string, branchPrefix: string) => {
    const i = n.instance;
    // A root with a branch source is a branch whose source is gone.
    const from = i.branch && branchPrefix === "" ? ` (from ${i.branch.source.name}, deleted)` : "";
    const pause = i.branch ? (i.branch.from_memory && i.branch.snapshot_uuid ? millis(i.branch.source_pause_ms) : "none") : "";
    rows.push([`${branchPrefix}${i.name}${from}`, stateText(i), pause, age(i.created_at, now)]);
    n.branches.forEach((b, k) => {
      const last = k === n.branches.length - 1;
      walk(b, prefix + (last ? "   " : "│  "), prefix + (last ? "└─ " : "├─ "));
    });
  };
  for (const r of roots) walk(r, "", "");
  return table(["NAME", "STATE", "PAUSE", "AGE"], rows);
}

/** The lineage as JSON for scripts: each instance's identity, state, pause and its branches. */
export function lineageJson(roots: readonly LineageNode[]): unknown[] {
  const one = (n: LineageNode): unknown => ({
    uuid: n.instance.uuid,
    name: n.instance.name,
    state: n.instance.state,
    created_at: n.instance.created_at,
    branched_from: n.instance.branch?.source.name ?? null,
    source_pause_ms: n.instance.branch?.source_pause_ms ?? null,
    branches: n.branches.map(one),
  });
  return roots.map(one);
}
