// The Pulumi examples deployed with the real engine (Automation API, each example's `program()`
// as an inline program) against a real `vmbranch serve` with real guests: each does what its
// header says, a second preview reports no changes, and destroy leaves nothing behind.
import * as branchDatabase from "../../examples/branch-database/program";
import * as goldenImage from "../../examples/golden-image/program";
import * as volumeWorkflow from "../../examples/volume-workflow/program";
import { startBackend, type TestBackend } from "../helpers/backend";
import { createInlineStack, type InlineStack } from "../helpers/pulumi";
import { ensurePackageLink } from "../provider/support/package-link";

jest.setTimeout(600_000);

let backend: TestBackend;
const stacks: InlineStack[] = [];
beforeAll(async () => {
  ensurePackageLink();
  backend = await startBackend();
});
afterAll(async () => {
  for (const s of stacks) await s.cleanup({ destroy: true }).catch(() => undefined);
  await backend?.stop();
});

async function stackFor(projectName: string, program: () => Promise<Record<string, unknown>>): Promise<InlineStack> {
  const s = await createInlineStack({
    projectName,
    program,
    config: { "vmbranch:endpoint": { value: backend.url }, "vmbranch:token": { value: backend.token, secret: true } },
  });
  stacks.push(s);
  return s;
}

const get = async (url: string) => (await fetch(url)).text();

async function destroyAndCheckEmpty(s: InlineStack): Promise<void> {
  expect((await s.stack.destroy()).summary.result).toBe("succeeded");
  expect(await backend.client.instances.list()).toEqual([]);
  expect(await backend.client.volumes.list()).toEqual([]);
  expect(await backend.client.volumes.templates.list()).toEqual([]);
}

test("volume-workflow: the log survives a new server instance on the same volume", async () => {
  let generation = 1;
  const s = await stackFor("vmbranch-volume-workflow", async () => volumeWorkflow.program({ generation }));
  const up = await s.stack.up();
  expect(up.summary.resourceChanges).toEqual({ create: 3 });
  const first = up.outputs.url?.value as string;
  await get(first);
  await get(first);
  const before = (await get(first)).trim().split("\n");
  expect(before).toHaveLength(3);
  expect((await s.stack.preview()).changeSummary).toEqual({ same: 3 });

  generation = 2;
  const events: string[] = [];
  const second = await s.stack.up({ onEvent: (e) => e.resourcePreEvent && events.push(`${e.resourcePreEvent.metadata.op} ${e.resourcePreEvent.metadata.urn.split("::").pop()}`) });
  expect(second.summary.resourceChanges).toEqual({ same: 2, replace: 1 });
  // The volume is mounted read-write: the old server goes before the new one comes.
  expect(events.filter((e) => e.endsWith(" web"))).toEqual(["delete-replaced web", "replace web", "create-replacement web"]);
  expect(second.outputs.instance?.value).not.toBe(up.outputs.instance?.value);
  const after = (await get(second.outputs.url?.value as string)).trim().split("\n");
  expect(after.slice(0, 3)).toEqual(before);
  expect(after).toHaveLength(4);
  await destroyAndCheckEmpty(s);
});

test("golden-image: three servers start from the frozen site and count their own hits", async () => {
  const s = await stackFor("vmbranch-golden-image", async () => goldenImage.program({ message: "golden hello" }));
  const up = await s.stack.up();
  // Stack, volume, preparation, template, 3 clones, 3 servers.
  expect(up.summary.resourceChanges).toEqual({ create: 10 });
  expect(up.outputs.preparationExitCode?.value).toBe(0);
  const urls = up.outputs.urls?.value as string[];
  expect(urls).toHaveLength(3);
  const first = await get(urls[0]!);
  expect(first).toContain("golden hello");
  expect(first).toContain("hits on this copy: 1");
  expect(await get(urls[0]!)).toContain("hits on this copy: 2");
  expect(await get(urls[1]!)).toContain("hits on this copy: 1");
  expect(await get(urls[2]!)).toContain("golden hello");
  // The golden volume stays a volume (the template is a copy), prepared and untouched.
  const golden = await backend.client.volumes.get(up.outputs.goldenVolume?.value as string);
  expect(golden.state).not.toBe("template");
  expect((await s.stack.preview()).changeSummary).toEqual({ same: 10 });
  await destroyAndCheckEmpty(s);
});

test("branch-database: branches start with the running database's data and memory, then diverge", async () => {
  const s = await stackFor("vmbranch-branch-database", async () => branchDatabase.program({ branches: 2 }));
  const up = await s.stack.up();
  expect(up.summary.resourceChanges).toEqual({ create: 5 });
  const dbUrl = up.outputs.dbUrl?.value as string;
  const branches = up.outputs.branches?.value as { name: string; url: string; branchedFrom: string; sourcePauseMs: number; branchPhase: string }[];
  expect(branches).toHaveLength(2);
  for (const b of branches) {
    expect(b).toMatchObject({ branchedFrom: up.outputs.db?.value, branchPhase: "Succeeded", sourcePauseMs: expect.any(Number) });
    expect((await get(`${b.url}?get=greeting`)).trim()).toBe("hello");
    // The in-memory counter came along: it did not start again from zero.
    expect(Number((await get(`${b.url}?ticks`)).trim())).toBeGreaterThan(0);
  }
  await get(`${branches[0]!.url}?set=color=red`);
  await get(`${branches[1]!.url}?set=color=blue`);
  await get(`${dbUrl}?set=color=green`);
  expect((await get(`${branches[0]!.url}?get=color`)).trim()).toBe("red");
  expect((await get(`${branches[1]!.url}?get=color`)).trim()).toBe("blue");
  expect((await get(`${dbUrl}?get=color`)).trim()).toBe("green");
  expect((await s.stack.preview()).changeSummary).toEqual({ same: 5 });
  await destroyAndCheckEmpty(s);
});
