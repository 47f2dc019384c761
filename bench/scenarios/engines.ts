/**
 * Branch request → running on each store side by side: every server (SQLite, and PostgreSQL
 * through `serve --store`) runs the branch scenarios' source (256 MiB, with a volume), branched and
 * timed as the branching scenario does it (bench/lib/vm.ts), one branch per server in turn, the
 * first server alternating, so a drift of the host's speed reaches each store alike. Both sources
 * run throughout: the one not being branched costs either store the same CPU. Afterwards a server
 * on PostgreSQL has the statements of a branch request → running counted.
 */
import { summarize, percentile, type Summary } from "../lib/stats";
import { perOne, type PerRequest, type StatementCount, type StoreTarget } from "../lib/stores";
import { settle, startSource, timedBranch } from "../lib/vm";

/** One store's branches. */
export interface EngineBranches {
  store: string;
  requestToRunningMs: Summary;
  requestToRunningP99Ms: number;
  /** Request → running less the snapshot's RAM copy and the restore: the control plane's part (and the freeze). */
  outsideCopyAndRestoreMs: Summary;
  /** On PostgreSQL: statements and PostgreSQL's time for one branch request → running. */
  statements?: PerRequest;
  /** Every request → running, in the order taken (branch i of each store was taken one after the other). */
  samplesMs: number[];
}

/** Results of the engines scenario. */
export interface EnginesResult {
  branches: number;
  stores: EngineBranches[];
  /** Median over i of (store 2's branch i) / (store 1's branch i): each pair taken back to back, so the host's drift cancels. */
  pairedRatio: number | null;
}

const SOURCE = "eng-src";

/** Run it: `branches` branches of each server's running source, alternating between the servers. */
export async function engines(targets: StoreTarget[], branches = 20): Promise<EnginesResult> {
  const started: StoreTarget[] = [];
  try {
    for (const t of targets) {
      await startSource(t.backend.client, SOURCE);
      started.push(t);
    }
    const total = targets.map(() => [] as number[]);
    const outside = targets.map(() => [] as number[]);
    for (let i = 0; i < branches; i++) {
      // Who goes first alternates, so neither store always branches right after the other.
      const order = i % 2 === 0 ? [...targets.keys()] : [...targets.keys()].reverse();
      for (const k of order) {
        const c = targets[k]!.backend.client;
        const { branch, ms } = await timedBranch(c, SOURCE, `eng-br-${i}`);
        total[k]!.push(ms);
        outside[k]!.push(ms - branch.branch!.snapshot_ms! - branch.branch!.restore_ms!);
        await c.instances.delete(branch.name);
        await settle();
      }
    }
    const out: EngineBranches[] = [];
    for (const [k, t] of targets.entries()) {
      const row: EngineBranches = {
        store: t.store,
        requestToRunningMs: summarize(total[k]!),
        requestToRunningP99Ms: percentile(total[k]!, 99),
        outsideCopyAndRestoreMs: summarize(outside[k]!),
        samplesMs: total[k]!,
      };
      if (t.countStatements) row.statements = await branchStatements(t, 3);
      out.push(row);
    }
    const pairedRatio = targets.length > 1 ? percentile(total[1]!.map((ms, i) => ms / total[0]![i]!), 50) : null;
    return { branches, stores: out, pairedRatio };
  } finally {
    for (const t of started) await t.backend.client.instances.delete(SOURCE).catch(() => undefined);
  }
}

/** Statements and PostgreSQL's time per branch request → running, over `n` branches (each deleted outside the count). */
async function branchStatements(t: StoreTarget, n: number): Promise<PerRequest> {
  const c = t.backend.client;
  const sum: StatementCount = { statements: 0, serverMs: 0, byKind: {} };
  for (let i = 0; i < n; i++) {
    const name = `eng-count-${i}`;
    const counted = await t.countStatements!(() => timedBranch(c, SOURCE, name));
    sum.statements += counted.statements;
    sum.serverMs += counted.serverMs;
    for (const [k, v] of Object.entries(counted.byKind)) sum.byKind[k] = (sum.byKind[k] ?? 0) + v;
    await c.instances.delete(name);
    await settle();
  }
  return perOne(sum, n);
}
