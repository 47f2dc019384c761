/**
 * Jest setup for the layers that run the real Pulumi engine (provider, e2e, examples): the Pulumi
 * runtime's late "Resource monitor is terminating" rejection, handled where jest can see it. When an inline program's run ends early (a check failure), the runtime's last RPC is
 * rejected after the Automation API stopped listening, and @pulumi/pulumi re-raises it on purpose
 * as an unhandled rejection (runtime/resource.ts, runAsyncResourceOp), seconds later under load.
 *
 * Listeners added to `process` in a test file never see it: jest gives each test file its own
 * copy of `process`, and Node emits 'unhandledRejection' on the real one, where jest-circus
 * listens. So this adds one listener on the real process (jest-circus keeps it in its state as
 * `parentProcess`), ahead of jest's, that attaches a handler to exactly that rejection: Node then
 * emits 'rejectionHandled', and jest drops the error it had recorded. Every other rejection still
 * fails the test. The listener stays for the worker's life, since the rejection may arrive after
 * the file's last hook; it touches nothing else.
 */

const TERMINATING = "Resource monitor is terminating";
const LISTENER = Symbol.for("vmbranch.e2e.monitorShutdownListener");

type Listener = (reason: unknown, promise: Promise<unknown>) => void;

/** The real process of the jest worker, from jest-circus's state, or undefined when it is not found. */
function realProcess(): NodeJS.Process | undefined {
  const sym = Object.getOwnPropertySymbols(globalThis).find((s) => s.description === "JEST_STATE_SYMBOL");
  const state = sym ? (globalThis as unknown as Record<symbol, { parentProcess?: NodeJS.Process } | undefined>)[sym] : undefined;
  return state?.parentProcess ?? undefined;
}

/**
 * Let the Pulumi runtime's "Resource monitor is terminating" rejections pass; runs at each test
 * file's load (this module is a setup file). One listener function serves every file of the worker: jest-circus removes the real
 * process's listeners while a file runs and puts them back after, so each file adds it when absent.
 */
export function tolerateMonitorShutdown(): void {
  const parent = realProcess();
  if (!parent) throw new Error("cannot find jest's process (jest-circus state): the monitor-shutdown filter would do nothing");
  const shared = parent as unknown as Record<symbol, Listener | undefined>;
  const listener = (shared[LISTENER] ??= (reason, promise) => {
    // Not `instanceof Error`: each test file has its own Error class, and this listener outlives the file that added it.
    if (typeof reason === "object" && reason !== null && (reason as { message?: unknown }).message === TERMINATING) promise.catch(() => undefined);
  });
  if (!parent.listeners("unhandledRejection").includes(listener)) parent.prependListener("unhandledRejection", listener);
}

tolerateMonitorShutdown();
