/** Helpers the scenarios share: a guest workload, waits and timing. */
import type { Instance, VmbranchClient } from "../../sdk";
import { counterProgram } from "../../test/helpers/guest-programs";

/** The guest every scenario runs: a counter in memory that appends to a volume. */
export const WORKLOAD = { image: "base", memory_mb: 256, args: counterProgram("/data", 1) };

/** Milliseconds since `t0` (a `performance.now()` value). */
export function since(t0: number): number {
  return performance.now() - t0;
}

/** Wait for `running` (generous: TCG on 2 cores). */
export function running(client: VmbranchClient, id: string): Promise<Instance> {
  return client.instances.waitFor(id, "running", { timeoutMs: 180_000 });
}

/** Settle the machine between measurements so one run's background work does not bleed into the next. */
export function settle(ms = 500): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
