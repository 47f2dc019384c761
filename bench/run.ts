/**
 * `npm run bench`: every benchmark side by side in one run against one real `vmbranch serve`,
 * printed as a table (medians with their spread, ratios where the machine is noisy) and written
 * as JSON to bench/results/. A benchmark is not a test: nothing here passes or fails on time.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { startBackend, type TestBackend } from "../test/helpers/backend";
import { startPostgres } from "../test/helpers/postgres";
import { agentHop } from "./scenarios/agent";
import { crossHost, type CrossHostResult } from "./scenarios/cross-host";
import { api } from "./scenarios/api";
import { branching } from "./scenarios/branching";
import { engines } from "./scenarios/engines";
import { fanout, type FanoutRun } from "./scenarios/fanout";
import { hugePages } from "./scenarios/huge-pages";
import { scaling } from "./scenarios/scaling";
import { storage } from "./scenarios/storage";
import { fmt } from "./lib/stats";
import { countStatements, type StoreTarget } from "./lib/stores";

// info: serve logs each live snapshot's freeze window, which the branching scenario reads.
const SERVE_ENV = { VMBRANCH_LOG_LEVEL: "info" };

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const want = (name: string) => only.length === 0 || only.includes(name);
  const backend = await startBackend({ env: SERVE_ENV });
  const results: Record<string, unknown> = {
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) },
  };
  try {
    const accel = (await backend.client.instances.create({ name: "probe", image: "base", args: ["true"], autostart: false }));
    await backend.client.instances.delete(accel.name);
    // VMBRANCH_BENCH_BRANCHES: branches per path (default 20), for a shorter run on a shared machine.
    if (want("branching")) results.branching = await branching(backend, Number(process.env.VMBRANCH_BENCH_BRANCHES ?? 20));
    if (want("fanout")) results.fanout = await fanout(backend);
    if (want("storage")) results.storage = await storage(backend);
    // A second serve with --huge-pages beside this one (the pool enlarged for it).
    if (want("hugepages")) results.hugePages = await hugePages(backend, SERVE_ENV, Number(process.env.VMBRANCH_BENCH_BRANCHES ?? 20));
    if (want("scaling")) results.scaling = await scaling(backend);
    // And the branches per serve of `agent` (in process beside through an agent).
    if (want("agent")) results.agent = await agentHop(backend, SERVE_ENV, Number(process.env.VMBRANCH_BENCH_BRANCHES ?? 20));
    // A cluster of two hosts of its own: branches beside their source and sent to the other host.
    if (want("crosshost")) results.crossHost = await crossHost(Number(process.env.VMBRANCH_BENCH_BRANCHES ?? 20));
    // VMBRANCH_BENCH_BRANCHES also sets the branches per store of `engines`.
    if (want("api") || want("engines")) {
      await onBothStores(async (postgres) => {
        const targets = [{ store: "sqlite", backend }, ...postgres];
        if (want("api")) results.api = await api(targets);
        if (want("engines")) results.engines = await engines(targets, Number(process.env.VMBRANCH_BENCH_BRANCHES ?? 20));
      });
    }
  } finally {
    await backend.stop();
  }
  const dir = join(__dirname, "..", "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-${results.when as string}.json`.replace(/:/g, "-"));
  writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
  writeFileSync(join(dir, "latest.json"), JSON.stringify(results, null, 2) + "\n");
  print(results);
  process.stdout.write(`\nJSON: ${file}\n`);
}

/** Run `fn` with a second server whose state is in a throwaway PostgreSQL cluster, removed afterwards. */
async function onBothStores<T>(fn: (postgres: StoreTarget[]) => Promise<T>): Promise<T> {
  const pg = await startPostgres();
  let backend: TestBackend | undefined;
  try {
    backend = await startBackend({ testStore: false, env: SERVE_ENV, args: ["--store", pg.createDatabase("bench")] });
    return await fn([{ store: "postgresql", backend, countStatements: (during) => countStatements(pg, during) }]);
  } finally {
    await backend?.stop();
    pg.stop();
  }
}

/** A target beside a figure: what the issue asks, and whether this run met it. */
interface Target {
  text: string;
  met: boolean;
}

function atMost(value: number, limit: number, unit: string): Target {
  return { text: `≤ ${limit} ${unit}`, met: value <= limit };
}

function atLeast(value: number, limit: number, unit: string): Target {
  return { text: `≥ ${limit}${unit}`, met: value >= limit };
}

/** Prints rows of measure | result | target — met/missed. */
function table(title: string, rows: [string, string, Target?][]): void {
  const cells = rows.map(([k, v, t]) => [k, v, t ? `${t.text} — ${t.met ? "met" : "missed"}` : ""] as const);
  const w0 = Math.max(7, ...cells.map((c) => c[0].length));
  const w1 = Math.max(6, ...cells.map((c) => c[1].length));
  process.stdout.write(`\n${title}\n\n${"measure".padEnd(w0)} | ${"result".padEnd(w1)} | target\n${"-".repeat(w0)}-|-${"-".repeat(w1)}-|-${"-".repeat(24)}\n`);
  for (const [k, v, t] of cells) process.stdout.write(`${k.padEnd(w0)} | ${v.padEnd(w1)} | ${t}\n`);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the results object is printed field by field as the scenarios shaped it
function print(r: Record<string, any>): void {
  const rows: [string, string, Target?][] = [];
  if (r.branching) {
    const b = r.branching;
    const p = (x: { p50: number; p99: number; max: number; n: number }) => `${x.p50.toFixed(1)} / ${x.p99.toFixed(1)} / ${x.max.toFixed(1)} ms (n=${x.n})`;
    rows.push([`source pause, with a read-write volume, guest agent (quiesce auto; ${b.quiesced} of ${b.pauseMs.n} quiesced) (p50 / p99 / max)`, p(b.pauseMs), atMost(b.pauseMs.p99, 10, "ms p99")]);
    rows.push(["source pause, with a read-write volume, switch in our pause (quiesce off) (p50 / p99 / max)", p(b.pauseOffMs), atMost(b.pauseOffMs.p99, 10, "ms p99")]);
    if (b.frozenMs) rows.push(["guest agent: freeze sent → thaw answered (writers wait at most this)", fmt(b.frozenMs, "ms", 0)]);
    rows.push(["source pause, no read-write disk (p50 / p99 / max)", p(b.pauseNoDiskMs), atMost(b.pauseNoDiskMs.p99, 5, "ms p99")]);
    rows.push(["request → branch running (quiesce auto)", fmt(b.branchRequestToRunningMs, "ms", 0), atMost(b.branchRequestToRunningMs.median, 150, "ms")]);
    rows.push(["request → branch running (quiesce off)", fmt(b.branchOffRequestToRunningMs, "ms", 0)]);
    rows.push(["snapshot complete → branch running", fmt(b.snapshotCompleteToRunningMs, "ms", 0)]);
    rows.push(["snapshot instant → snapshot complete", fmt(b.snapshotMs, "ms", 0)]);
    rows.push(["request → cold boot running", fmt(b.coldBootRequestToRunningMs, "ms", 0)]);
    rows.push(["branch vs cold boot (request → running)", `${b.speedup.toFixed(1)}× faster`, atLeast(b.speedup, 15, "×")]);
  }
  if (r.fanout) {
    const f = r.fanout;
    const parts = (x: { guestShared: number; guestPrivate: number; qemu: number }) => `${x.guestShared.toFixed(1)} / ${x.guestPrivate.toFixed(1)} / ${x.qemu.toFixed(1)} MiB`;
    rows.push(["one 256 MiB guest, PSS", `${f.oneGuestPssMiB.toFixed(0)} MiB`]);
    rows.push(["  its PSS: guest RAM shared with a file / guest RAM of its own / QEMU's own", parts(f.oneGuestParts)]);
    rows.push(["  one branch's PSS (one snapshot each): RAM image / written / QEMU's own", parts(f.fromRunning.perBranch)]);
    rows.push(["10 branches of a running source, total PSS", `${f.fromRunning.totalPssMiB.toFixed(0)} MiB = ${f.fromRunning.ratioToOneGuest.toFixed(2)}× one guest`, atMost(f.fromRunning.ratioToOneGuest, 1.5, "× one guest")]);
    rows.push(["10 branches of a running source, wall time", `${(f.fromRunning.wallMs / 1000).toFixed(1)} s`, atMost(f.fromRunning.wallMs / 1000, 2, "s")]);
    const walls = (hint: boolean) => f.runningRounds.filter((x: { hint: boolean }) => x.hint === hint).map((x: { wallMs: number }) => (x.wallMs / 1000).toFixed(1));
    rows.push(["  the same, each round: client follows retry-after-ms / backs off on its own", `${walls(true).join(", ")} s / ${walls(false).join(", ")} s`]);
    for (const [i, t] of (f.inOneRequest as FanoutRun[]).entries()) {
      rows.push([`10 branches of a running source in one request (count), round ${i + 1}: total PSS`, `${t.totalPssMiB.toFixed(0)} MiB = ${t.ratioToOneGuest.toFixed(2)}× one guest`, atMost(t.ratioToOneGuest, 1.5, "× one guest")]);
      rows.push([`10 branches of a running source in one request (count), round ${i + 1}: wall time`, `${(t.wallMs / 1000).toFixed(1)} s`, atMost(t.wallMs / 1000, 2, "s")]);
      rows.push(["  one branch's PSS: its share of the RAM image / guest pages it wrote / QEMU's own", parts(t.perBranch)]);
    }
    rows.push(["10 branches of a standby source: wall / total PSS", `${(f.fromStandby.wallMs / 1000).toFixed(1)} s / ${f.fromStandby.totalPssMiB.toFixed(0)} MiB = ${f.fromStandby.ratioToOneGuest.toFixed(2)}× one guest`]);
  }
  if (r.storage) {
    const s = r.storage;
    rows.push(["clone 64 MiB volume", fmt(s.clone64MiBMs, "ms")]);
    rows.push(["clone 4 GiB volume", fmt(s.clone4GiBMs, "ms")]);
    rows.push(["clone 4 GiB / 64 MiB", `${s.cloneRatio.toFixed(2)}×`, atMost(s.cloneRatio, 2, "×")]);
    rows.push(["read 256 MiB, chain depth 1", fmt(s.readDepth1Ms, "ms", 0)]);
    rows.push(["read 256 MiB, chain depth 8", fmt(s.readDepth8Ms, "ms", 0)]);
    rows.push(["depth 8 / depth 1", `${s.readRatio.toFixed(2)}×`]);
  }
  if (r.hugePages) {
    const h = r.hugePages;
    const p = (x: { p50: number; p99: number; max: number; n: number }) => `${x.p50.toFixed(1)} / ${x.p99.toFixed(1)} / ${x.max.toFixed(1)} ms (n=${x.n})`;
    for (const [label, f] of [["ordinary pages", h.ordinary], ["2 MiB huge pages (--huge-pages)", h.hugePages]] as const) {
      rows.push([`${label}: source pause, no read-write disk (p50 / p99 / max)`, p(f.pauseNoDiskMs), atMost(f.pauseNoDiskMs.p99, 5, "ms p99")]);
      rows.push([`${label}: source pause, volume switched in the pause (quiesce off)`, p(f.pauseOffMs), atMost(f.pauseOffMs.p99, 10, "ms p99")]);
      rows.push([`${label}: snapshot instant → complete (the RAM copy)`, fmt(f.snapshotMs, "ms", 0)]);
      rows.push([`${label}: request → branch running`, fmt(f.requestToRunningMs, "ms", 0), atMost(f.requestToRunningMs.median, 150, "ms")]);
    }
  }
  if (rows.length > 0) table("Branching", rows);
  if (r.scaling) {
    const sc = r.scaling;
    const srows: [string, string, Target?][] = [];
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
    for (const m of sc.byMemory as any[]) {
      srows.push([`${m.memoryMb} MiB guest: source pause p50 / p99`, `${m.pauseP50Ms.toFixed(1)} / ${m.pauseP99Ms.toFixed(1)} ms`, atMost(m.pauseP99Ms, 10, "ms p99")]);
      srows.push([`${m.memoryMb} MiB guest: first snapshot's pause / later ones' p50`, `${m.firstPauseMs.toFixed(1)} / ${m.laterPauseP50Ms.toFixed(1)} ms`]);
      srows.push([`${m.memoryMb} MiB guest: request → branch running`, fmt(m.requestToRunningMs, "ms", 0), atMost(m.requestToRunningMs.median, 150, "ms")]);
      srows.push([`${m.memoryMb} MiB guest: PSS of the source / of one branch`, `${m.oneGuestPssMiB.toFixed(0)} / ${m.branchPssMiB.toFixed(0)} MiB`]);
    }
    const first = sc.byMemory[0];
    const last = sc.byMemory.at(-1);
    if (first && last) {
      const ratio = last.requestToRunningMs.median / first.requestToRunningMs.median;
      srows.push([`request → running, ${last.memoryMb} / ${first.memoryMb} MiB`, `${ratio.toFixed(2)}×`, atMost(ratio, 1.5, "× (flat)")]);
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
    for (const n of sc.byCount as any[]) {
      srows.push([`${n.branches} branches: source pause p50 / p99`, `${n.pauseP50Ms.toFixed(1)} / ${n.pauseP99Ms.toFixed(1)} ms`, atMost(n.pauseP99Ms, 10, "ms p99")]);
      srows.push([`${n.branches} branches: request → running, each`, fmt(n.requestToRunningMs, "ms", 0), atMost(n.requestToRunningMs.median, 150, "ms")]);
      srows.push([`${n.branches} branches: wall / total PSS`, `${(n.wallMs / 1000).toFixed(1)} s / ${n.totalPssMiB.toFixed(0)} MiB = ${n.ratioToOneGuest.toFixed(2)}× one guest`, atMost(n.ratioToOneGuest, 1.5, "× one guest")]);
    }
    table(`Scaling (accelerator: ${sc.accelerator}; 256 MiB guests for the branch counts)`, srows);
  }
  if (r.api) {
    const p = (x: { p50: number; p99: number }) => `${x.p50.toFixed(2)} / ${x.p99.toFixed(2)} ms`;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
    const stores = r.api.stores as any[];
    const arows: [string, string, Target?][] = [];
    for (const [i, size] of (stores[0].sizes as { instances: number }[]).entries()) {
      for (const [what, key, countKey] of [["list instances", "listMs", "listStatements"], ["get one instance", "getMs", "getStatements"]] as const) {
        const cells = stores.map((s) => `${s.store} ${p(s.sizes[i][key])}`);
        const ratio = stores[1] ? ` (p50 ${(stores[1].sizes[i][key].p50 / stores[0].sizes[i][key].p50).toFixed(2)}×)` : "";
        arows.push([`${what} at ${size.instances} (p50 / p99)`, cells.join(" | ") + ratio]);
        const counted = stores.find((s) => s.sizes[i][countKey]);
        if (counted) arows.push([`  ${counted.store}: statements per request`, perStatement(counted.sizes[i][countKey], counted.sizes[i][key].p50 - stores[0].sizes[i][key].p50, stores[0].store)]);
      }
    }
    const withVolumes = stores.filter((s) => s.volumes);
    if (withVolumes.length > 0) {
      const v0 = withVolumes[0].volumes;
      const ratio = withVolumes[1] ? ` (p50 ${(withVolumes[1].volumes.listMs.p50 / v0.listMs.p50).toFixed(2)}×)` : "";
      arows.push([`list volumes at ${v0.volumes}, each attached (p50 / p99)`, withVolumes.map((s) => `${s.store} ${p(s.volumes.listMs)}`).join(" | ") + ratio]);
      const counted = withVolumes.find((s) => s.volumes.listStatements);
      if (counted) arows.push([`  ${counted.store}: statements per request`, perStatement(counted.volumes.listStatements, counted.volumes.listMs.p50 - v0.listMs.p50, withVolumes[0].store)]);
    }
    table(`Control-plane API (one client, one request at a time, ${r.api.rounds} alternating rounds)`, arows);
  }
  for (const [key, title] of [["engines", "per store"], ["agent", "drivers in process / through `vmbranch agent`"]] as const) {
    if (!r[key]) continue;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
    const stores = r[key].stores as any[];
    const erows: [string, string, Target?][] = [];
    const ratio = (key: string) => (stores[1] ? ` (${stores[1].store} / ${stores[0].store} ${(stores[1][key].median / stores[0][key].median).toFixed(2)}×)` : "");
    erows.push(["request → branch running (median, range; p99)", stores.map((s) => `${s.store} ${fmt(s.requestToRunningMs, "ms", 0)}; ${s.requestToRunningP99Ms.toFixed(0)} ms`).join(" | ") + ratio("requestToRunningMs")]);
    erows.push(["the same less RAM copy and restore (median, range)", stores.map((s) => `${s.store} ${fmt(s.outsideCopyAndRestoreMs, "ms", 0)}`).join(" | ") + ratio("outsideCopyAndRestoreMs")]);
    const counted = stores.find((s) => s.statements);
    if (counted) erows.push([`  ${counted.store}: statements per branch request → running`, perStatement(counted.statements, counted.requestToRunningMs.median - stores[0].requestToRunningMs.median, stores[0].store)]);
    if (r[key].pairedRatio !== null) erows.push([`${stores[1].store} / ${stores[0].store}, median of the ratios of back-to-back pairs`, `${r[key].pairedRatio.toFixed(2)}×`]);
    table(`Branch of a running 256 MiB source, request → running, ${title} (${r[key].branches} branches each, alternating)`, erows);
  }
  if (r.crossHost) {
    const x = r.crossHost as CrossHostResult;
    const mib = (s: { median: number; min: number; max: number }) => `${(s.median / 2 ** 20).toFixed(1)} MiB (${(s.min / 2 ** 20).toFixed(1)}–${(s.max / 2 ** 20).toFixed(1)})`;
    table(`Branch of a running 256 MiB source, beside it and sent to another host (two hosts, ${x.branches} branches each, alternating)`, [
      ["request → branch running, same host (median, range)", fmt(x.localMs, "ms", 0)],
      ["request → branch running, other host (median, range)", fmt(x.crossHostMs, "ms", 0)],
      ["other host / same host, median of the ratios of back-to-back pairs", `${x.pairedRatio.toFixed(2)}×`],
      ["sending: time (median, range)", fmt(x.sendMs, "ms", 0)],
      ["sending: disk layers the other host lacked (median, range)", mib(x.layerBytes)],
      ["sending: RAM image and device state (median, range)", mib(x.memoryBytes)],
    ]);
  }
}

/** `3.0 statements (SELECT 3), 0.53 ms in PostgreSQL; median difference from sqlite / statement 0.300 ms` */
function perStatement(c: { statements: number; serverMs: number; byKind: Record<string, number> }, differenceMs: number, baseline: string): string {
  const kinds = Object.entries(c.byKind).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${Number(v.toFixed(1))}`).join(", ");
  return `${c.statements.toFixed(1)} statements (${kinds}), ${c.serverMs.toFixed(2)} ms in PostgreSQL; median difference from ${baseline} / statement ${(differenceMs / c.statements).toFixed(3)} ms`;
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
