/**
 * Storage side by side: cloning a 64 MiB against a 4 GiB volume through the API (copy-on-write,
 * so size should not matter), and read throughput through a backing chain of depth 1 against
 * depth 8 (qemu-img bench on the host: the qcow2 chain lookups, without guest noise).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TestBackend } from "../../test/helpers/backend";
import { summarize, type Summary } from "../lib/stats";
import { settle, since } from "../lib/vm";

/** Results of the storage scenario. */
export interface StorageResult {
  clone64MiBMs: Summary;
  clone4GiBMs: Summary;
  cloneRatio: number;
  readDepth1Ms: Summary;
  readDepth8Ms: Summary;
  readRatio: number;
}

async function cloneTimes(b: TestBackend, source: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const [res] = (await b.client.volumes.cloneMany([{ name: source, vol_name: `${source}-c${i}` }])).items;
    await b.client.volumes.waitFor(res!.name!, "available", { timeoutMs: 60_000, pollMs: 5 });
    out.push(since(t0));
  }
  for (let i = 0; i < n; i++) await b.client.volumes.delete(`${source}-c${i}`);
  return out;
}

function qemuImg(args: string[]): string {
  return execFileSync("qemu-img", args, { encoding: "utf8" });
}

/** Time to read the whole 256 MiB image in 64 KiB requests, through `file`. */
function readTime(file: string): number {
  const t0 = performance.now();
  qemuImg(["bench", "-q", "-f", "qcow2", "-t", "none", "-c", "4096", "-s", "65536", "-S", "65536", "-d", "4", file]);
  return since(t0);
}

/** Run it with `n` samples each. */
export async function storage(b: TestBackend, n = 10): Promise<StorageResult> {
  await b.client.volumes.create({ name: "small", size_mb: 64 });
  await b.client.volumes.create({ name: "large", size_mb: 4096 });
  const small = await cloneTimes(b, "small", n);
  await settle();
  const large = await cloneTimes(b, "large", n);
  await b.client.volumes.delete("small");
  await b.client.volumes.delete("large");

  const dir = mkdtempSync(join(b.dataDir, "chain-"));
  try {
    const base = join(dir, "l0.qcow2");
    qemuImg(["create", "-q", "-f", "qcow2", base, "256M"]);
    // Fill the base so every read walks the chain down to it.
    qemuImg(["bench", "-q", "-w", "-f", "qcow2", "-c", "4096", "-s", "65536", "-S", "65536", "--pattern=7", base]);
    let top = base;
    const tops: Record<number, string> = {};
    for (let d = 1; d <= 8; d++) {
      const next = join(dir, `l${d}.qcow2`);
      qemuImg(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", top, next]);
      top = next;
      tops[d] = next;
    }
    const d1: number[] = [];
    const d8: number[] = [];
    for (let i = 0; i < 5; i++) {
      d1.push(readTime(tops[1]!));
      d8.push(readTime(tops[8]!));
    }
    const c64 = summarize(small);
    const c4g = summarize(large);
    const r1 = summarize(d1);
    const r8 = summarize(d8);
    return { clone64MiBMs: c64, clone4GiBMs: c4g, cloneRatio: c4g.median / c64.median, readDepth1Ms: r1, readDepth8Ms: r8, readRatio: r8.median / r1.median };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
