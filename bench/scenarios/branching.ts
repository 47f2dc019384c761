/**
 * Branching against cold boots, side by side in one run: source pause over 20 branches, request →
 * branch running (and snapshot complete → running), against request → running of a cold boot of
 * the same image. The source with a volume is branched alternately with `quiesce: "auto"` (the
 * guest agent freezes its volume, the disks switch while it runs) and `"off"` (the disks switch
 * inside a pause of ours, the path before the agent): before and after in one run, interleaved.
 */
import type { TestBackend } from "../../test/helpers/backend";
import { percentile, summarize, type Summary } from "../lib/stats";
import { WORKLOAD, running, settle, since, startSource, timedBranch } from "../lib/vm";

/** Pause percentiles. */
export interface PauseStats {
  p50: number;
  p99: number;
  max: number;
  n: number;
}

/** Results of the branching scenario. */
export interface BranchingResult {
  /** Source with a read-write volume, `quiesce: "auto"`: the default path. */
  pauseMs: PauseStats;
  /** The same source, `quiesce: "off"`: disks switch to overlays inside a pause of ours. */
  pauseOffMs: PauseStats;
  /** How many `auto` branches the agent really quiesced (of pauseMs.n). */
  quiesced: number;
  /** With the agent: from sending the freeze until the thaw answered (writers in the guest wait at most this), from serve's log. */
  frozenMs: Summary | null;
  branchOffRequestToRunningMs: Summary;
  /** Source without read-write disks: only QEMU's own capture pauses it. */
  pauseNoDiskMs: PauseStats;
  branchRequestToRunningMs: Summary;
  snapshotCompleteToRunningMs: Summary;
  snapshotMs: Summary;
  coldBootRequestToRunningMs: Summary;
  speedup: number;
}

/** p50, p99 and max of pauses `xs`. */
export function pauseStats(xs: number[]): PauseStats {
  return { p50: percentile(xs, 50), p99: percentile(xs, 99), max: Math.max(...xs), n: xs.length };
}

/** Run it: `branches` branches of one running 256 MiB source per path (2 × branches with a volume), `boots` cold boots. */
export async function branching(b: TestBackend, branches = 20, boots = 5): Promise<BranchingResult> {
  const c = b.client;
  const cold: number[] = [];
  for (let i = 0; i < boots; i++) {
    const t0 = performance.now();
    await c.instances.create({ ...WORKLOAD, name: `cold-${i}`, volumes: [{ size_mb: 16, at: "/data" }] });
    await running(c, `cold-${i}`);
    cold.push(since(t0));
    await c.instances.delete(`cold-${i}`);
    await settle();
  }
  await startSource(c, "src");
  const pauses: number[] = [];
  const pausesOff: number[] = [];
  const toRunning: number[] = [];
  const toRunningOff: number[] = [];
  const restore: number[] = [];
  const snap: number[] = [];
  const snapshots: string[] = [];
  let quiesced = 0;
  for (let i = 0; i < 2 * branches; i++) {
    const off = i % 2 === 1;
    const { branch: inst, ms } = await timedBranch(c, "src", `br-${i}`, off ? "off" : "auto");
    (off ? toRunningOff : toRunning).push(ms);
    (off ? pausesOff : pauses).push(inst.branch!.source_pause_ms!);
    if (!off) {
      restore.push(inst.branch!.restore_ms!);
      snap.push(inst.branch!.snapshot_ms!);
      if (inst.branch!.quiesced) quiesced++;
      snapshots.push(inst.branch!.snapshot_uuid!);
    }
    await c.instances.delete(`br-${i}`);
    await settle();
  }
  const frozen = frozenTimes(b.serveLog(), snapshots);
  await c.instances.delete("src");
  await c.instances.create({ ...WORKLOAD, name: "src-nodisk", args: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick=$i; sleep 1; done"] });
  await running(c, "src-nodisk");
  await settle(3000);
  const pausesNoDisk: number[] = [];
  for (let i = 0; i < branches; i++) {
    const inst = await c.instances.create({ name: `brn-${i}`, branch_from: { name: "src-nodisk" } });
    pausesNoDisk.push(inst.branch!.source_pause_ms!);
    await running(c, `brn-${i}`);
    await c.instances.delete(`brn-${i}`);
    await settle();
  }
  await c.instances.delete("src-nodisk");
  const branch = summarize(toRunning);
  const boot = summarize(cold);
  return {
    pauseMs: pauseStats(pauses),
    pauseOffMs: pauseStats(pausesOff),
    quiesced,
    frozenMs: frozen.length > 0 ? summarize(frozen) : null,
    branchOffRequestToRunningMs: summarize(toRunningOff),
    pauseNoDiskMs: pauseStats(pausesNoDisk),
    branchRequestToRunningMs: branch,
    snapshotCompleteToRunningMs: summarize(restore),
    snapshotMs: summarize(snap),
    coldBootRequestToRunningMs: boot,
    speedup: boot.median / branch.median,
  };
}

/** The freeze windows serve logged for `snapshots` ("live snapshot taken", frozenMs). */
function frozenTimes(log: string, snapshots: string[]): number[] {
  const out: number[] = [];
  for (const line of log.split("\n")) {
    if (!line.includes("live snapshot taken")) continue;
    try {
      const rec = JSON.parse(line) as { snapshot?: string; frozenMs?: number | null };
      if (rec.snapshot && snapshots.includes(rec.snapshot) && typeof rec.frozenMs === "number") out.push(rec.frozenMs);
    } catch {
      // not a JSON line
    }
  }
  return out;
}
