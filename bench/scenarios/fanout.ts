/**
 * Ten branches of one 256 MiB source, kept running together: wall time and total memory (PSS)
 * against one guest. From a running source (one live snapshot per branch), with the client
 * following the pending-snapshot 409's `retry-after-ms` hint and, alternating with it, with the
 * hint hidden from it (its own backoff only); then from a standby source (all ten map one
 * snapshot's RAM image copy-on-write).
 */
import { VmbranchClient } from "vmbranch/sdk";
import type { FetchLike } from "../../sdk/client/options";
import type { TestBackend } from "../../test/helpers/backend";
import { pidOf, totalPssMiB } from "../lib/memory";
import { WORKLOAD, running, settle, since } from "../lib/vm";

/** One fan-out measurement. */
export interface FanoutRun {
  wallMs: number;
  totalPssMiB: number;
  ratioToOneGuest: number;
}

/** Results of the fan-out scenario. */
export interface FanoutResult {
  oneGuestPssMiB: number;
  /** The client follows the server's retry hint (the SDK's default). */
  fromRunning: FanoutRun;
  /** Every run, in order, with and without the hint. */
  runningRounds: { hint: boolean; wallMs: number }[];
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

async function fan(b: TestBackend, source: string, n: number, oneGuest: number, prefix: string, c: VmbranchClient = b.client): Promise<FanoutRun> {
  const t0 = performance.now();
  const uuids: string[] = [];
  for (let i = 0; i < n; i++) {
    const inst = await c.instances.create({ name: `${prefix}-${i}`, branch_from: { name: source } });
    uuids.push(inst.uuid);
  }
  for (let i = 0; i < n; i++) await running(c, `${prefix}-${i}`);
  const wallMs = since(t0);
  await settle(5000);
  const total = totalPssMiB(uuids.map((u) => pidOfInstance(b, u)));
  for (let i = 0; i < n; i++) await c.instances.delete(`${prefix}-${i}`);
  return { wallMs, totalPssMiB: total, ratioToOneGuest: total / oneGuest };
}

/** Run it with `n` branches. */
export async function fanout(b: TestBackend, n = 10): Promise<FanoutResult> {
  const c = b.client;
  const src = await c.instances.create({ ...WORKLOAD, name: "fan-src", volumes: [{ size_mb: 16, at: "/data" }] });
  await running(c, "fan-src");
  await settle(5000);
  // One guest, booted and settled like the source, is the yardstick.
  const oneGuest = totalPssMiB([pidOfInstance(b, src.uuid)]);
  const withoutHint = clientWithoutHint(b);
  const runningRounds: { hint: boolean; wallMs: number }[] = [];
  let fromRunning: FanoutRun | undefined;
  for (const hint of [true, false, false, true]) {
    const run = await fan(b, "fan-src", n, oneGuest, hint ? "fan-r" : "fan-b", hint ? c : withoutHint);
    runningRounds.push({ hint, wallMs: run.wallMs });
    fromRunning ??= hint ? run : undefined;
    await settle(2000);
  }
  await c.instances.suspend("fan-src");
  const fromStandby = await fan(b, "fan-src", n, oneGuest, "fan-s");
  await c.instances.delete("fan-src");
  return { oneGuestPssMiB: oneGuest, fromRunning: fromRunning!, runningRounds, fromStandby };
}
