// On hosts whose kernel lacks userfaultfd write-protection, branching falls back to copying RAM
// with the source stopped: slower, but the branch must be just as correct. Forced here.
import { startBackend, type TestBackend } from "../helpers/backend";
import { counterProgram, parseTicks } from "../helpers/guest-programs";

jest.setTimeout(180_000);

let backend: TestBackend;
beforeAll(async () => {
  backend = await startBackend({ env: { VMBRANCH_SNAPSHOT_MODE: "stop-copy" } });
});
afterAll(async () => {
  await backend?.stop();
});

it("branches a running instance with the stop-and-copy fallback: memory and disk come along, the source keeps running", async () => {
  const c = backend.client;
  await c.instances.create({ name: "src", image: "base", args: counterProgram(), volumes: [{ size_mb: 16, at: "/data" }] });
  await c.instances.waitFor("src", "running", { timeoutMs: 120_000 });
  const deadline = Date.now() + 60_000;
  while (parseTicks((await c.instances.log("src")).output).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  const b = await c.instances.create({ name: "b", branch_from: { name: "src" } });
  expect(b.branch!.source_pause_ms).toBeGreaterThan(0);
  await c.instances.waitFor("b", "running", { timeoutMs: 60_000 });
  let ticks = parseTicks((await c.instances.log("b")).output);
  // The fork count comes from the VM generation ID's ACPI notification, handled just after the
  // restore, so the first tick can race it: wait until the guest has seen it.
  while ((ticks.length < 2 || !ticks.some((t) => t.fork > 0)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    ticks = parseTicks((await c.instances.log("b")).output);
  }
  expect(ticks[0]!.tick).toBeGreaterThan(3);
  expect(ticks[0]!.fork).toBeLessThanOrEqual(1);
  expect(ticks.find((t) => t.fork > 0)?.fork).toBe(1);
  expect(ticks[0]!.f0).toBeGreaterThanOrEqual(3);
  const before = parseTicks((await c.instances.log("src")).output).length;
  while (parseTicks((await c.instances.log("src")).output).length <= before + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  expect((await c.instances.get("src")).state).toBe("running");
  await c.instances.delete("b");
  await c.instances.delete("src");
});
