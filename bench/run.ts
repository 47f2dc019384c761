/**
 * `npm run bench`: every benchmark side by side in one run against one real `vmbranch serve`,
 * printed as a table (medians with their spread, ratios where the machine is noisy) and written
 * as JSON to bench/results/. A benchmark is not a test: nothing here passes or fails on time.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { startBackend } from "../test/helpers/backend";
import { branching } from "./scenarios/branching";
import { fanout } from "./scenarios/fanout";
import { storage } from "./scenarios/storage";
import { fmt } from "./lib/stats";

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const want = (name: string) => only.length === 0 || only.includes(name);
  const backend = await startBackend();
  const results: Record<string, unknown> = {
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) },
  };
  try {
    const accel = (await backend.client.instances.create({ name: "probe", image: "base", args: ["true"], autostart: false }));
    await backend.client.instances.delete(accel.name);
    if (want("branching")) results.branching = await branching(backend);
    if (want("fanout")) results.fanout = await fanout(backend);
    if (want("storage")) results.storage = await storage(backend);
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

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the results object is printed field by field as the scenarios shaped it
function print(r: Record<string, any>): void {
  const rows: [string, string][] = [];
  if (r.branching) {
    const b = r.branching;
    const p = (x: { p50: number; p99: number; max: number; n: number }) => `${x.p50.toFixed(1)} / ${x.p99.toFixed(1)} / ${x.max.toFixed(1)} ms (n=${x.n})`;
    rows.push(["source pause, with a volume (p50 / p99 / max)", p(b.pauseMs)]);
    rows.push(["source pause, no read-write disk (p50 / p99 / max)", p(b.pauseNoDiskMs)]);
    rows.push(["request → branch running", fmt(b.branchRequestToRunningMs, "ms", 0)]);
    rows.push(["snapshot complete → branch running", fmt(b.snapshotCompleteToRunningMs, "ms", 0)]);
    rows.push(["snapshot instant → snapshot complete", fmt(b.snapshotMs, "ms", 0)]);
    rows.push(["request → cold boot running", fmt(b.coldBootRequestToRunningMs, "ms", 0)]);
    rows.push(["branch vs cold boot", `${b.speedup.toFixed(1)}× faster`]);
  }
  if (r.fanout) {
    const f = r.fanout;
    rows.push(["one 256 MiB guest, PSS", `${f.oneGuestPssMiB.toFixed(0)} MiB`]);
    for (const [k, label] of [["fromRunning", "running source"], ["fromStandby", "standby source"]] as const)
      rows.push([`10 branches of a ${label}: wall / total PSS`, `${(f[k].wallMs / 1000).toFixed(1)} s / ${f[k].totalPssMiB.toFixed(0)} MiB = ${f[k].ratioToOneGuest.toFixed(2)}× one guest`]);
  }
  if (r.storage) {
    const s = r.storage;
    rows.push(["clone 64 MiB volume", fmt(s.clone64MiBMs, "ms")]);
    rows.push(["clone 4 GiB volume", fmt(s.clone4GiBMs, "ms")]);
    rows.push(["clone 4 GiB / 64 MiB", `${s.cloneRatio.toFixed(2)}×`]);
    rows.push(["read 256 MiB, chain depth 1", fmt(s.readDepth1Ms, "ms", 0)]);
    rows.push(["read 256 MiB, chain depth 8", fmt(s.readDepth8Ms, "ms", 0)]);
    rows.push(["depth 8 / depth 1", `${s.readRatio.toFixed(2)}×`]);
  }
  const w = Math.max(...rows.map((x) => x[0].length));
  process.stdout.write(`\n${"measure".padEnd(w)} | result\n${"-".repeat(w)}-|-${"-".repeat(40)}\n`);
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)} | ${v}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
