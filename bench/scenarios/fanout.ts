/**
 * Ten branches of one 256 MiB source, kept running together: wall time and total memory (PSS)
 * against one guest. Twice: from a running source (one live snapshot per branch) and from a
 * standby source (all ten map one snapshot's RAM image copy-on-write).
 */
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
  fromRunning: FanoutRun;
  fromStandby: FanoutRun;
}

function pidOfInstance(b: TestBackend, uuid: string): number {
  return pidOf(uuid, b.dataDir);
}

async function fan(b: TestBackend, source: string, n: number, oneGuest: number, prefix: string): Promise<FanoutRun> {
  const c = b.client;
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
  const fromRunning = await fan(b, "fan-src", n, oneGuest, "fan-r");
  await settle(2000);
  await c.instances.suspend("fan-src");
  const fromStandby = await fan(b, "fan-src", n, oneGuest, "fan-s");
  await c.instances.delete("fan-src");
  return { oneGuestPssMiB: oneGuest, fromRunning, fromStandby };
}
