// test/e2e/branching.test.ts: branching through the real Pulumi engine (CLI v3.259, Automation
// API, inline program) against a real `vmbranch serve` with real guests: five branches of one
// running instance declared together go up in a single `up` (the engine creates them in
// parallel, so the backend must queue them on the source rather than fail), each reports its
// lineage and the source's pause, a second preview reports no changes, and `destroy` removes the
// branches, their volume copies and snapshots with everything else. Six guests at most.
import type { EngineEvent } from "@pulumi/pulumi/automation";
import * as vmbranch from "vmbranch";
import type { InlineStack } from "../helpers/pulumi";
import { backendContents, changesOf, stateOf, startE2e, vmProcesses, type E2eEnv } from "./support/e2e-env";

// Generous: six TCG guests on two cores, perhaps next to other engineers' VMs.
jest.setTimeout(600_000);

const BRANCHES = 5;

// Keeps writing to its volume, so each branch starts from a source with live memory and a dirty disk.
const WRITER = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /data/ticks; sync; sleep 1; done"];

/** How many branches the program declares; the tests raise it between engine runs. */
let branchCount = 0;

async function program() {
  const data = new vmbranch.Volume("data", { sizeMb: 16 });
  const source = new vmbranch.Instance("source", { image: "base", args: WRITER, tags: ["e2e"], volumes: [{ volume: data.name, at: "/data" }] });
  const branches = [];
  for (let n = 0; n < branchCount; n++) {
    // Each adds a tag of its own to the ones it inherits; only its own are managed.
    const b = new vmbranch.Instance(`branch-${n}`, { branchFrom: source.name, tags: [`copy-${n}`] });
    branches.push({
      name: b.name,
      uuid: b.uuid,
      state: b.state,
      branchedFrom: b.branchedFrom,
      branchedFromUuid: b.branchedFromUuid,
      branchPhase: b.branchPhase,
      sourcePauseMs: b.sourcePauseMs,
      snapshotAt: b.snapshotAt,
    });
  }
  return { data: data.name, source: source.name, sourceUuid: source.uuid, branches };
}

/** One branch as the stack outputs report it. */
interface BranchOutput {
  name: string;
  uuid: string;
  state: string;
  branchedFrom: string;
  branchedFromUuid: string;
  branchPhase: string;
  sourcePauseMs: number;
  snapshotAt: string;
}

/** The stack outputs `program` returns. */
interface Outputs {
  data: string;
  source: string;
  sourceUuid: string;
  branches: BranchOutput[];
}

let env: E2eEnv | undefined;
let s: InlineStack;
beforeAll(async () => {
  env = await startE2e();
  s = await env.stack("vmbranch-e2e-branching", program);
});
afterAll(async () => {
  await env?.teardown();
});

const backend = () => env!.backend;
const outputs = async () => Object.fromEntries(Object.entries(await s.stack.outputs()).map(([k, v]) => [k, v.value])) as Outputs;

test("a running source with a volume goes up", async () => {
  const up = await s.stack.up();
  expect(up.summary.resourceChanges).toEqual({ create: 3 }); // the stack, the volume, the source
  const out = await outputs();
  expect(await backend().client.instances.get(out.sourceUuid)).toMatchObject({ state: "running", start_count: 1 });
  expect(out.branches).toEqual([]);
});

test(`${BRANCHES} branches of the running source in one up all succeed, each with its lineage and the source's pause`, async () => {
  branchCount = BRANCHES;
  const events: EngineEvent[] = [];
  const up = await s.stack.up({ onEvent: (e) => events.push(e) });
  expect(up.summary.result).toBe("succeeded");
  expect(up.summary.resourceChanges).toEqual({ same: 3, create: BRANCHES });
  expect(changesOf(events).map((c) => `${c.op} ${c.name}`).sort()).toEqual(Array.from({ length: BRANCHES }, (_, n) => `create branch-${n}`));

  const out = await outputs();
  expect(out.branches).toHaveLength(BRANCHES);
  for (const b of out.branches) {
    expect(b).toEqual({
      name: expect.stringMatching(/^branch-\d-[0-9a-f]{7}$/),
      uuid: expect.any(String),
      state: "running",
      branchedFrom: out.source,
      branchedFromUuid: out.sourceUuid,
      branchPhase: "Succeeded",
      sourcePauseMs: expect.any(Number),
      snapshotAt: expect.any(String),
    });
    expect(b.sourcePauseMs).toBeGreaterThanOrEqual(0);
  }
  expect(new Set(out.branches.map((b) => b.uuid)).size).toBe(BRANCHES);

  // The backend agrees: each branch runs from the source's memory, on its own copy of the source's volume.
  const source = await backend().client.instances.get(out.sourceUuid);
  const sourceVolume = source.volumes[0]!.uuid;
  for (const [n, b] of out.branches.entries()) {
    const inst = await backend().client.instances.get(b.uuid);
    expect(inst.state).toBe("running");
    expect(inst.branch).toMatchObject({ source: { uuid: out.sourceUuid, name: out.source }, phase: "Succeeded", from_memory: true, source_pause_ms: b.sourcePauseMs });
    expect([...inst.tags].sort()).toEqual([`copy-${n}`, "e2e"]);
    expect(inst.volumes).toHaveLength(1);
    expect(inst.volumes[0]).toMatchObject({ at: "/data", readonly: false });
    expect(inst.volumes[0]!.uuid).not.toBe(sourceVolume);
  }
  // The source paused for each branch but never stopped; six guests really run.
  expect(source).toMatchObject({ state: "running", start_count: 1 });
  expect(source.volumes.map((v) => v.name)).toEqual([out.data]);
  expect(new Set(vmProcesses(backend()).map((p) => p.uuid))).toEqual(new Set([out.sourceUuid, ...out.branches.map((b) => b.uuid)]));

  const again: EngineEvent[] = [];
  const preview = await s.stack.preview({ onEvent: (e) => again.push(e) });
  expect(preview.changeSummary).toEqual({ same: 3 + BRANCHES });
  expect(changesOf(again)).toEqual([]);
});

test("destroy removes the branches, their volume copies and snapshots with everything else, and empties the state", async () => {
  const destroy = await s.stack.destroy();
  expect(destroy.summary.result).toBe("succeeded");
  expect(destroy.summary.resourceChanges).toEqual({ delete: 3 + BRANCHES });
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
