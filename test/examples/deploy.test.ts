// The Pulumi examples deployed as projects, as a user deploys them: each example's directory
// copied outside the repository onto the packages installed from `npm pack` (test/helpers/
// user-install.ts), then `pulumi stack init`, the connection as stack config (token secret),
// `pulumi up` with the real CLI and Node.js language host, against a real `vmbranch serve` with
// real guests. Each does what its header says; a second preview reports no changes; the
// golden image is re-baked by changing its message (one replace chain in the preview, the new
// site in new clones); destroy leaves nothing behind.
import { startBackend, type TestBackend } from "../helpers/backend";
import { releaseUserInstall, userInstall, type UserInstall, type UserProject } from "../helpers/user-install";
import { previewJson, runJson } from "../projects/support/project-cli";
import { deployable as deploy, destroyAndCheckEmpty as destroyed, get } from "./support/deploy";

jest.setTimeout(600_000);

let install: UserInstall;
let backend: TestBackend;
beforeAll(async () => {
  install = await userInstall();
  backend = await startBackend();
});
afterAll(async () => {
  await backend?.stop();
  releaseUserInstall();
});

const deployable = (example: string, config: Record<string, string> = {}): Promise<UserProject> => deploy(install, backend, example, config);
const destroyAndCheckEmpty = (project: UserProject): Promise<void> => destroyed(backend, project);

test("volume-workflow: the log survives a new server instance on the same volume", async () => {
  const project = await deployable("volume-workflow", { generation: "1" });
  const up = await runJson(project, ["up", "--yes"]);
  expect(up.changes).toEqual({ create: 3 });
  const first = await project.outputs();
  await get(first.url as string);
  await get(first.url as string);
  const before = (await get(first.url as string)).trim().split("\n");
  expect(before).toHaveLength(3);
  await project.pulumi(["preview", "--expect-no-changes"]);

  await project.pulumi(["config", "set", "generation", "2"]);
  const second = await runJson(project, ["up", "--yes", "--skip-preview"]);
  expect(second.changes).toEqual({ same: 2, replace: 1 });
  // The volume is mounted read-write: the old server goes before the new one comes.
  expect(second.steps).toEqual(["delete-replaced web", "replace web", "create-replacement web"]);
  const next = await project.outputs();
  expect(next.instance).not.toBe(first.instance);
  const after = (await get(next.url as string)).trim().split("\n");
  expect(after.slice(0, 3)).toEqual(before);
  expect(after).toHaveLength(4);
  await destroyAndCheckEmpty(project);
});

test("golden-image: servers start from the baked site; a new message re-bakes it in one replace chain", async () => {
  const project = await deployable("golden-image", { message: "golden hello" });
  const up = await runJson(project, ["up", "--yes"]);
  // Stack, component, job, template, 3 clones, 3 servers.
  expect(up.changes).toEqual({ create: 10 });
  const out = await project.outputs();
  expect(out.preparationExitCode).toBe(0);
  const urls = out.urls as string[];
  expect(urls).toHaveLength(3);
  const first = await get(urls[0]!);
  expect(first).toContain("golden hello");
  expect(first).toContain("hits on this copy: 1");
  expect(await get(urls[0]!)).toContain("hits on this copy: 2");
  expect(await get(urls[1]!)).toContain("hits on this copy: 1");
  expect(await get(urls[2]!)).toContain("golden hello");
  // The job's volume stays a volume (the template is a copy of it).
  expect((await backend.client.volumes.get(out.goldenVolume as string)).state).not.toBe("template");
  await project.pulumi(["preview", "--expect-no-changes"]);

  // A new message is a new job env: everything baked from it is replaced, nothing else.
  await project.pulumi(["config", "set", "message", "golden hello again"]);
  const preview = await previewJson(project);
  const replaced = preview.steps.filter((s) => s.startsWith("replace ")).map((s) => s.slice("replace ".length)).sort();
  expect(replaced).toEqual(["site-0", "site-1", "site-2", "site-clone-0", "site-clone-1", "site-clone-2", "site-prepare", "site-template"]);
  expect(preview.changes).toEqual({ same: 2, replace: 8 });
  const rebake = await runJson(project, ["up", "--yes", "--skip-preview"]);
  expect(rebake.changes).toEqual({ same: 2, replace: 8 });
  const next = await project.outputs();
  expect(next.template).not.toBe(out.template);
  for (const url of next.urls as string[]) {
    const page = await get(url);
    expect(page).toContain("golden hello again");
    // New clones of the new template: the old copies' hits are not in them.
    expect(page).toContain("hits on this copy: 1");
  }
  // Only the new bake is left: one job, one template, three clones.
  expect((await backend.client.volumes.templates.list()).map((t) => t.name)).toEqual([next.template]);
  expect((await backend.client.instances.list()).map((i) => i.name).sort()).toEqual([next.preparedBy, ...(next.sites as { instance: string }[]).map((s) => s.instance)].sort());
  await project.pulumi(["preview", "--expect-no-changes"]);
  await destroyAndCheckEmpty(project);
});

test("branch-database: branches start with the running database's data and memory, then diverge", async () => {
  const project = await deployable("branch-database", { branches: "2" });
  const up = await runJson(project, ["up", "--yes"]);
  expect(up.changes).toEqual({ create: 5 });
  const out = await project.outputs();
  const dbUrl = out.dbUrl as string;
  const branches = out.branches as { name: string; url: string; branchedFrom: string; sourcePauseMs: number; branchPhase: string }[];
  expect(branches).toHaveLength(2);
  for (const b of branches) {
    expect(b).toMatchObject({ branchedFrom: out.db, branchPhase: "Succeeded", sourcePauseMs: expect.any(Number) });
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
  await project.pulumi(["preview", "--expect-no-changes"]);
  await destroyAndCheckEmpty(project);
});
