// What an agent holds between calls (backend/agent/held-objects.ts), with stand-in VM handles
// (pure bookkeeping; real VMs are test/system/host-agent*.test.ts): a VM's alerts and exit read by
// long poll in order, a relaunch of the same instance ending the old follower's poll, a snapshot's
// copy failing as it failed, and unknown ids refused as such.
import { HeldObjects } from "../../backend/agent/held-objects";
import type { LiveSnapshot, VmAlert, VmExit, VmHandle } from "../../backend/host/vm-driver";

/** A stand-in handle: its alerts and exit are the test's to fire. */
function standIn(uuid: string, pid: number) {
  let alert: (a: VmAlert) => void = () => undefined;
  let exit!: (e: VmExit) => void;
  const exited = new Promise<VmExit>((r) => (exit = r));
  const handle = { uuid, pid, exited, onAlert: (l: (a: VmAlert) => void) => (alert = l), detach: () => undefined } as unknown as VmHandle;
  return { handle, alert: (a: VmAlert) => alert(a), exit };
}

let held: HeldObjects;
beforeEach(() => (held = new HeldObjects()));
afterEach(() => held.close());

test("a VM's alerts and exit are read in order, and a poll waits for the next one", async () => {
  const vm = standIn("u1", 100);
  held.holdVm(vm.handle);
  expect(await held.events("u1", 100, 0, 10)).toEqual([]);
  const waiting = held.events("u1", 100, 0, 5_000);
  vm.alert({ kind: "stalled", reason: "disk full" });
  expect(await waiting).toEqual([{ seq: 1, kind: "alert", alert: { kind: "stalled", reason: "disk full" } }]);
  vm.exit({ exitCode: 3, reason: "the guest powered off" });
  await vm.handle.exited;
  expect(await held.events("u1", 100, 1, 5_000)).toEqual([{ seq: 2, kind: "exit", exit: { exitCode: 3, reason: "the guest powered off" } }]);
  // Ended, it is no longer live: an attach of it is answered "gone".
  expect(held.heldVm("u1")).toBeNull();
});

test("a follower of a VM whose instance was launched again learns that its VM ended", async () => {
  const first = standIn("u2", 200);
  held.holdVm(first.handle);
  first.exit({ exitCode: null, reason: "killed" });
  await first.handle.exited;
  held.holdVm(standIn("u2", 201).handle);
  const [e] = await held.events("u2", 200, 0, 5_000);
  expect(e).toMatchObject({ kind: "exit", exit: { exitCode: null, reason: "the VM ended (its instance was started again)" } });
  expect(await held.events("u2", 201, 0, 10)).toEqual([]);
});

test("a snapshot's copy is reported done, or failed with its error; unknown ids are refused", async () => {
  let fail!: (err: Error) => void;
  const completed = new Promise<void>((_, reject) => (fail = reject));
  const id = held.holdSnapshot({ completed, copyEta: async () => null } as unknown as LiveSnapshot);
  expect(await held.snapshotDone(id, 10)).toEqual({ done: false });
  fail(Object.assign(new Error("RAM file short"), { code: "EIO" }));
  expect(await held.snapshotDone(id, 5_000)).toMatchObject({ done: true, error: { name: "Error", message: "RAM file short", fields: { code: "EIO" } } });
  await expect(held.snapshotDone("nope", 10)).rejects.toMatchObject({ name: "UnknownObject", message: "snapshot nope is not held by this agent" });
  await expect(held.events("nope", 1, 0, 10)).rejects.toMatchObject({ name: "UnknownObject" });
});
