// Provider methods of Checkpoint, and Instance's `checkpoint` input, against a real `vmbranch
// serve` with a real guest: a checkpoint of a running instance is ready when `create` returns, an
// Instance loads it and its guest continues from the captured instant; the source and name
// replace, tags, lock and autokill update in place; check refuses what the API refuses; read
// reports the inputs as given, and drops a checkpoint deleted out of band.
import * as checkpoint from "vmbranch/provider/impl/checkpoint";
import * as instance from "vmbranch/provider/impl/instance";
import { counterProgram, parseTicks } from "../helpers/guest-programs";
import { startProviderHarness, type ProviderHarness } from "./support/harness";
import { createResource, diffResource, updateResource, withoutProvider, type Deployed } from "./support/engine-steps";

jest.setTimeout(180_000);

let h: ProviderHarness;
const checkpoints: string[] = [];
beforeAll(async () => {
  h = await startProviderHarness();
});
afterAll(async () => {
  for (const id of checkpoints) {
    await h.backend.client.instances.checkpoints.update(id, { prop: "delete_lock", op: "set", value: false }).catch(() => undefined);
    await h.backend.client.instances.checkpoints.delete(id).catch(() => undefined);
  }
  await h?.teardown();
});

async function ticks(name: string) {
  return parseTicks((await h.backend.client.instances.log(name, { limit: 4 * 1024 * 1024 })).output);
}

describe("Checkpoint", () => {
  let cp: Deployed;
  let sourceName: string;

  test("create captures a running instance and returns once the checkpoint is ready", async () => {
    const src = await h.created("instance", createResource(instance, { namePrefix: "cp-src", image: "base", args: counterProgram(), volumes: [{ sizeMb: 16, at: "/data" }] }));
    sourceName = src.outs.name as string;
    const deadline = Date.now() + 60_000;
    while ((await ticks(sourceName)).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    cp = await createResource(checkpoint, { namePrefix: "nightly", sourceInstance: sourceName, tags: ["a"] });
    checkpoints.push(cp.id);
    expect(cp.outs).toMatchObject({
      schemaVersion: 1, name: expect.stringMatching(/^nightly-[0-9a-f]{7}$/), autoNamed: true, state: "checkpoint", hasMemory: true,
      sourceInstance: sourceName, sourceInstanceName: sourceName, tags: ["a"], deleteLock: false, autokillMs: 0, loads: 0,
    });
    expect(cp.outs.sourcePauseMs).toEqual(expect.any(Number));
    expect(await checkpoint.read(cp.id, cp.outs)).toEqual({ id: cp.id, props: cp.outs, inputs: withoutProvider(cp.inputs) });
    expect(await diffResource(checkpoint, cp, { namePrefix: "nightly", sourceInstance: sourceName, tags: ["a"] })).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });

  test("an Instance with `checkpoint` continues the guest from the captured instant", async () => {
    const loaded = await h.created("instance", createResource(instance, { namePrefix: "from-cp", checkpoint: cp.outs.name }));
    expect(loaded.outs).toMatchObject({ checkpoint: cp.outs.name, state: "running" });
    const deadline = Date.now() + 60_000;
    let t = await ticks(loaded.outs.name as string);
    while (t.length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      t = await ticks(loaded.outs.name as string);
    }
    expect(t[0]!.tick).toBeGreaterThan(1);
    expect((await h.backend.client.instances.log(loaded.outs.name as string)).output).not.toContain("VMBRANCH-READY");
    expect(await instance.diff(loaded.id, loaded.outs, { ...loaded.inputs, checkpoint: "another" })).toMatchObject({ replaces: ["checkpoint"] });
  });

  test("tags, delete lock and autokill change in place; source and name replace", async () => {
    cp = await updateResource(checkpoint, cp, { namePrefix: "nightly", sourceInstance: sourceName, tags: ["a", "b"], deleteLock: true, autokillMs: 3_600_000 });
    expect(cp.outs).toMatchObject({ tags: ["a", "b"], deleteLock: true, autokillMs: 3_600_000 });
    expect(await h.backend.client.instances.checkpoints.get(cp.id)).toMatchObject({ tags: ["a", "b"], delete_lock: true, checkpoint_autokill: { time_ms: 3_600_000 } });
    await expect(checkpoint.remove(cp.id, cp.outs)).rejects.toThrow(/delete lock/);
    cp = await updateResource(checkpoint, cp, { namePrefix: "nightly", sourceInstance: sourceName, tags: ["a", "b"] });
    expect(cp.outs).toMatchObject({ deleteLock: false, autokillMs: 0 });
    expect((await checkpoint.diff(cp.id, cp.outs, { ...cp.inputs, sourceInstance: "other" })).replaces).toEqual(["sourceInstance"]);
    expect((await checkpoint.diff(cp.id, cp.outs, { ...cp.inputs, name: "fixed" })).replaces).toEqual(["name"]);
  });

  test("check refuses a missing source, a bad name and an unknown input; the API refuses the same name", async () => {
    expect((await checkpoint.check({}, { namePrefix: "x" })).failures).toEqual([{ property: "sourceInstance", reason: "Missing 'sourceInstance': the name or uuid of the instance to capture" }]);
    const bad = await checkpoint.check({}, { name: "-bad", sourceInstance: sourceName, colour: "red" });
    expect(bad.failures.map((f) => f.property).sort()).toEqual(["colour", "name"]);
    const res = await h.backend.http("POST", "/v1/instances/checkpoints", [{ from: { name: sourceName }, name: "-bad" }]);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].message).toContain(bad.failures.find((f) => f.property === "name")!.reason);
  });

  test("read drops a checkpoint deleted out of band; delete of a gone checkpoint is fine", async () => {
    await h.backend.client.instances.checkpoints.delete(cp.id);
    expect(await checkpoint.read(cp.id, cp.outs)).toEqual({});
    await checkpoint.remove(cp.id, cp.outs);
  });
});
