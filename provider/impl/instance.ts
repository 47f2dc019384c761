/**
 * The Instance resource provider: the methods the engine calls (check, diff, create, read,
 * update, delete), loaded at run time in the engine's provider process through
 * `require("vmbranch/provider/impl/instance")`. Owns the sequence of each method and how its
 * failures are reported (partial state with the id once the instance exists); validation, diff,
 * outputs, reconciling and lifecycle live in the instance-* modules.
 */
import type { Instance, VmbranchClient } from "vmbranch/sdk";
import { withClient } from "./connection";
import { errorMessage, failure, isNotFound, partialStateError } from "./errors";
import { checkInstance, type InstanceCheckResult } from "./instance-check";
import { diffInstance, diffInstanceDetail, type DiffAnswer, type DiffDetail } from "./instance-diff";
import { desiredState, isDerived, resolveInstanceInputs, type InstanceInputs, type InstanceOutputs } from "./instance-model";
import { instanceInputsAfterRefresh, instanceInputsFromServer, instanceOutputs, refreshInstanceOutputs, upgradeInstanceOutputs } from "./instance-outputs";
import { reconcileInstance } from "./instance-reconcile";
import { instanceCreateRequest } from "./instance-request";
import type { CheckOptions } from "./naming";
import { Deadline, operationMs, resolveTimeouts, type OperationOptions } from "./timeouts";

export { configure } from "./connection";

/** `check`: auto-name, then the API's verdict on the inputs (unknown values pass). */
export async function check(olds: Record<string, unknown>, news: Record<string, unknown>, opts: CheckOptions = {}): Promise<InstanceCheckResult> {
  return checkInstance(olds, news, opts);
}

/** `diff`: replace or update (docs/provider.md, "Instance"), comparing only what the user wrote. */
export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<DiffAnswer> {
  return diffInstance(olds, news);
}

/** `diff` naming the inputs updated in place too (the schema-based plugin's detailed diff). */
export async function diffDetail(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<DiffDetail> {
  return diffInstanceDetail(olds, news);
}

/** `create`: create, then bring to the desired state; an instance that exists but is not ready is reported with its id. */
export async function create(inputs: Record<string, unknown>, opts: OperationOptions = {}): Promise<{ id: string; outs: InstanceOutputs }> {
  const i = resolveInstanceInputs(inputs);
  const createMs = operationMs(resolveTimeouts(i.timeouts).createMs, opts);
  const deadline = new Deadline(createMs);
  return withClient(
    async (client) => {
      const branch = i.branchFrom !== undefined;
      // A branch cannot take volumes (check refuses them) and the API publishes its source's
      // ports: the ports the user gave are set once it exists (reconcile).
      const request = instanceCreateRequest(i, { autostart: desiredState(i) !== "stopped" || i.waitForExit === true, omitPorts: branch || i.template !== undefined || i.checkpoint !== undefined });
      let inst: Instance;
      try {
        inst = await client.instances.create(request, { timeoutMs: deadline.remainingMs() });
      } catch (err) {
        throw failure(`creating instance '${i.name}'`, err);
      }
      try {
        inst = await reconcileInstance(client, inst, i, { deadline, repair: false, waitForExit: i.waitForExit === true });
        return { id: inst.uuid, outs: instanceOutputs(inst, i) };
      } catch (err) {
        throw await partial(client, inst, i, inputs, `instance '${inst.name}' was created but did not become ${target(i)} within ${deadline.describe()}`, err);
      }
    },
    { branchPendingDeadlineMs: createMs },
  );
}

/**
 * `read`: the server's view, drift included, and the inputs as they now stand (so a refresh names
 * what drifted); no id when the instance is gone (refresh drops it).
 */
export async function read(id: string, props?: Record<string, unknown>): Promise<{ id?: string; props?: InstanceOutputs; inputs?: Record<string, unknown> }> {
  return withClient(async (client) => {
    let inst: Instance;
    try {
      inst = await client.instances.get(id);
    } catch (err) {
      if (isNotFound(err)) return {};
      throw failure(`reading instance '${id}'`, err);
    }
    if (props && typeof props.uuid === "string") {
      const outs = refreshInstanceOutputs(upgradeInstanceOutputs(props), inst);
      const inputs = instanceInputsAfterRefresh(outs);
      return { id: inst.uuid, props: outs, ...(inputs ? { inputs } : {}) };
    }
    // Nothing stored (a lookup by id): the server's values stand for the inputs.
    return { id: inst.uuid, props: instanceOutputs(inst, {}), inputs: instanceInputsFromServer(inst) };
  });
}

/** `update`: tags, annotations, delete lock, ports, volumes and state, in place; full outputs always. */
export async function update(id: string, olds: Record<string, unknown>, news: Record<string, unknown>, opts: OperationOptions = {}): Promise<{ outs: InstanceOutputs }> {
  const i = resolveInstanceInputs(news);
  const prev = upgradeInstanceOutputs(olds);
  const deadline = new Deadline(operationMs(resolveTimeouts(i.timeouts).updateMs, opts));
  return withClient(async (client) => {
    let inst: Instance;
    try {
      inst = await client.instances.get(id, { timeoutMs: deadline.remainingMs() });
    } catch (err) {
      if (isNotFound(err)) throw new Error(`vmbranch: instance '${prev.name}' (${id}) no longer exists: run 'pulumi refresh' to forget it, then 'pulumi up' to create it again`);
      throw failure(`reading instance '${prev.name}'`, err);
    }
    try {
      // A job that has not succeeded yet (a failed create left it) runs again and must exit 0.
      inst = await reconcileInstance(client, inst, i, { deadline, prev, repair: true, waitForExit: i.waitForExit === true });
      return { outs: instanceOutputs(inst, i) };
    } catch (err) {
      throw await partial(client, inst, i, news, `instance '${inst.name}' was not fully updated`, err);
    }
  });
}

/**
 * `delete`: delete the instance (its inline volumes go with it); already gone is fine. A running
 * instance that writes a persistent volume is stopped gracefully first, as the reference's volume
 * workflow does: the API's delete kills the VM, and what the guest had not flushed would be lost
 * to the next instance that mounts the volume (a replacement, typically).
 */
export async function remove(id: string, props: Record<string, unknown>, opts: OperationOptions = {}): Promise<void> {
  const prev = upgradeInstanceOutputs(props);
  const deadline = new Deadline(operationMs(resolveTimeouts(prev.timeouts).deleteMs, opts));
  await withClient(async (client) => {
    try {
      const inst = await client.instances.get(id, { timeoutMs: deadline.remainingMs() });
      const writesVolume = inst.volumes.some((v) => !v.inline && !v.readonly);
      if (!inst.delete_lock && writesVolume && (inst.state === "running" || inst.state === "starting")) {
        const graceS = Math.max(1, Math.min(GRACEFUL_STOP_S, Math.floor(deadline.remainingMs() / 2000)));
        await client.instances.stop(id, { timeout_s: graceS }, { timeoutMs: deadline.remainingMs() });
      }
      await client.instances.delete(id, { timeoutMs: deadline.remainingMs() });
    } catch (err) {
      if (isNotFound(err)) return;
      throw failure(`deleting instance '${prev.name}'`, err);
    }
  });
}

// How long a guest gets to power off before a delete (its init syncs and unmounts in well under a second).
const GRACEFUL_STOP_S = 30;

function target(i: InstanceInputs): string {
  if (i.waitForExit) return "stopped after its main process succeeded";
  return isDerived(i) && i.branchFrom !== undefined ? `a ${desiredState(i)} branch` : desiredState(i);
}

/** The partial-state error for an instance that exists, with the freshest outputs we can get. */
async function partial(client: VmbranchClient, inst: Instance, i: InstanceInputs, inputs: unknown, what: string, err: unknown) {
  const last = await client.instances.get(inst.uuid).catch(() => inst);
  return partialStateError(`vmbranch: ${what}: ${errorMessage(err)}`, inst.uuid, instanceOutputs(last, i), inputs);
}
