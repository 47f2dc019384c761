/**
 * Jest setup for the layers that run the real Pulumi engine (provider, e2e, examples). When an
 * inline program's run ends early, or late under load, the Pulumi runtime's last RPC (registering
 * the stack's outputs) is rejected with "Resource monitor is terminating" after the Automation API
 * stopped listening, and @pulumi/pulumi re-raises it as an unhandled rejection on purpose. It can
 * arrive seconds later, even in a later test; jest would then fail the whole file. For the whole
 * file, only that rejection is dropped; every other one still reaches jest.
 */

const TERMINATING = "Resource monitor is terminating";

const saved = process.listeners("unhandledRejection");
process.removeAllListeners("unhandledRejection");
function filter(reason: unknown, promise: Promise<unknown>): void {
  if (reason instanceof Error && reason.message === TERMINATING) return;
  for (const l of saved) (l as (r: unknown, p: Promise<unknown>) => void)(reason, promise);
}
process.on("unhandledRejection", filter);

afterAll(() => {
  process.off("unhandledRejection", filter);
  for (const l of saved) process.on("unhandledRejection", l as (...args: unknown[]) => void);
});
