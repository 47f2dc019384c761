/**
 * Branching against cold boots, side by side in one run: source pause over 20 branches, request →
 * branch running (and snapshot complete → running), against request → running of a cold boot of
 * the same image.
 */
import type { TestBackend } from "../../test/helpers/backend";
import { percentile, summarize, type Summary } from "../lib/stats";
import { WORKLOAD, running, settle, since } from "../lib/vm";

/** Pause percentiles. */
export interface PauseStats {
  p50: number;
  p99: number;
  max: number;
  n: number;
}

/** Results of the branching scenario. */
export interface BranchingResult {
  /** Source with a read-write volume: disks switch to overlays inside the pause. */
  pauseMs: PauseStats;
  /** Source without read-write disks: only QEMU's own capture pauses it. */
  pauseNoDiskMs: PauseStats;
  branchRequestToRunningMs: Summary;
  snapshotCompleteToRunningMs: Summary;
  snapshotMs: Summary;
  coldBootRequestToRunningMs: Summary;
  speedup: number;
}

function pauseStats(xs: number[]): PauseStats {
  return { p50: percentile(xs, 50), p99: percentile(xs, 99), max: Math.max(...xs), n: xs.length };
}

/** Run it: `branches` branches of one running 256 MiB source, `boots` cold boots. */
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
  await c.instances.create({ ...WORKLOAD, name: "src", volumes: [{ size_mb: 16, at: "/data" }] });
  await running(c, "src");
  await settle(3000);
  const pauses: number[] = [];
  const toRunning: number[] = [];
  const restore: number[] = [];
  const snap: number[] = [];
  for (let i = 0; i < branches; i++) {
    const t0 = performance.now();
    await c.instances.create({ name: `br-${i}`, branch_from: { name: "src" } });
    const inst = await running(c, `br-${i}`);
    toRunning.push(since(t0));
    pauses.push(inst.branch!.source_pause_ms!);
    restore.push(inst.branch!.restore_ms!);
    snap.push(inst.branch!.snapshot_ms!);
    await c.instances.delete(`br-${i}`);
    await settle();
  }
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
    pauseNoDiskMs: pauseStats(pausesNoDisk),
    branchRequestToRunningMs: branch,
    snapshotCompleteToRunningMs: summarize(restore),
    snapshotMs: summarize(snap),
    coldBootRequestToRunningMs: boot,
    speedup: boot.median / branch.median,
  };
}
