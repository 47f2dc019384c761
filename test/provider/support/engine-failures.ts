/**
 * Running an inline program whose `up` or `preview` fails, under jest. When the engine stops a
 * run early, the Pulumi runtime's last RPC of the inline program (registering the stack's
 * outputs) is rejected with "Resource monitor is terminating" after the Automation API has
 * removed its own rejection handler, and @pulumi/pulumi re-raises it on purpose as an unhandled
 * rejection (runtime/resource.ts, runAsyncResourceOp). Jest would fail the whole file for it.
 * Only that rejection is let through silently; any other still reaches jest.
 */

const TERMINATING = "Resource monitor is terminating";
// The late RPC fails within milliseconds of the engine stopping; wait well beyond that.
const SETTLE_MS = 1_500;

function isMonitorShutdown(reason: unknown): boolean {
  return reason instanceof Error && reason.message === TERMINATING;
}

/** Run `fn` (an engine operation expected to fail), ignoring the monitor-shutdown rejection it leaves behind. */
export async function withEngineFailure<T>(fn: () => Promise<T>): Promise<T> {
  const saved = process.listeners("unhandledRejection");
  process.removeAllListeners("unhandledRejection");
  const filter = (reason: unknown, promise: Promise<unknown>) => {
    if (isMonitorShutdown(reason)) return;
    for (const l of saved) (l as (r: unknown, p: Promise<unknown>) => void)(reason, promise);
  };
  process.on("unhandledRejection", filter);
  try {
    return await fn();
  } finally {
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    process.off("unhandledRejection", filter);
    for (const l of saved) process.on("unhandledRejection", l as (...args: unknown[]) => void);
  }
}
