// The plugin from TypeScript, with the packages as users install them (test/helpers/user-install.ts):
// `npm install vmbranch` puts `pulumi-resource-vmbranch` on PATH (node_modules/.bin), where the
// CLI finds it with no `pulumi plugin install` and no `plugins` stanza; the Node.js SDK generated
// from the plugin's schema by `pulumi package gen-sdk`. A program with two explicit providers
// manages two `vmbranch serve` instances, one of them also through a GoldenImage (the plugin's
// Construct, run by the plugin of the npm package on the @pulumi/pulumi beside it), reading the
// job through the resource reference it outputs (up, no changes on a second preview, destroy). And a
// stack created with the dynamic resources (`vmbranch`) moves to the native resources without
// replacing its VMs: `pulumi state delete` of the dynamic resources, then the same program on the
// SDK with the `import` resource option; same uuids, nothing restarted, no changes afterwards.
import path from "node:path";
import { startBackend, type TestBackend } from "../helpers/backend";
import { releaseUserInstall, userInstall, userProject, type UserInstall, type UserProject } from "../helpers/user-install";
import { installNodeSdk, NODE_SDK_PACKAGE, typescriptProject } from "./support/node-sdk";
import { changes, type PreviewStep } from "./support/yaml-project";

jest.setTimeout(900_000);

let install: UserInstall;
let east: TestBackend;
let west: TestBackend;
/** PATH of a user who put the project's node_modules/.bin on PATH (as `npx` and npm scripts do). */
let userPath: string;
let projects: UserProject[] = [];

beforeAll(async () => {
  [install, east, west] = await Promise.all([userInstall(), startBackend(), startBackend()]);
  userPath = [path.join(install.modules, ".bin"), install.path].join(path.delimiter);
  await installNodeSdk(install, { ...process.env, PATH: install.path });
});
afterEach(async () => {
  for (const p of projects) await p.pulumi(["destroy", "--yes", "--skip-preview"], { env: { PATH: userPath } }).catch(() => undefined);
  projects = [];
});
afterAll(async () => {
  await east?.stop();
  await west?.stop();
  releaseUserInstall();
});

async function preview(p: UserProject): Promise<PreviewStep[]> {
  return (JSON.parse(await p.pulumi(["preview", "--json"], { env: { PATH: userPath } })) as { steps: PreviewStep[] }).steps;
}

const TWO_SERVERS = `import * as pulumi from "@pulumi/pulumi";
import * as vmbranch from "${NODE_SDK_PACKAGE}";

const config = new pulumi.Config();
const east = new vmbranch.Provider("east", { endpoint: config.require("eastEndpoint"), token: config.requireSecret("eastToken") });
const west = new vmbranch.Provider("west", { endpoint: config.require("westEndpoint"), token: config.requireSecret("westToken") });

const data = new vmbranch.Volume("data", { sizeMb: 16, tags: ["east"] }, { provider: east });
const web = new vmbranch.Instance("web", {
  image: "base",
  args: ["sh", "-c", "while true; do sleep 1; done"],
  volumes: [{ volume: data.name, at: "/data" }],
}, { provider: east });
const worker = new vmbranch.Instance("worker", { image: "base", args: ["sh", "-c", "while true; do sleep 1; done"], tags: ["west"] }, { provider: west });
const site = new vmbranch.GoldenImage("site", { sizeMb: 16, prepare: { args: ["sh", "-c", "echo node > /data/hello; sync"] }, clones: 1, tags: ["west"] }, { provider: west });

export const templateName = site.templateName;
export const cloneNames = site.cloneNames;
export const jobName = site.job.apply((job) => job.name);
export const jobExitCode = site.job.apply((job) => job.exitCode);
export const volume = data.name;
export const webName = web.name;
export const workerName = worker.name;
`;

test("a TypeScript program on the generated Node.js SDK manages two servers through two explicit providers, one also through a GoldenImage, the plugin found on PATH from the npm package", async () => {
  const p = userProject(install, "two-servers", typescriptProject("two-servers", TWO_SERVERS, install.pulumiVersion));
  projects.push(p);
  const env = { PATH: userPath };
  // Nothing installed in PULUMI_HOME and no `plugins` stanza: the engine runs the one on PATH.
  expect(await p.pulumi(["plugin", "ls"], { env })).not.toMatch(/vmbranch/);
  await p.pulumi(["stack", "init", "dev"], { env });
  await p.pulumi(["config", "set", "eastEndpoint", east.url], { env });
  await p.pulumi(["config", "set", "--secret", "eastToken", east.token], { env });
  await p.pulumi(["config", "set", "westEndpoint", west.url], { env });
  await p.pulumi(["config", "set", "--secret", "westToken", west.token], { env });

  await p.pulumi(["up", "--yes", "--skip-preview"], { env });
  const out = await p.outputs();
  expect((await east.client.instances.list()).map((i) => [i.name, i.state])).toEqual([[out.webName, "running"]]);
  expect((await east.client.volumes.list()).map((v) => v.name)).toEqual([out.volume]);
  expect((await west.client.instances.list()).map((i) => [i.name, i.state, i.tags]).sort()).toEqual(
    [
      [out.workerName, "running", ["west"]],
      [out.jobName, "stopped", ["west"]],
    ].sort(),
  );
  expect(out.jobExitCode).toBe(0);
  expect((await west.client.volumes.templates.list()).map((t) => t.name)).toEqual([out.templateName]);
  expect((await west.client.volumes.list()).map((v) => v.name)).toEqual(expect.arrayContaining(out.cloneNames as string[]));
  expect(changes(await preview(p))).toEqual([]);
  expect(await p.pulumi(["plugin", "ls"], { env })).not.toMatch(/vmbranch/);

  await p.pulumi(["destroy", "--yes", "--skip-preview"], { env });
  for (const b of [east, west]) {
    expect(await b.client.instances.list()).toEqual([]);
    expect(await b.client.volumes.list()).toEqual([]);
    expect(await b.client.volumes.templates.list()).toEqual([]);
    expect(b.vmPids()).toEqual([]);
  }
});

const ARGS = '["sh", "-c", "echo kept > /data/mark; sync; while true; do sleep 1; done"]';

/** The program with the dynamic resources of the `vmbranch` package. */
const DYNAMIC = `import * as vmbranch from "vmbranch";

const data = new vmbranch.Volume("data", { sizeMb: 16 });
const db = new vmbranch.Instance("db", { image: "base", args: ${ARGS}, volumes: [{ volume: data.name, at: "/data" }], tags: ["db"] });

export const volumeName = data.name;
export const volumeUuid = data.uuid;
export const dbName = db.name;
export const dbUuid = db.uuid;
`;

/** The same program on the native resources, adopting the same objects by uuid (the names are now fixed). */
const NATIVE = (o: Record<string, string>) => `import * as vmbranch from "${NODE_SDK_PACKAGE}";

const data = new vmbranch.Volume("data", { name: "${o.volumeName}", sizeMb: 16 }, { import: "${o.volumeUuid}" });
const db = new vmbranch.Instance("db", { name: "${o.dbName}", image: "base", args: ${ARGS}, volumes: [{ volume: data.name, at: "/data" }], tags: ["db"] }, { import: "${o.dbUuid}" });

export const volumeName = data.name;
export const volumeUuid = data.uuid;
export const dbName = db.name;
export const dbUuid = db.uuid;
`;

test("a stack of dynamic resources moves to the native resources without replacing its VMs", async () => {
  const p = userProject(install, "move-to-native", typescriptProject("move-to-native", DYNAMIC, install.pulumiVersion));
  projects.push(p);
  const env = { PATH: userPath };
  await p.pulumi(["stack", "init", "dev"], { env });
  await p.pulumi(["config", "set", "vmbranch:endpoint", east.url], { env });
  await p.pulumi(["config", "set", "--secret", "vmbranch:token", east.token], { env });
  await p.pulumi(["up", "--yes", "--skip-preview"], { env });
  const before = (await p.outputs()) as Record<string, string>;
  const instanceBefore = await east.client.instances.get(before.dbUuid!);
  expect(instanceBefore.state).toBe("running");

  // 1. Forget the dynamic resources (the VMs stay), dependents first.
  const dynamic = (await p.exportStack()).deployment.resources?.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/vmbranch:")) ?? [];
  expect(dynamic.map((r) => r.type).sort()).toEqual(["pulumi-nodejs:dynamic/vmbranch:Instance", "pulumi-nodejs:dynamic/vmbranch:Volume"]);
  for (const type of ["Instance", "Volume"]) await p.pulumi(["state", "delete", dynamic.find((r) => r.type.endsWith(`:${type}`))!.urn, "--yes"], { env });
  // 2. The same program on the native resources, each adopting its object by uuid.
  p.write("index.ts", NATIVE(before));
  const steps = await preview(p);
  expect(changes(steps).sort()).toEqual(["import data", "import db"]);
  await p.pulumi(["up", "--yes", "--skip-preview"], { env });

  const after = (await p.outputs()) as Record<string, string>;
  expect(after).toEqual(before);
  const state = (await p.exportStack()).deployment.resources ?? [];
  expect(state.filter((r) => r.type.startsWith("vmbranch:index:")).map((r) => [r.type, r.id]).sort()).toEqual([
    ["vmbranch:index:Instance", before.dbUuid],
    ["vmbranch:index:Volume", before.volumeUuid],
  ]);
  expect(state.filter((r) => r.type.startsWith("pulumi-nodejs:"))).toEqual([]);
  // The same VM, never restarted.
  const instanceAfter = await east.client.instances.get(before.dbUuid!);
  expect([instanceAfter.state, instanceAfter.started_at, instanceAfter.start_count]).toEqual(["running", instanceBefore.started_at, instanceBefore.start_count]);
  expect(changes(await preview(p))).toEqual([]);

  await p.pulumi(["destroy", "--yes", "--skip-preview"], { env });
  expect(await east.client.instances.list()).toEqual([]);
  expect(await east.client.volumes.list()).toEqual([]);
});
