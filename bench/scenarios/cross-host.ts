/**
 * What sending a branch to another host costs beside a local one: a cluster of two hosts (agents
 * in namespaces of their own, HTTPS over a bridge: test/helpers/cluster.ts) on PostgreSQL, the
 * engines scenario's source (256 MiB, a 16 MiB volume) on box-1, branched alternately on box-1
 * and to box-2, request → running for each. For the ones sent: the bytes sent (the disk layers
 * box-2 lacked, then the RAM image and device state) and how long the sending took, from serve's
 * log line for each.
 */
import { percentile, summarize, type Summary } from "../lib/stats";
import { settle, startSource, timedBranch } from "../lib/vm";
import { startCluster } from "../../test/helpers/cluster";

/** Results of the cross-host scenario. */
export interface CrossHostResult {
  branches: number;
  localMs: Summary;
  crossHostMs: Summary;
  /** Median over i of (cross-host branch i) / (local branch i), each pair taken back to back. */
  pairedRatio: number;
  sendMs: Summary;
  layerBytes: Summary;
  memoryBytes: Summary;
}

const SOURCE = "xh-src";

interface Sent {
  layerBytes: number;
  memoryBytes: number;
  ms: number;
}

/** Serve's "branch snapshot sent to its host" lines, in order. */
function sentLines(log: string): Sent[] {
  return log
    .split("\n")
    .filter((l) => l.includes("branch snapshot sent to its host"))
    .map((l) => JSON.parse(l) as Sent);
}

/** Run it: `branches` local and `branches` cross-host branches of one running source, alternating. */
export async function crossHost(branches: number): Promise<CrossHostResult> {
  // info: serve logs what each sending moved.
  const cluster = await startCluster(["box-1", "box-2"], { env: { VMBRANCH_LOG_LEVEL: "info" } });
  try {
    const c = cluster.b.client;
    await startSource(c, SOURCE, "box-1");
    const local: number[] = [];
    const far: number[] = [];
    for (let i = 0; i < branches; i++) {
      // Who goes first alternates, so neither kind always runs right after the other.
      for (const away of i % 2 === 0 ? [false, true] : [true, false]) {
        const { branch, ms } = await timedBranch(c, SOURCE, `xh-${away ? "far" : "near"}-${i}`, "auto", away ? "box-2" : undefined);
        if (branch.host !== (away ? "box-2" : "box-1")) throw new Error(`branch ${branch.name} ran on ${branch.host}`);
        (away ? far : local).push(ms);
        await c.instances.delete(branch.name);
        await settle();
      }
    }
    const sent = sentLines(cluster.b.serveLog());
    return {
      branches, localMs: summarize(local), crossHostMs: summarize(far),
      pairedRatio: percentile(far.map((ms, i) => ms / local[i]!), 50),
      sendMs: summarize(sent.map((s) => s.ms)), layerBytes: summarize(sent.map((s) => s.layerBytes)), memoryBytes: summarize(sent.map((s) => s.memoryBytes)),
    };
  } finally {
    await cluster.stop();
  }
}
