// The provider under the real Pulumi engine where it meets the engine's own rules, on stopped
// instances (no guest boots): a refresh names what drifted (read reports the inputs) and the next
// up puts it back; a change of `timeouts` alone is stored; an auto-named instance with a named
// inline volume is replaced delete-first; VMBRANCH_TOKEN in the environment rescues refresh and
// destroy when the stack config has a stale token; a missing token fails the preview and the up
// before anything exists; lookups (`Instance.get`, `getInstance`, ...) read what the stack does
// not manage, and destroy leaves it alone.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EngineEvent, LocalWorkspace } from "@pulumi/pulumi/automation";
import * as vmbranch from "vmbranch";
import { lookupVolume } from "vmbranch/provider/impl/lookups";
import { createInlineStack, type InlineStack } from "../helpers/pulumi";
import { changesOf, refreshedOf, startE2e, stateOf, type E2eEnv } from "./support/e2e-env";

jest.setTimeout(300_000);

let env: E2eEnv;
beforeAll(async () => {
  env = await startE2e();
});
afterAll(async () => {
  await env?.teardown();
});

interface Spec {
  memoryMb: number;
  timeouts?: { delete: string };
}
let spec: Spec = { memoryMb: 128 };

async function program(): Promise<Record<string, unknown>> {
  const data = new vmbranch.Volume("data", { sizeMb: 8, tags: ["app"] });
  const vm = new vmbranch.Instance("vm", {
    image: "base",
    state: "stopped",
    memoryMb: spec.memoryMb,
    tags: ["app"],
    volumes: [{ volume: data.name, at: "/data", readonly: true }, { volume: "cache", sizeMb: 8, at: "/cache" }],
    timeouts: spec.timeouts,
  });
  return { data: data.name, vm: vm.name, vmUuid: vm.uuid };
}

const recorder = () => {
  const events: EngineEvent[] = [];
  return { events, onEvent: (e: EngineEvent) => events.push(e) };
};

const outputsOf = async (s: InlineStack) => Object.fromEntries(Object.entries(await s.stack.outputs()).map(([k, v]) => [k, v.value as string]));

describe("one stack through drift, edits and a stale token", () => {
  let s: InlineStack;
  beforeAll(async () => {
    s = await env.stack("vmbranch-drift", program);
  });

  test("up creates a stopped instance with a named inline volume", async () => {
    const up = await s.stack.up();
    expect(up.summary.resourceChanges).toEqual({ create: 3 });
    const inst = await env.backend.client.instances.get(up.outputs.vm?.value as string);
    expect(inst.state).toBe("stopped");
    expect(inst.volumes.map((v) => v.name).sort()).toEqual(["cache", up.outputs.data?.value].sort());
  });

  test("a refresh names the drifted properties; the next preview shows them and up puts them back", async () => {
    const { vm, data } = await outputsOf(s);
    await env.backend.client.instances.update(vm!, [{ prop: "tags", op: "add", value: ["by-hand"] }, { prop: "delete_lock", op: "set", value: true }]);
    await env.backend.client.volumes.update(data!, [{ prop: "tags", op: "set", value: [] }]);
    const r = recorder();
    await s.stack.refresh({ onEvent: r.onEvent });
    expect(refreshedOf(r.events).map((st) => `${st.op} ${st.name} [${st.diffs.join(",")}]`).sort()).toEqual(["update data [tags]", "update vm [deleteLock,tags]"]);
    const p = recorder();
    expect((await s.stack.preview({ onEvent: p.onEvent })).changeSummary).toEqual({ same: 1, update: 2 });
    expect(changesOf(p.events).map((st) => `${st.op} ${st.name} [${st.diffs.join(",")}]`).sort()).toEqual(["update data [tags]", "update vm [deleteLock,tags]"]);
    await s.stack.up();
    expect(await env.backend.client.instances.get(vm!)).toMatchObject({ tags: ["app"], delete_lock: false });
    expect((await env.backend.client.volumes.get(data!)).tags).toEqual(["app"]);
    expect((await s.stack.preview()).changeSummary).toEqual({ same: 3 });
  });

  test("a change of timeouts alone is an update that stores them (delete reads them from the state)", async () => {
    spec = { ...spec, timeouts: { delete: "7m" } };
    const r = recorder();
    const up = await s.stack.up({ onEvent: r.onEvent });
    expect(changesOf(r.events).map((st) => `${st.op} ${st.name} [${st.diffs.join(",")}]`)).toEqual(["update vm [timeouts]"]);
    expect(up.summary.resourceChanges).toEqual({ same: 2, update: 1 });
    const vm = (await stateOf(s.stack)).find((r) => r.name === "vm");
    expect(vm?.outputs.timeouts).toEqual({ delete: "7m" });
    expect((await s.stack.preview()).changeSummary).toEqual({ same: 3 });
  });

  test("an auto-named instance with a named inline volume is replaced delete-first", async () => {
    const before = await outputsOf(s);
    spec = { ...spec, memoryMb: 256 };
    const r = recorder();
    const up = await s.stack.up({ onEvent: r.onEvent });
    expect(up.summary.resourceChanges).toEqual({ same: 2, replace: 1 });
    expect(changesOf(r.events).filter((st) => st.name === "vm").map((st) => st.op)).toEqual(["delete-replaced", "replace", "create-replacement"]);
    const after = await outputsOf(s);
    expect(after.vm).not.toBe(before.vm);
    const inst = await env.backend.client.instances.get(after.vm!);
    expect(inst).toMatchObject({ memory_mb: 256, state: "stopped" });
    expect(inst.volumes.find((v) => v.at === "/cache")).toMatchObject({ name: "cache", inline: true });
  });

  test("with a stale token in the stack config, VMBRANCH_TOKEN in the environment rescues refresh and destroy", async () => {
    await s.stack.setConfig("vmbranch:token", { value: "stale-token", secret: true });
    // An up records the stale token as the engine's provider configuration; refresh and destroy use that record.
    Object.assign((s.stack.workspace as LocalWorkspace).envVars, { VMBRANCH_TOKEN: env.backend.token });
    expect((await s.stack.up()).summary.result).toBe("succeeded");
    expect((await s.stack.refresh()).summary.result).toBe("succeeded");
    expect((await s.stack.destroy()).summary.result).toBe("succeeded");
    expect(await env.backend.client.instances.list()).toEqual([]);
    expect(await env.backend.client.volumes.list()).toEqual([]);
  });
});

test("without a token anywhere, preview and up fail at check and nothing is created", async () => {
  const empty = mkdtempSync(join(tmpdir(), "vmb-no-token-"));
  const s = await createInlineStack({ projectName: "vmbranch-no-token", program: async () => ({ v: new vmbranch.Volume("v", { sizeMb: 8 }).name }) });
  try {
    // The CLI and its provider process see no token: none in config, none in the environment, no token file.
    const vars = (s.stack.workspace as LocalWorkspace).envVars;
    Object.assign(vars, { VMBRANCH_ENDPOINT: env.backend.url, VMBRANCH_DATA_DIR: empty, VMBRANCH_TOKEN: "" });
    const message = /No vmbranch token: set it with 'pulumi config set --secret vmbranch:token <token>' or the environment variable VMBRANCH_TOKEN/;
    await expect(s.stack.preview()).rejects.toThrow(message);
    await expect(s.stack.up()).rejects.toThrow(message);
    expect(await env.backend.client.volumes.list()).toEqual([]);
    expect((await stateOf(s.stack)).filter((r) => r.type.includes("vmbranch"))).toEqual([]);
  } finally {
    await s.cleanup();
    rmSync(empty, { recursive: true, force: true });
  }
});

test("lookups read what the stack does not manage; destroy leaves it", async () => {
  const c = env.backend.client;
  const vol = await c.volumes.create({ name: "outside-data", size_mb: 8, tags: ["outside"] });
  const tpl = await c.volumes.templates.create({ name: "outside-data", mode: "copy", template_name: "outside-golden" });
  const inst = await c.instances.create({ name: "outside-vm", image: "base", autostart: false, volumes: [{ name: "outside-data", at: "/data", readonly: true }], tags: ["outside"] });
  const s = await env.stack("vmbranch-lookups", async () => {
    const seenVm = vmbranch.Instance.get("seen-vm", inst.uuid);
    const seenVol = vmbranch.Volume.get("seen-data", "outside-data");
    const seenTpl = vmbranch.VolumeTemplate.get("seen-golden", tpl.uuid);
    const byName = await vmbranch.getInstance({ name: "outside-vm" });
    const volume = await vmbranch.getVolume({ uuid: vol.uuid });
    const template = await vmbranch.getVolumeTemplate({ name: "outside-golden" });
    // A managed clone of the looked-up template, as a program would make one.
    const clone = new vmbranch.VolumeClone("mine", { source: template.name });
    return {
      getVm: { name: seenVm.name, state: seenVm.state, image: seenVm.image, tags: seenVm.tags, attached: seenVm.attachedVolumes },
      getVol: { name: seenVol.name, sizeMb: seenVol.sizeMb, attachedTo: seenVol.attachedTo },
      getTpl: { name: seenTpl.name, sourceVolume: seenTpl.sourceVolume },
      byName,
      volume,
      template,
      clone: clone.name,
      output: vmbranch.getVolumeOutput({ name: clone.name }).apply((v) => v.template),
    };
  });
  const up = await s.stack.up();
  expect(up.summary.resourceChanges).toEqual({ create: 2 });
  // The three got with `get` are in the state as external (read) resources.
  expect((await stateOf(s.stack)).filter((r) => r.name.startsWith("seen-")).map((r) => r.name).sort()).toEqual(["seen-data", "seen-golden", "seen-vm"]);
  const o = Object.fromEntries(Object.entries(up.outputs).map(([k, v]) => [k, v.value]));
  expect(o.getVm).toMatchObject({ name: "outside-vm", state: "stopped", image: "base", tags: ["outside"], attached: [expect.objectContaining({ name: "outside-data", at: "/data", readonly: true })] });
  expect(o.getVol).toEqual({ name: "outside-data", sizeMb: 8, attachedTo: ["outside-vm"] });
  expect(o.getTpl).toEqual({ name: "outside-golden", sourceVolume: "outside-data" });
  expect(o.byName).toMatchObject({ uuid: inst.uuid, name: "outside-vm", state: "stopped", memoryMb: 128, tags: ["outside"], attachedVolumes: [expect.objectContaining({ name: "outside-data" })] });
  expect(o.volume).toMatchObject({ uuid: vol.uuid, name: "outside-data", kind: "block", sizeMb: 8, attachedTo: ["outside-vm"], tags: ["outside"], persistent: true });
  expect(o.template).toMatchObject({ uuid: tpl.uuid, name: "outside-golden", sourceVolumeName: "outside-data", clones: 0 });
  expect(o.output).toBe("outside-golden");
  expect((await s.stack.preview()).changeSummary).toMatchObject({ same: 2 });
  // What a program's lookup of something missing throws (the program then fails with it).
  await expect(lookupVolume({ name: "no-such-volume" }, { endpoint: env.backend.url, token: env.backend.token }, {})).rejects.toThrow(
    "vmbranch: looking up volume 'no-such-volume' failed: Volume 'no-such-volume' not found",
  );
  expect((await s.stack.destroy()).summary.result).toBe("succeeded");
  // What was only looked up is still there; the clone the stack made is gone.
  expect((await c.instances.list()).map((i) => i.name)).toEqual(["outside-vm"]);
  expect((await c.volumes.list()).map((v) => v.name)).toEqual(["outside-data"]);
  expect((await c.volumes.templates.get("outside-golden")).clones).toBe(0);
  await c.instances.delete("outside-vm");
  await c.volumes.templates.delete("outside-golden");
  await c.volumes.delete("outside-data");
});
