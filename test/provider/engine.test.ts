// The provider under the real Pulumi engine (CLI v3.259 through the Automation API, inline
// program, local file backend) and a real backend: how connection settings reach the provider
// (stack config through the `configure` hook, or the environment) and that the token never
// lands in state; preview with no changes; an update and an auto-named create-before-delete
// replacement; a check failure stopping the preview with the API's message; a partial create
// kept in state and finished by the next `up`; refresh dropping what was deleted outside
// Pulumi; destroy leaving nothing. One guest only.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { EngineEvent, LocalWorkspace } from "@pulumi/pulumi/automation";
import * as vmbranch from "vmbranch";
import { messages } from "vmbranch/sdk";
import { startBackend, type TestBackend } from "../helpers/backend";
import { createInlineStack, type InlineStack } from "../helpers/pulumi";
import { ensurePackageLink } from "./support/package-link";

jest.setTimeout(600_000);

interface Spec {
  cloneFromTemplate: boolean;
  cloneTags: string[];
  badInstance: boolean;
  vmCreate?: string;
  /** Probe a guest port nothing answers on, so the create cannot finish however fast the host boots. */
  vmNeverReady?: boolean;
}
let spec: Spec = { cloneFromTemplate: true, cloneTags: ["c"], badInstance: false };

async function program() {
  const data = new vmbranch.Volume("data", { sizeMb: 8 });
  const golden = new vmbranch.VolumeTemplate("golden", { sourceVolume: data.name });
  const clone = new vmbranch.VolumeClone("clone", { source: spec.cloneFromTemplate ? golden.name : data.name, tags: spec.cloneTags });
  if (spec.badInstance) new vmbranch.Instance("bad", { branchFrom: data.name, image: "base" });
  const out: Record<string, unknown> = { data: data.name, golden: golden.name, clone: clone.name, cloneState: clone.state };
  if (spec.vmCreate) {
    const probe = spec.vmNeverReady ? { ports: [{ guestPort: 9 }], readiness: { guestPort: 9, path: "/" } } : {};
    const vm = new vmbranch.Instance("vm", { image: "base", timeouts: { create: spec.vmCreate }, ...probe });
    out.vm = vm.name;
    out.vmState = vm.state;
  }
  return out;
}

let backend: TestBackend;
let s: InlineStack;
beforeAll(async () => {
  ensurePackageLink();
  backend = await startBackend();
  s = await createInlineStack({
    projectName: "vmbranch-provider-engine",
    program,
    config: { "vmbranch:endpoint": { value: backend.url }, "vmbranch:token": { value: backend.token, secret: true } },
  });
});
afterAll(async () => {
  await s?.cleanup({ destroy: true }).catch(() => undefined);
  await backend?.stop();
});

/** Every file under `dir`, read as text. */
function filesUnder(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push({ path: p, text: readFileSync(p, "utf8") });
  }
  return out;
}

/** The resource steps of an engine run, as "op name" strings in order. */
function collect(events: EngineEvent[]): string[] {
  return events.flatMap((e) => (e.resourcePreEvent ? [`${e.resourcePreEvent.metadata.op} ${e.resourcePreEvent.metadata.urn.split("::").pop()}`] : []));
}

const resourcesOf = async (type: string) =>
  ((await s.stack.exportStack()).deployment.resources ?? []).filter((r: { type: string }) => r.type === `pulumi-nodejs:dynamic/vmbranch:${type}`);

test("up with the connection in stack config (token secret); the token is nowhere in the state", async () => {
  const up = await s.stack.up();
  expect(up.summary.result).toBe("succeeded");
  expect(up.summary.resourceChanges).toEqual({ create: 4 });
  expect(up.outputs.clone?.value).toMatch(/^clone-[0-9a-f]{7}$/);
  expect(up.outputs.cloneState?.value).toBe("available");
  // Our resources never hold the token: not as an input, not as an output.
  const resources = (await s.stack.exportStack()).deployment.resources as { type: string; inputs?: object; outputs?: object }[];
  const ours = resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/vmbranch:"));
  expect(ours).toHaveLength(3);
  for (const r of ours) expect(JSON.stringify([r.inputs, r.outputs])).not.toContain(backend.token);
  // The engine records the stack config as the default provider's inputs: the token as a secret.
  const engineProvider = resources.find((r) => r.type === "pulumi:providers:pulumi-nodejs");
  expect((engineProvider?.inputs as Record<string, unknown>)["vmbranch:token"]).toMatchObject({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" });
  // On disk (state and stack settings) it is only ever ciphertext.
  const files = [...filesUnder(s.sandbox.stateDir), ...filesUnder(s.sandbox.workDir)];
  expect(files.some((f) => f.text.includes("pulumi-nodejs:dynamic/vmbranch:VolumeClone"))).toBe(true);
  for (const f of files) expect({ file: f.path, hasToken: f.text.includes(backend.token) }).toEqual({ file: f.path, hasToken: false });
  expect(await backend.client.volumes.templates.list()).toHaveLength(1);
});

test("a second preview reports no changes; a tag edit is one update", async () => {
  expect((await s.stack.preview()).changeSummary).toEqual({ same: 4 });
  spec = { ...spec, cloneTags: ["c", "d"] };
  expect((await s.stack.preview()).changeSummary).toEqual({ same: 3, update: 1 });
  const up = await s.stack.up();
  expect(up.summary.resourceChanges).toEqual({ same: 3, update: 1 });
  expect((await backend.client.volumes.get(up.outputs.clone?.value as string)).tags).toEqual(["c", "d"]);
});

test("an auto-named resource is replaced create-before-delete, under a new name", async () => {
  const before = (await s.stack.outputs()).clone?.value as string;
  spec = { ...spec, cloneFromTemplate: false };
  const events: EngineEvent[] = [];
  const up = await s.stack.up({ onEvent: (e) => events.push(e) });
  expect(up.summary.resourceChanges).toEqual({ same: 3, replace: 1 });
  const steps = collect(events).filter((x) => x.endsWith(" clone"));
  expect(steps).toEqual(["create-replacement clone", "replace clone", "delete-replaced clone"]);
  const after = up.outputs.clone?.value as string;
  expect(after).toMatch(/^clone-[0-9a-f]{7}$/);
  expect(after).not.toBe(before);
  expect((await backend.client.volumes.get(after)).clone?.source.name).toBe(up.outputs.data?.value);
});

test("a check failure stops the preview with the API's message and creates nothing", async () => {
  spec = { ...spec, badInstance: true };
  await expect(s.stack.preview()).rejects.toThrow(messages.branchWithImage);
  await expect(s.stack.up()).rejects.toThrow(messages.branchWithImage);
  expect(await resourcesOf("Instance")).toEqual([]);
  expect(await backend.client.instances.list()).toEqual([]);
  spec = { ...spec, badInstance: false };
});

test("a partial create stays in state with its id, and the next up finishes it", async () => {
  // The deadline leaves the POST room on a busy host (a 1 s one once ran out inside it); the
  // readiness probe, not the host's speed, is what keeps the create from finishing.
  spec = { ...spec, vmCreate: "8s", vmNeverReady: true };
  await expect(s.stack.up()).rejects.toThrow(/did not become running within 8s/);
  const [vm] = await resourcesOf("Instance");
  expect(vm).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), initErrors: [expect.stringMatching(/did not become running/)] });
  expect(vm.outputs.__provider).toEqual(expect.any(String));
  spec = { ...spec, vmCreate: "5m", vmNeverReady: false };
  const up = await s.stack.up();
  expect(up.summary.resourceChanges).toEqual({ same: 4, update: 1 });
  expect(up.outputs.vmState?.value).toBe("running");
  expect((await resourcesOf("Instance"))[0]).toMatchObject({ id: vm.id });
  expect((await s.stack.preview()).changeSummary).toEqual({ same: 5 });
});

test("refresh drops an instance deleted outside Pulumi; the next preview would create it again", async () => {
  const name = (await s.stack.outputs()).vm?.value as string;
  await backend.client.instances.delete(name);
  const refresh = await s.stack.refresh();
  expect(refresh.summary.result).toBe("succeeded");
  expect(await resourcesOf("Instance")).toEqual([]);
  expect((await s.stack.preview()).changeSummary).toEqual({ same: 4, create: 1 });
  spec = { ...spec, vmCreate: undefined };
});

test("without stack config the provider reads VMBRANCH_ENDPOINT and VMBRANCH_TOKEN", async () => {
  await s.stack.removeAllConfig(["vmbranch:endpoint", "vmbranch:token"]);
  // The CLI, and the provider process it starts, get the workspace's environment.
  Object.assign((s.stack.workspace as LocalWorkspace).envVars, { VMBRANCH_ENDPOINT: backend.url, VMBRANCH_TOKEN: backend.token });
  const refresh = await s.stack.refresh();
  expect(refresh.summary.result).toBe("succeeded");
  expect((await s.stack.preview()).changeSummary).toEqual({ same: 4 });
});

test("destroy leaves no volume, template or instance", async () => {
  const destroy = await s.stack.destroy();
  expect(destroy.summary.result).toBe("succeeded");
  expect(await backend.client.volumes.list()).toEqual([]);
  expect(await backend.client.volumes.templates.list()).toEqual([]);
  expect(await backend.client.instances.list()).toEqual([]);
});
