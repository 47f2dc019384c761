/**
 * Bringing an instance to the state the program asks for (running, stopped, standby), within a
 * deadline: start, stop, suspend and the waits between them, a run-to-exit job's exit status,
 * and the optional HTTP readiness check on a published port. Owns the order of those calls; the
 * SDK owns the requests and waits, the caller owns the deadline and what a failure means.
 */
import type { Instance, VmbranchClient } from "vmbranch/sdk";
import type { DesiredState, ReadinessInput } from "./instance-model";
import type { Deadline } from "./timeouts";

/** Options of `settleInstance`. */
export interface SettleOptions {
  deadline: Deadline;
  /** Restart an instance found in `error` (update, refresh repairs); at create an error is a failure. */
  repair: boolean;
  readiness?: ReadinessInput;
  /** A run-to-exit job: wait for the main process to exit and require exit code 0 (on repair, run it again first unless it succeeded). */
  waitForExit?: boolean;
}

// How often a start is looked at while the guest boots (a few seconds under TCG).
const BOOT_POLL_MS = 300;

/** Bring `inst` to `desired` and return it as last seen. Throws with the reason when it cannot. */
export async function settleInstance(client: VmbranchClient, inst: Instance, desired: DesiredState, opts: SettleOptions): Promise<Instance> {
  const id = inst.uuid;
  const call = () => ({ timeoutMs: opts.deadline.remainingMs() });
  let cur = inst;
  if (cur.state === "error" && !opts.repair) throw new Error(`instance '${cur.name}' is in state 'error': ${reasonOf(cur)}`);
  if (opts.waitForExit) return waitForExit(client, cur, opts);
  if (cur.state === "stopping") cur = await client.instances.waitFor(id, "stopped", { timeoutMs: opts.deadline.remainingMs() });

  if (desired === "running" || desired === "standby") {
    if (cur.state === "stopped" || cur.state === "error" || (cur.state === "standby" && desired === "running")) cur = await client.instances.start(id, call());
    if (cur.state === "starting") cur = await waitUntilRunning(client, cur, opts.deadline);
  }
  if (desired === "running") {
    if (opts.readiness) await probeReadiness(client, cur, opts.readiness, opts.deadline);
    return cur;
  }
  if (desired === "standby") {
    if (cur.state !== "standby") cur = await client.instances.suspend(id, call());
    if (cur.state !== "standby") cur = await client.instances.waitFor(id, "standby", { timeoutMs: opts.deadline.remainingMs() });
    return cur;
  }
  if (cur.state !== "stopped") cur = await client.instances.stop(id, {}, call());
  if (cur.state !== "stopped") cur = await client.instances.waitFor(id, "stopped", { timeoutMs: opts.deadline.remainingMs() });
  return cur;
}

/**
 * Wait for `running`. A guest that stops while booting (its main process failed, say) ends the
 * wait at once with its exit code, instead of waiting for the deadline.
 */
async function waitUntilRunning(client: VmbranchClient, inst: Instance, deadline: Deadline): Promise<Instance> {
  const cur = await client.instances.waitFor(inst.uuid, ["running", "stopped"], { timeoutMs: deadline.remainingMs(), pollMs: BOOT_POLL_MS });
  if (cur.state === "stopped") throw new Error(`instance '${cur.name}' stopped while starting: ${reasonOf(cur)}`);
  return cur;
}

/**
 * A run-to-exit job: wait until its main process has exited, and require exit code 0. On repair
 * (update, after a create that failed or timed out) a job that has not succeeded yet (it failed,
 * was stopped or killed, or never ran) is started again, so the next `up` finishes or fails it
 * for real instead of accepting a half-done job.
 */
async function waitForExit(client: VmbranchClient, inst: Instance, opts: SettleOptions): Promise<Instance> {
  const wait = (i: Instance) => client.instances.waitFor(i.uuid, "stopped", { timeoutMs: opts.deadline.remainingMs() });
  let cur = inst;
  if (cur.state === "stopping") cur = await wait(cur);
  if (opts.repair && (cur.state === "stopped" || cur.state === "error") && cur.exit_code !== 0) cur = await client.instances.start(cur.uuid, { timeoutMs: opts.deadline.remainingMs() });
  if (cur.state !== "stopped") cur = await wait(cur);
  if (cur.exit_code !== 0) throw new Error(`instance '${cur.name}' ran to its end but did not succeed: ${reasonOf(cur)}`);
  return cur;
}

/** Why an instance stopped or failed, in the API's words. */
export function reasonOf(inst: Instance): string {
  const parts: string[] = [];
  if (inst.exit_code !== null) parts.push(`exit code ${inst.exit_code}`);
  if (inst.stop_reason) parts.push(inst.stop_reason);
  if (inst.branch?.phase === "Failed" && inst.branch.message) parts.push(`branch failed: ${inst.branch.message}`);
  return parts.length > 0 ? parts.join("; ") : "no reason given (see its log: GET /v1/instances/{id}/log)";
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * GET `http://<host ip>:<host port><path>` of the published `readiness.guestPort` until it answers
 * 2xx or 3xx. Runs where Pulumi runs: the host ports are those of the vmbranch host.
 */
export async function probeReadiness(client: VmbranchClient, inst: Instance, r: ReadinessInput, deadline: Deadline): Promise<void> {
  const port = inst.ports.find((p) => p.guest_port === r.guestPort && p.protocol === "tcp");
  if (!port) throw new Error(`readiness check: guest port ${r.guestPort} of instance '${inst.name}' is not published`);
  const url = `http://${port.host_ip}:${port.host_port}${r.path ?? "/"}`;
  let last = "no answer yet";
  for (let round = 1; !deadline.expired(); round++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(Math.min(5_000, deadline.remainingMs())) });
      await res.arrayBuffer();
      if (res.status >= 200 && res.status < 400) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      last = cause?.code ?? (err as Error).message;
    }
    // Now and then make sure the guest is still there, so a crash does not wait for the deadline.
    if (round % 8 === 0) {
      const cur = await client.instances.get(inst.uuid, { timeoutMs: deadline.remainingMs() });
      if (cur.state !== "running") throw new Error(`readiness check: instance '${cur.name}' is '${cur.state}' (${reasonOf(cur)})`);
    }
    await sleep(250);
  }
  throw new Error(`readiness check GET ${url} did not answer with 2xx or 3xx within ${deadline.describe()} (last: ${last})`);
}
