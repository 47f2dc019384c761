/**
 * The lifecycle actions as Unikraft Cloud answers them, for one instance or each item of a bulk
 * request: start (optionally waiting for `running`), stop (grace period, `ifstate`), suspend,
 * delete, and waits; every answer carries the item's `status` and the `previous_state` the action
 * found. The work itself is Instances'; this module adds the options and the answer's shape.
 */
import {
  MAX_WAIT_S,
  type Instance,
  type InstanceActionResult,
  type InstanceStartRequest,
  type InstanceState,
  type InstanceStopRequest,
} from "vmbranch/sdk";
import type { CoreContext } from "./context";
import { ApiError } from "./errors";
import type { Instances } from "./instances";
import { requireInstance } from "./lookup";

/** A wait in seconds from Unikraft Cloud's pair of fields (`timeout_s` wins; ms round up; -1 the longest). */
export function waitSeconds(timeoutS: number | undefined, timeoutMs: number | undefined, fallbackS: number): number {
  if (timeoutS !== undefined) return timeoutS < 0 ? MAX_WAIT_S : timeoutS;
  if (timeoutMs !== undefined) return timeoutMs < 0 ? MAX_WAIT_S : Math.ceil(timeoutMs / 1000);
  return fallbackS;
}

/** Lifecycle actions with their answers' shape. */
export class InstanceActions {
  constructor(
    private readonly ctx: CoreContext,
    private readonly instances: Instances,
  ) {}

  private result(inst: Instance, previous: InstanceState): InstanceActionResult {
    return { ...inst, status: "success", previous_state: previous };
  }

  private stateOf(id: string): InstanceState {
    return requireInstance(this.ctx.store, id).state;
  }

  /** Wait up to `seconds` for `running`; returns the instance as it then is. */
  async untilRunning(inst: Instance, seconds: number): Promise<Instance> {
    if (seconds <= 0 || inst.state === "running") return inst;
    return this.instances.wait(inst.uuid, "running", seconds * 1000);
  }

  /** Start; with a timeout, answer once it runs (408 when it does not in time). */
  async start(id: string, opts: InstanceStartRequest = {}): Promise<InstanceActionResult> {
    const previous = this.stateOf(id);
    const inst = await this.instances.start(id);
    return this.result(await this.untilRunning(inst, waitSeconds(opts.timeout_s, opts.wait_timeout_ms, 0)), previous);
  }

  /** Stop: `ifstate` refuses when the instance is in another state; `drain_timeout_ms` is the grace period. */
  async stop(id: string, opts: InstanceStopRequest = {}): Promise<InstanceActionResult> {
    const previous = this.stateOf(id);
    if (opts.ifstate !== undefined && opts.ifstate !== previous)
      throw new ApiError("INVALID_STATE", `Instance '${id}' is in state '${previous}', not '${opts.ifstate}' (ifstate): not stopped`, "ifstate");
    const drain = opts.drain_timeout_ms;
    const timeout_s = opts.timeout_s ?? (drain === undefined || drain === 0 ? undefined : drain < 0 ? MAX_WAIT_S : drain / 1000);
    return this.result(await this.instances.stop(id, { force: opts.force, timeout_s }), previous);
  }

  /** Suspend to standby (there are no connections to drain: the state is saved at once). */
  async suspend(id: string): Promise<InstanceActionResult> {
    const previous = this.stateOf(id);
    return this.result(await this.instances.suspend(id), previous);
  }

  /** Delete (finished before the answer; nothing is retained). */
  async delete(id: string): Promise<InstanceActionResult> {
    const previous = this.stateOf(id);
    return this.result(await this.instances.delete(id), previous);
  }
}
