// State written by vmbranch 0.1.0 keeps working with this package. The fixture is a real 0.1.0
// stack export (fixtures/upgrade-0.1.0/state.json, written by `pulumi up` of its index.ts with
// vmbranch 0.1.0 and @pulumi/pulumi 3.259.0; only the recorded endpoint and token are placeholders):
// each resource carries the provider code 0.1.0 serialized into the state, which loads
// `require("vmbranch/provider/impl/<resource>")` and calls configure, check, diff, create, read,
// update and remove on it. Re-homed onto a fresh server (the same objects made again under the
// same names, their uuids mapped), it is refreshed, previewed with no changes, edited and
// destroyed by this package, in a project outside the repository with the real CLI.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startBackend, type TestBackend } from "../helpers/backend";
import { releaseUserInstall, serverInstall, userInstall, userProject, type StateResource, type UserInstall } from "../helpers/user-install";
import { runJson } from "./support/project-cli";

jest.setTimeout(600_000);

const FIXTURE = path.join(__dirname, "fixtures", "upgrade-0.1.0");

let install: UserInstall;
let backend: TestBackend;
beforeAll(async () => {
  install = await userInstall();
  backend = await startBackend({ command: [path.join(await serverInstall(install), "vmbranch")] });
});
afterAll(async () => {
  await backend?.stop();
  releaseUserInstall();
});

const ours = (r: StateResource) => r.type.startsWith("pulumi-nodejs:dynamic/vmbranch:");
const logical = (r: StateResource) => r.urn.split("::").pop() ?? "";

/** The fixture's state with its objects made again on `backend`: same names, new uuids, this server's connection. */
async function rehome(): Promise<{ text: string; providers: Record<string, string> }> {
  const text = readFileSync(path.join(FIXTURE, "state.json"), "utf8");
  const state = JSON.parse(text) as { deployment: { resources: StateResource[] } };
  const byName = Object.fromEntries(state.deployment.resources.filter(ours).map((r) => [logical(r), r]));
  const out = (n: string) => byName[n]!.outputs as Record<string, string>;
  const c = backend.client;
  const data = await c.volumes.create({ name: out("data").name, size_mb: 8, tags: ["fixture"] });
  const golden = await c.volumes.templates.create({ name: data.name, mode: "copy", template_name: out("golden").name });
  const cloned = await c.volumes.clone({ name: golden.name, vol_name: out("clone").name });
  const clone = await c.volumes.waitFor(cloned.uuid!, "available");
  const vm = await c.instances.create({ name: out("vm").name, image: "base", autostart: false, volumes: [{ name: clone.name, at: "/data" }], tags: ["fixture"] });
  let rehomed = text.replaceAll('"@@ENDPOINT@@"', JSON.stringify(backend.url)).replaceAll('"@@TOKEN@@"', JSON.stringify(JSON.stringify(backend.token)));
  for (const [n, uuid] of [["data", data.uuid], ["golden", golden.uuid], ["clone", clone.uuid], ["vm", vm.uuid]] as const) rehomed = rehomed.split(byName[n]!.id!).join(uuid);
  const providers = Object.fromEntries(state.deployment.resources.filter(ours).map((r) => [logical(r), r.outputs!.__provider as string]));
  return { text: rehomed, providers };
}

test("0.1.0's state is refreshed, previewed, edited and destroyed by this package", async () => {
  const { text, providers } = await rehome();
  const project = userProject(install, "upgrade-fixture", { "Pulumi.yaml": readFileSync(path.join(FIXTURE, "Pulumi.yaml"), "utf8"), "index.ts": readFileSync(path.join(FIXTURE, "index.ts"), "utf8") });
  writeFileSync(path.join(project.dir, "state-0.1.0.json"), text);
  await project.pulumi(["stack", "init", "dev"]);
  await project.pulumi(["config", "set", "vmbranch:endpoint", backend.url]);
  await project.pulumi(["config", "set", "--secret", "vmbranch:token", backend.token]);
  await project.pulumi(["stack", "import", "--file", "state-0.1.0.json"]);

  // What 0.1.0 stored: its own provider code, loading the implementation by these paths.
  const imported = (await project.exportStack()).deployment.resources!.filter(ours);
  expect(imported.map(logical).sort()).toEqual(["clone", "data", "golden", "vm"]);
  const paths = { data: "volume", golden: "volume-template", clone: "volume-clone", vm: "instance" } as Record<string, string>;
  for (const r of imported) {
    expect(r.outputs!.__provider).toBe(providers[logical(r)]);
    expect(r.outputs!.__provider).toContain(`require("vmbranch/provider/impl/${paths[logical(r)]}")`);
    expect(r.outputs).not.toHaveProperty("managedInputs");
  }

  // Refresh runs 0.1.0's stored code (read) against this package.
  const refresh = await runJson(project, ["refresh", "--yes", "--skip-preview"]);
  expect(refresh.changes).not.toHaveProperty("delete");
  // The program 0.1.0 deployed reports no changes with this package.
  await project.pulumi(["preview", "--expect-no-changes"]);

  // An edit: the updated resource stores the provider code of this package (it loads the same
  // path); the others keep what 0.1.0 stored, which destroy then runs.
  writeFileSync(path.join(project.dir, "index.ts"), readFileSync(path.join(project.dir, "index.ts"), "utf8").replace('tags: ["fixture"] });\nexport', 'tags: ["fixture", "upgraded"] });\nexport'));
  const up = await runJson(project, ["up", "--yes", "--skip-preview"]);
  expect(up.steps).toEqual(["update vm"]);
  const names = (await project.outputs()).names as Record<string, string>;
  expect((await backend.client.instances.get(names.vm!)).tags.sort()).toEqual(["fixture", "upgraded"]);
  const after = Object.fromEntries((await project.exportStack()).deployment.resources!.filter(ours).map((r) => [logical(r), r.outputs!.__provider as string]));
  expect(after.vm).toContain('require("vmbranch/provider/impl/instance")');
  for (const n of ["data", "golden", "clone"]) expect(after[n]).toBe(providers[n]);

  // Destroy deletes through the stored code (its `delete` calls this package's `remove`).
  const destroy = await runJson(project, ["destroy", "--yes", "--skip-preview"]);
  expect(destroy.steps.sort()).toEqual(["delete clone", "delete data", "delete golden", "delete vm"]);
  expect(await backend.client.instances.list()).toEqual([]);
  expect(await backend.client.volumes.list()).toEqual([]);
  expect(await backend.client.volumes.templates.list()).toEqual([]);
});
