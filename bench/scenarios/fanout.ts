/**
 * Ten branches of one 256 MiB source, kept running together: wall time and total memory (PSS)
 * against one guest. From a running source (one live snapshot per branch), with the client
 * following the pending-snapshot 409's `retry-after-ms` hint and, alternating with it, with the
 * hint hidden from it (its own backoff only); then all ten in one request (`count`: one live
 * snapshot that all ten map copy-on-write), twice; then from a standby source (all ten map its one
 * snapshot's RAM image copy-on-write).
 */
import { VmbranchClient, type Instance } from "vmbranch/sdk";
import type { FetchLike } from "../../sdk/client/options";
import type { TestBackend } from "../../test/helpers/backend";
import { pidOf, pssParts, totalPssMiB, type PssParts } from "../lib/memory";
import { WORKLOAD, running, settle, since } from "../lib/vm";

/** One fan-out measurement. */
export interface FanoutRun {
  wallMs: number;
  totalPssMiB: number;
  ratioToOneGuest: number;
  /** Where one branch's PSS goes, averaged over them. */
  perBranch: PssParts;
}

/** Results of the fan-out scenario. */
export interface FanoutResult {
  oneGuestPssMiB: number;
  /** Where the one guest's PSS goes. */
  oneGuestParts: PssParts;
  /** The client follows the server's retry hint (the SDK's default). */
  fromRunning: FanoutRun;
  /** Every run, in order, with and without the hint. */
  runningRounds: { hint: boolean; wallMs: number }[];
  /** All of them in one request (`count`), each round. */
  inOneRequest: FanoutRun[];
  fromStandby: FanoutRun;
}

/** A client of `b` that never sees a retry hint: what a client without it does (its own backoff). */
function clientWithoutHint(b: TestBackend): VmbranchClient {
  const hide: FetchLike = async (url, init) => {
    const res = await fetch(url, init as RequestInit);
    const headers = {
      get: (name: string) => (/^retry-after(-ms)?$/i.test(name) ? null : res.headers.get(name)),
      forEach: (cb: (value: string, key: string) => void) => res.headers.forEach((v, k) => /^retry-after(-ms)?$/i.test(k) || cb(v, k)),
    };
    return { status: res.status, statusText: res.statusText, headers, text: () => res.text() };
  };
  return new VmbranchClient({ endpoint: b.url, token: b.token, timeoutMs: 120_000, fetch: hide });
}

function pidOfInstance(b: TestBackend, uuid: string): number {
  return pidOf(uuid, b.dataDir);
}

/** Makes branches named after `prefix`; answers them. */
type Maker = (c: VmbranchClient, prefix: string) => Promise<Instance[]>;

/** `n` branches of `source`, one request each (the client retries the pending-snapshot 409 as it does). */
const oneByOne = (source: string, n: number): Maker => async (c, prefix) => {
  const made: Instance[] = [];
  for (let i = 0; i < n; i++) made.push(await c.instances.create({ name: `${prefix}-${i}`, branch_from: { name: source } }));
  return made;
};

/** `n` branches of `source` in one request: one snapshot for all of them. */
const together = (source: string, n: number): Maker => (c, prefix) => c.instances.createMany({ name: prefix, branch_from: { name: source }, count: n });

async function fan(b: TestBackend, make: Maker, oneGuest: number, prefix: string, c: VmbranchClient = b.client): Promise<FanoutRun> {
  const t0 = performance.now();
  const made = await make(c, prefix);
  for (const m of made) await running(c, m.name);
  const wallMs = since(t0);
  await settle(5000);
  const pids = made.map((m) => pidOfInstance(b, m.uuid));
  const total = totalPssMiB(pids);
  const parts = pids.map((pid) => pssParts(pid, WORKLOAD.memory_mb));
  const mean = (k: keyof PssParts) => parts.reduce((sum, x) => sum + x[k], 0) / parts.length;
  for (const m of made) await c.instances.delete(m.name);
  return { wallMs, totalPssMiB: total, ratioToOneGuest: total / oneGuest, perBranch: { guestShared: mean("guestShared"), guestPrivate: mean("guestPrivate"), qemu: mean("qemu") } };
}

/** Run it with `n` branches. */
export async function fanout(b: TestBackend, n = 10): Promise<FanoutResult> {
  const c = b.client;
  const src = await c.instances.create({ ...WORKLOAD, name: "fan-src", volumes: [{ size_mb: 16, at: "/data" }] });
  await running(c, "fan-src");
  await settle(5000);
  // One guest, booted and settled like the source, is the yardstick.
  const oneGuest = totalPssMiB([pidOfInstance(b, src.uuid)]);
  const oneGuestParts = pssParts(pidOfInstance(b, src.uuid), WORKLOAD.memory_mb);
  const withoutHint = clientWithoutHint(b);
  const runningRounds: { hint: boolean; wallMs: number }[] = [];
  let fromRunning: FanoutRun | undefined;
  for (const hint of [true, false, false, true]) {
    const run = await fan(b, oneByOne("fan-src", n), oneGuest, hint ? "fan-r" : "fan-b", hint ? c : withoutHint);
    runningRounds.push({ hint, wallMs: run.wallMs });
    fromRunning ??= hint ? run : undefined;
    await settle(2000);
  }
  const inOneRequest: FanoutRun[] = [];
  for (let round = 0; round < 2; round++) {
    inOneRequest.push(await fan(b, together("fan-src", n), oneGuest, `fan-t${round}`));
    await settle(2000);
  }
  await c.instances.suspend("fan-src");
  const fromStandby = await fan(b, oneByOne("fan-src", n), oneGuest, "fan-s");
  await c.instances.delete("fan-src");
  return { oneGuestPssMiB: oneGuest, oneGuestParts, fromRunning: fromRunning!, runningRounds, inOneRequest, fromStandby };
}
