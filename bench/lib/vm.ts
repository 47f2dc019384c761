/** Helpers the scenarios share: a guest workload, its running source, a timed branch, waits and timing. */
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

/** Start `name` as the branch scenarios' source (on `host` when given): the workload with a 16 MiB volume, running and settled. */
export async function startSource(client: VmbranchClient, name: string, host?: string): Promise<Instance> {
  await client.instances.create({ ...WORKLOAD, name, volumes: [{ size_mb: 16, at: "/data" }], ...(host ? { host } : {}) });
  const inst = await running(client, name);
  // Let the guest's boot-time work end so the first branch does not pay for it.
  await settle(3000);
  return inst;
}

/** Branch `source` as `name` (to `host` when given) and time request → branch running: the branch as it ran (its `branch` timings) and the time in ms. */
export async function timedBranch(client: VmbranchClient, source: string, name: string, quiesce: "auto" | "off" = "auto", host?: string): Promise<{ branch: Instance; ms: number }> {
  const t0 = performance.now();
  await client.instances.create({ name, branch_from: { name: source }, quiesce, ...(host ? { host } : {}) });
  const branch = await running(client, name);
  return { branch, ms: since(t0) };
}
