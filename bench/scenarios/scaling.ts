/**
 * How branching scales, side by side in one run: source pause, request → branch running and
 * memory (PSS) for guests of 128, 256, 512 and 1024 MiB, and for 1, 10 and 50 branches of one
 * running 256 MiB source kept running together, asked in batches (`count`). The goal is figures
 * flat in guest memory and in branch count.
 */
import { MAX_BRANCH_COUNT } from "vmbranch/sdk";
import type { TestBackend } from "../../test/helpers/backend";
import { pidOf, pssMiB, totalPssMiB } from "../lib/memory";
import { percentile, summarize, type Summary } from "../lib/stats";
import { WORKLOAD, running, settle, since } from "../lib/vm";

/** One row of the memory series: `branches` sequential branches of one source of `memoryMb`. */
export interface MemoryRow {
  memoryMb: number;
  pauseP50Ms: number;
  pauseP99Ms: number;
  /** The source's first snapshot (its RAM still in transparent huge pages) and the median of the later ones. */
  firstPauseMs: number;
  laterPauseP50Ms: number;
  requestToRunningMs: Summary;
  /** The source itself, booted and settled. */
  oneGuestPssMiB: number;
  /** PSS of one branch, running alone beside its source (median). */
  branchPssMiB: number;
}

/** One row of the count series: `branches` branches of one running source, all kept running. */
export interface CountRow {
  branches: number;
  pauseP50Ms: number;
  pauseP99Ms: number;
  /** Each branch's request → running: the branches are asked in batches (`count`, at most MAX_BRANCH_COUNT a request), each batch one snapshot. */
  requestToRunningMs: Summary;
  wallMs: number;
  totalPssMiB: number;
  ratioToOneGuest: number;
}

/** Results of the scaling scenario. */
export interface ScalingResult {
  /** The accelerator the server chose for these guests (its probe: KVM only where a guest boots under it). */
  accelerator: string | null;
  byMemory: MemoryRow[];
  byCount: CountRow[];
}

function uuidPid(b: TestBackend, uuid: string): number {
  return pidOf(uuid, b.dataDir);
}

async function memoryRow(b: TestBackend, memoryMb: number, branches: number): Promise<MemoryRow> {
  const c = b.client;
  const name = `scale-m${memoryMb}`;
  const src = await c.instances.create({ ...WORKLOAD, memory_mb: memoryMb, name, volumes: [{ size_mb: 16, at: "/data" }] });
  await running(c, name);
  await settle(3000);
  const oneGuest = pssMiB(uuidPid(b, src.uuid));
  const pauses: number[] = [];
  const toRunning: number[] = [];
  const pss: number[] = [];
  for (let i = 0; i < branches; i++) {
    const t0 = performance.now();
    const br = await c.instances.create({ name: `${name}-${i}`, branch_from: { name } });
    const inst = await running(c, br.name);
    toRunning.push(since(t0));
    pauses.push(inst.branch!.source_pause_ms!);
    await settle(1000);
    pss.push(pssMiB(uuidPid(b, br.uuid)));
    await c.instances.delete(br.name);
    await settle();
  }
  await c.instances.delete(name);
  return {
    memoryMb, pauseP50Ms: percentile(pauses, 50), pauseP99Ms: percentile(pauses, 99), firstPauseMs: pauses[0]!, laterPauseP50Ms: percentile(pauses.slice(1), 50),
    requestToRunningMs: summarize(toRunning),
    oneGuestPssMiB: oneGuest, branchPssMiB: percentile(pss, 50),
  };
}

async function countRow(b: TestBackend, source: { name: string; pssMiB: number }, n: number): Promise<CountRow> {
  const c = b.client;
  const t0 = performance.now();
  const made: { name: string; uuid: string; t0: number }[] = [];
  // As a client asks for many branches of one instant: one request per batch, one pause and one RAM
  // copy per batch (the next batch waits out the first's pending snapshot through the SDK's retry).
  for (let batch = 0; made.length < n; batch++) {
    const t = performance.now();
    const insts = await c.instances.branchMany(source.name, Math.min(MAX_BRANCH_COUNT, n - made.length), { name: `scale-n${n}-${batch}` });
    made.push(...insts.map((inst) => ({ name: inst.name, uuid: inst.uuid, t0: t })));
  }
  const pauses: number[] = [];
  const toRunning: number[] = [];
  await Promise.all(made.map(async (m) => {
    const inst = await running(c, m.name);
    toRunning.push(since(m.t0));
    pauses.push(inst.branch!.source_pause_ms!);
  }));
  const wallMs = since(t0);
  await settle(5000);
  const total = totalPssMiB(made.map((m) => uuidPid(b, m.uuid)));
  for (const m of made) await c.instances.delete(m.name);
  await settle(2000);
  return {
    branches: n, pauseP50Ms: percentile(pauses, 50), pauseP99Ms: percentile(pauses, 99), requestToRunningMs: summarize(toRunning),
    wallMs, totalPssMiB: total, ratioToOneGuest: total / source.pssMiB,
  };
}

/** Run it: `perSize` branches per guest size, and the branch counts of `counts`. */
export async function scaling(b: TestBackend, perSize = 5, counts = [1, 10, 50]): Promise<ScalingResult> {
  const byMemory: MemoryRow[] = [];
  for (const mb of [128, 256, 512, 1024]) byMemory.push(await memoryRow(b, mb, perSize));
  const c = b.client;
  const src = await c.instances.create({ ...WORKLOAD, name: "scale-src", volumes: [{ size_mb: 16, at: "/data" }] });
  const accelerator = (await running(c, "scale-src")).accelerator;
  await settle(5000);
  const source = { name: "scale-src", pssMiB: pssMiB(uuidPid(b, src.uuid)) };
  const byCount: CountRow[] = [];
  for (const n of counts) byCount.push(await countRow(b, source, n));
  await c.instances.delete("scale-src");
  return { accelerator, byMemory, byCount };
}
