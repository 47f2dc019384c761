// test/e2e/instance-lifecycle.test.ts: one stack's life through the real Pulumi engine (CLI
// v3.259, Automation API, inline program) against a real `vmbranch serve` with a real guest: a
// Volume and an Instance that mounts it go up and then preview with no changes; a tag edit is
// one in-place update and a `memoryMb` edit one replacement, in the preview and in what `up`
// does to the backend and its QEMU processes; `branchFrom` with `image` stops the preview with the
// API's message before anything is created; a VM deleted outside Pulumi leaves the state on
// `refresh`; `destroy` leaves no VM, volume, snapshot or file. At most one guest runs at a time.
import type { EngineEvent } from "@pulumi/pulumi/automation";
import * as vmbranch from "vmbranch";
import type { InlineStack } from "../helpers/pulumi";
import { backendContents, changesOf, ourResources, stateOf, startE2e, vmProcesses, type E2eEnv } from "./support/e2e-env";

// Generous: other engineers' VMs may share the machine's two cores with our TCG guest.
jest.setTimeout(600_000);

// The API's own words (sdk/schemas/messages.ts), written out: this is what the user must read.
const BRANCH_WITH_IMAGE = "Cannot specify 'image' when 'branch_from' is set";

// Keeps running and writes to its volume, so a replacement has a writer to stop first.
const WRITER = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /data/ticks; sync; sleep 2; done"];

/** What the program declares; the tests edit it between engine runs. */
interface Spec {
  tags: string[];
  memoryMb: number;
  /** Also declare a branch of `vm` that names an image as well (a combination the API refuses). */
  badBranch: boolean;
}
let spec: Spec = { tags: ["e2e", "blue"], memoryMb: 128, badBranch: false };

async function program() {
  const data = new vmbranch.Volume("data", { sizeMb: 16 });
  const vm = new vmbranch.Instance("vm", {
    image: "base",
    memoryMb: spec.memoryMb,
    tags: spec.tags,
    args: WRITER,
    volumes: [{ volume: data.name, at: "/data" }],
  });
  if (spec.badBranch) new vmbranch.Instance("bad", { branchFrom: vm.name, image: "base" });
  return { data: data.name, vm: vm.name, vmUuid: vm.uuid, memoryMb: vm.memoryMb };
}

let env: E2eEnv | undefined;
let s: InlineStack;
beforeAll(async () => {
  env = await startE2e();
  s = await env.stack("vmbranch-e2e-lifecycle", program);
});
afterAll(async () => {
  await env?.teardown();
});

const backend = () => env!.backend;
/** The stack outputs `program` returns, as the last engine run left them. */
interface Outputs {
  data: string;
  vm: string;
  vmUuid: string;
  memoryMb: number;
}
const outputs = async () => Object.fromEntries(Object.entries(await s.stack.outputs()).map(([k, v]) => [k, v.value])) as Outputs;
const sorted = (xs: string[]) => [...xs].sort();

test("up creates a volume and an instance mounting it; a second preview reports no changes", async () => {
  const up = await s.stack.up();
  expect(up.summary.result).toBe("succeeded");
  expect(up.summary.resourceChanges).toEqual({ create: 3 }); // the stack, the volume, the instance
  const out = await outputs();
  const vm = await backend().client.instances.get(out.vm);
  expect(vm).toMatchObject({ uuid: out.vmUuid, state: "running", memory_mb: 128, image: "base" });
  expect(sorted(vm.tags)).toEqual(["blue", "e2e"]);
  expect(vm.volumes.map((v) => ({ name: v.name, at: v.at, readonly: v.readonly }))).toEqual([{ name: out.data, at: "/data", readonly: false }]);
  // One real VM runs, with the memory the program asked for.
  expect(vmProcesses(backend())).toEqual([{ pid: expect.any(Number), uuid: out.vmUuid, memory: "128M" }]);

  const events: EngineEvent[] = [];
  const preview = await s.stack.preview({ onEvent: (e) => events.push(e) });
  expect(preview.changeSummary).toEqual({ same: 3 });
  expect(changesOf(events)).toEqual([]);
});

test("a tag edit previews as one update of the instance, and up changes the tags in place", async () => {
  const before = await outputs();
  const [process] = vmProcesses(backend());
  spec = { ...spec, tags: ["e2e", "green"] };

  const events: EngineEvent[] = [];
  const preview = await s.stack.preview({ onEvent: (e) => events.push(e) });
  expect(preview.changeSummary).toEqual({ same: 2, update: 1 });
  expect(changesOf(events)).toEqual([{ op: "update", name: "vm", keys: [], diffs: ["tags"] }]);

  const up = await s.stack.up();
  expect(up.summary.resourceChanges).toEqual({ same: 2, update: 1 });
  const vm = await backend().client.instances.get(before.vm);
  expect(vm.uuid).toBe(before.vmUuid);
  expect(sorted(vm.tags)).toEqual(["e2e", "green"]);
  // In place: the same QEMU process still runs the same guest.
  expect(vmProcesses(backend())).toEqual([process]);
  expect(vm.start_count).toBe(1);
});

test("a memoryMb edit previews as one replacement, and up runs a new VM with the new memory instead of the old", async () => {
  const before = await outputs();
  spec = { ...spec, memoryMb: 192 };

  const events: EngineEvent[] = [];
  const preview = await s.stack.preview({ onEvent: (e) => events.push(e) });
  expect(preview.changeSummary).toEqual({ same: 2, replace: 1 });
  // The volume is mounted read-write, so the old VM goes before the new one comes; the
  // replacement gets a new auto-name, which the preview shows as a diff of `name` too.
  expect(changesOf(events)).toEqual([
    { op: "delete-replaced", name: "vm", keys: [], diffs: [] },
    { op: "replace", name: "vm", keys: ["memoryMb"], diffs: ["memoryMb", "name"] },
    { op: "create-replacement", name: "vm", keys: ["memoryMb"], diffs: ["memoryMb", "name"] },
  ]);
  // A preview changes nothing.
  expect((await backend().client.instances.get(before.vmUuid)).memory_mb).toBe(128);

  const up = await s.stack.up();
  expect(up.summary.resourceChanges).toEqual({ same: 2, replace: 1 });
  const after = await outputs();
  expect(after.vmUuid).not.toBe(before.vmUuid);
  expect(after.memoryMb).toBe(192);
  const vm = await backend().client.instances.get(after.vmUuid);
  expect(vm).toMatchObject({ state: "running", memory_mb: 192 });
  expect(sorted(vm.tags)).toEqual(["e2e", "green"]);
  expect(vm.volumes.map((v) => v.name)).toEqual([after.data]);
  // The old instance is gone from the API and from the host.
  expect((await backend().http("GET", `/v1/instances/${before.vmUuid}`)).status).toBe(404);
  expect((await backend().client.instances.list()).map((i) => i.uuid)).toEqual([after.vmUuid]);
  expect(vmProcesses(backend())).toEqual([{ pid: expect.any(Number), uuid: after.vmUuid, memory: "192M" }]);
});

test("branchFrom together with image fails the preview with the API's message and creates nothing", async () => {
  const contents = await backendContents(backend());
  const processes = vmProcesses(backend());
  const state = await ourResources(s.stack);
  spec = { ...spec, badBranch: true };
  try {
    const events: EngineEvent[] = [];
    await expect(s.stack.preview({ onEvent: (e) => events.push(e) })).rejects.toThrow(BRANCH_WITH_IMAGE);
    // The engine reports it as an error of the offending resource.
    const errors = events.flatMap((e) => (e.diagnosticEvent?.severity === "error" ? [e.diagnosticEvent] : []));
    expect(errors.some((d) => d.urn?.endsWith("::bad") && d.message.includes(BRANCH_WITH_IMAGE))).toBe(true);
    // `up` stops at the same check, before any create.
    await expect(s.stack.up()).rejects.toThrow(BRANCH_WITH_IMAGE);
  } finally {
    spec = { ...spec, badBranch: false };
  }
  expect(await backendContents(backend())).toEqual(contents);
  expect(vmProcesses(backend())).toEqual(processes);
  expect(await ourResources(s.stack)).toEqual(state);
  expect((await s.stack.preview()).changeSummary).toEqual({ same: 3 });
});

test("a VM deleted outside Pulumi leaves the state on refresh, and the next preview plans to create it again", async () => {
  const before = await outputs();
  await backend().client.instances.delete(before.vmUuid);
  expect(vmProcesses(backend())).toEqual([]);

  const refresh = await s.stack.refresh();
  expect(refresh.summary.result).toBe("succeeded");
  expect(await ourResources(s.stack)).toEqual(["Volume data"]);

  const events: EngineEvent[] = [];
  const preview = await s.stack.preview({ onEvent: (e) => events.push(e) });
  expect(preview.changeSummary).toEqual({ same: 2, create: 1 });
  expect(changesOf(events)).toEqual([{ op: "create", name: "vm", keys: [], diffs: [] }]);

  // And `up` does create it again, mounting the same volume.
  const up = await s.stack.up();
  expect(up.summary.resourceChanges).toEqual({ same: 2, create: 1 });
  const after = await outputs();
  expect(after.vmUuid).not.toBe(before.vmUuid);
  expect((await backend().client.instances.get(after.vmUuid)).volumes.map((v) => v.name)).toEqual([before.data]);
});

test("destroy leaves no VM, volume, snapshot or file, and an empty state", async () => {
  const destroy = await s.stack.destroy();
  expect(destroy.summary.result).toBe("succeeded");
  expect(destroy.summary.resourceChanges).toEqual({ delete: 3 });
  expect(backend().vmPids()).toEqual([]);
  expect(await backendContents(backend())).toEqual({
    instances: [],
    instanceTemplates: [],
    volumes: [],
    volumeTemplates: [],
    files: { disks: [], run: [], snapshots: [], tmp: [] },
    ramFiles: [],
  });
  expect(await stateOf(s.stack)).toEqual([]);
});
