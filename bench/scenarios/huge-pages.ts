/**
 * Guest RAM in 2 MiB huge pages (`serve --huge-pages`) beside ordinary pages, side by side in one
 * run: a second serve with `--huge-pages`, on a huge-page pool enlarged for the run and given back
 * after, and on each serve a source without a read-write disk and one with a volume. Their
 * branches alternate between the serves: the source's pause without a disk to switch and with the
 * volume switched inside the pause (`quiesce: "off"`), the RAM copy (snapshot instant → complete)
 * and request → branch running.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { startBackend, type TestBackend } from "../../test/helpers/backend";
import { summarize, type Summary } from "../lib/stats";
import { running, settle, startSource, timedBranch, WORKLOAD } from "../lib/vm";
import { pauseStats, type PauseStats } from "./branching";

const POOL = "/proc/sys/vm/nr_hugepages";

/** The figures of one serve. */
export interface PageFigures {
  pauseNoDiskMs: PauseStats;
  pauseOffMs: PauseStats;
  snapshotMs: Summary;
  requestToRunningMs: Summary;
}

/** Results of the huge-pages scenario. */
export interface HugePagesResult {
  ordinary: PageFigures;
  hugePages: PageFigures;
}

/** Run it with `branches` branches per source and serve. */
export async function hugePages(plain: TestBackend, env: Record<string, string>, branches: number): Promise<HugePagesResult> {
  const before = Number(readFileSync(POOL, "utf8"));
  // Two 256 MiB sources in 2 MiB pages, and room to spare.
  writeFileSync(POOL, String(before + 300));
  let huge: TestBackend | undefined;
  try {
    huge = await startBackend({ env, args: ["--huge-pages"] });
    const serves = [plain, huge];
    for (const b of serves) {
      await startSource(b.client, "hp-vol");
      await b.client.instances.create({ ...WORKLOAD, name: "hp-nodisk", args: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick=$i; sleep 1; done"] });
      await running(b.client, "hp-nodisk");
    }
    await settle(3000);
    const figures = serves.map(() => ({ noDisk: [] as number[], off: [] as number[], snap: [] as number[], toRunning: [] as number[] }));
    for (let i = 0; i < branches; i++) {
      for (const [k, b] of serves.entries()) {
        const f = figures[k]!;
        const { branch, ms } = await timedBranch(b.client, "hp-nodisk", `hpn-${i}`);
        f.noDisk.push(branch.branch!.source_pause_ms!);
        f.snap.push(branch.branch!.snapshot_ms!);
        f.toRunning.push(ms);
        await b.client.instances.delete(branch.name);
        await settle();
        const off = await timedBranch(b.client, "hp-vol", `hpo-${i}`, "off");
        f.off.push(off.branch.branch!.source_pause_ms!);
        await b.client.instances.delete(off.branch.name);
        await settle();
      }
    }
    for (const b of serves) for (const n of ["hp-vol", "hp-nodisk"]) await b.client.instances.delete(n);
    const [ordinary, hugePages] = figures.map((f) => ({
      pauseNoDiskMs: pauseStats(f.noDisk), pauseOffMs: pauseStats(f.off), snapshotMs: summarize(f.snap), requestToRunningMs: summarize(f.toRunning),
    }));
    return { ordinary: ordinary!, hugePages: hugePages! };
  } finally {
    await huge?.stop();
    writeFileSync(POOL, String(before));
  }
}
