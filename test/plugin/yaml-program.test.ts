// The schema-based plugin as users run it: the real `pulumi` CLI, Pulumi YAML's language host,
// the plugin installed from its tarball with `pulumi plugin install` (or named by the project's
// `plugins` stanza), real `vmbranch serve` instances and real guests. A YAML program boots an
// instance, branches it, checkpoints it and loads the checkpoint (preview truthful before and
// after, a second preview without changes, an edit shown property by property and applied in
// place, an output secret because its input was); `pulumi import` adopts an instance created with
// curl, and `getInstance` looks it up; `customTimeouts` fails a create that cannot finish in time;
// a program manages two servers through two explicit providers. Every test has its own project
// and stack and leaves its server as it found it (destroy), so each runs alone; the two servers
// are shared.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { startBackend, type TestBackend } from "../helpers/backend";
import { changes, PLUGIN_FROM_DIST, PLUGIN_TARBALL, PLUGIN_VERSION, yamlProject, type YamlProject } from "./support/yaml-project";

jest.setTimeout(600_000);

const LOOP = '["sh", "-c", "while true; do sleep 1; done"]';
const run = promisify(execFile);

let east: TestBackend;
let west: TestBackend;
let projects: YamlProject[] = [];

beforeAll(async () => {
  [east, west] = await Promise.all([startBackend(), startBackend()]);
});
afterEach(async () => {
  // Whatever a test left (it failed half-way): destroyed, so the next test finds empty servers.
  for (const p of projects) {
    await p.pulumi(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
    p.cleanup();
  }
  projects = [];
});
afterAll(async () => {
  await east?.stop();
  await west?.stop();
});

/** A project of its own, its stack `dev` on `backend` when given (the plugin from dist/plugin unless `tarball`). */
async function project(name: string, body: string, backend?: TestBackend, opts: { tarball?: boolean } = {}): Promise<YamlProject> {
  const p = yamlProject();
  projects.push(p);
  p.write(`name: ${name}\nruntime: yaml\n${opts.tarball ? "" : PLUGIN_FROM_DIST}${body}`);
  await p.pulumi(["stack", "init", "dev"]);
  if (backend) {
    await p.pulumi(["config", "set", "vmbranch:endpoint", backend.url]);
    await p.pulumi(["config", "set", "--secret", "vmbranch:token", backend.token]);
  }
  return p;
}

/** Destroy the project's stack; nothing of it is left on `backend`. */
async function destroyed(p: YamlProject, backend: TestBackend): Promise<void> {
  await p.pulumi(["destroy", "--yes", "--skip-preview"]);
  expect(await p.state()).toEqual([]);
  expect(await backend.client.instances.list()).toEqual([]);
  expect(await backend.client.volumes.list()).toEqual([]);
  expect(backend.vmPids()).toEqual([]);
}

const names = async (b: TestBackend) => (await b.client.instances.list()).map((i) => i.name).sort();

test("the plugin installs from its tarball and reports the package's schema", async () => {
  const p = await project("vmb-schema", "resources: {}\n", undefined, { tarball: true });
  await p.pulumi(["plugin", "install", "resource", "vmbranch", PLUGIN_VERSION, "--file", PLUGIN_TARBALL]);
  expect(await p.pulumi(["plugin", "ls"])).toMatch(new RegExp(`vmbranch\\s+resource\\s+${PLUGIN_VERSION.replace(/\./g, "\\.")}`));
  const schema = JSON.parse(await p.pulumi(["package", "get-schema", "vmbranch"]));
  expect(Object.keys(schema.resources).sort()).toEqual(["vmbranch:index:Checkpoint", "vmbranch:index:GoldenImage", "vmbranch:index:Instance", "vmbranch:index:Volume", "vmbranch:index:VolumeClone", "vmbranch:index:VolumeTemplate"]);
  expect(schema.config.variables.token.secret).toBe(true);
  expect(schema.version).toBe(PLUGIN_VERSION);
});

const BRANCHING = (branchTags = "") => `resources:
  base:
    type: vmbranch:index:Instance
    properties:
      image: base
      args: ${LOOP}
      tags: [yaml]
  branch:
    type: vmbranch:index:Instance
    properties:
      branchFrom: \${base.name}
      annotations:
        note:
          fn::secret: kept-secret
${branchTags}  seeded:
    type: vmbranch:index:Checkpoint
    properties:
      sourceInstance: \${branch.name}
  restored:
    type: vmbranch:index:Instance
    properties:
      checkpoint: \${seeded.name}
outputs:
  baseName: \${base.name}
  branchName: \${branch.name}
  branchedFrom: \${branch.branchedFrom}
  checkpointHasMemory: \${seeded.hasMemory}
  restoredName: \${restored.name}
`;

test("a YAML program boots, branches, checkpoints and loads; no changes on a second preview; an edit is shown property by property and applied in place", async () => {
  const p = await project("vmb-yaml", BRANCHING(), east);
  const first = await p.preview();
  expect(changes(first.steps).sort()).toEqual(["create base", "create branch", "create restored", "create seeded"]);
  expect(await names(east)).toEqual([]);

  await p.pulumi(["up", "--yes", "--skip-preview"]);
  const out = await p.outputs();
  expect(out.baseName).toMatch(/^base-[0-9a-f]{7}$/);
  expect(out.branchName).toMatch(/^branch-[0-9a-f]{7}$/);
  expect(out.branchedFrom).toBe(out.baseName);
  expect(out.checkpointHasMemory).toBe(true);
  const live = await east.client.instances.list();
  expect(live.map((i) => [i.name, i.state]).sort()).toEqual([
    [out.baseName, "running"],
    [out.branchName, "running"],
    [out.restoredName, "running"],
  ]);
  expect((await east.client.instances.get(out.restoredName as string)).from_checkpoint?.name).toMatch(/^seeded-[0-9a-f]{7}$/);

  expect(changes((await p.preview()).steps)).toEqual([]);
  // The annotation was a secret input, so its output is stored encrypted.
  const branch = (await p.state()).find((r) => r.urn.endsWith("::branch"));
  expect(JSON.stringify(branch?.outputs?.annotations)).toContain("4dabf18193072939515e22adb298388d");
  expect(JSON.stringify(branch?.outputs)).not.toContain("kept-secret");

  // The edit: the branch gets tags. Shown as that one property, applied in place (same VMs).
  p.edit(BRANCHING(), BRANCHING("      tags: [edited]\n"));
  const preview = await p.preview();
  const step = preview.steps.find((s) => s.urn.endsWith("::branch"));
  expect(step?.op).toBe("update");
  expect(step?.diffReasons).toEqual(["tags"]);
  expect(step?.detailedDiff).toEqual({ tags: { kind: "add", inputDiff: true } });
  expect(changes(preview.steps)).toEqual(["update branch"]);
  await p.pulumi(["up", "--yes", "--skip-preview"]);
  const after = await east.client.instances.list();
  expect(after.find((i) => i.name === out.branchName)?.tags).toEqual(["edited"]);
  expect(after.map((i) => i.uuid).sort()).toEqual(live.map((i) => i.uuid).sort());
  expect(changes((await p.preview()).steps)).toEqual([]);

  await destroyed(p, east);
});

test("pulumi import adopts an instance created with curl; preview then shows no changes, and getInstance looks it up", async () => {
  const p = await project("vmb-import", "resources: {}\n", east);
  // Made outside Pulumi, as a user would with curl.
  const { stdout } = await run("curl", ["-sS", "-f", "-X", "POST", `${east.url}/v1/instances`, "-H", `Authorization: Bearer ${east.token}`, "-H", "Content-Type: application/json", "-d", JSON.stringify({ name: "outside", image: "base", autostart: false, tags: ["made-by-curl"] })]);
  const outside = JSON.parse(stdout).data.instances[0] as { uuid: string };
  const generated = `${p.dir}/imported.yaml`;
  await p.pulumi(["import", "vmbranch:index:Instance", "adopted", outside.uuid, "--yes", "--protect=false", "--out", generated]);
  const code = readFileSync(generated, "utf8");
  expect(code).toContain("type: vmbranch:Instance");
  expect(code).toContain("name: outside");
  expect((await p.state()).find((r) => r.urn.endsWith("::adopted"))?.id).toBe(outside.uuid);
  // The generated resource goes into the program, as the CLI tells users to do; a lookup beside it.
  const resource = code.slice(code.indexOf("resources:") + "resources:".length).replace(/^\n/, "").replace(/\n+$/, "\n");
  p.edit("resources: {}\n", `resources:\n${resource}variables:
  outsideInfo:
    fn::invoke:
      function: vmbranch:index:getInstance
      arguments:
        name: outside
outputs:
  outsideImage: \${outsideInfo.image}
  outsideTags: \${outsideInfo.tags}
`);
  expect(changes((await p.preview()).steps)).toEqual([]);
  await p.pulumi(["up", "--yes", "--skip-preview"]);
  const out = await p.outputs();
  expect([out.outsideImage, out.outsideTags]).toEqual(["base", ["made-by-curl"]]);
  const adopted = await east.client.instances.get(outside.uuid);
  expect([adopted.state, adopted.start_count]).toEqual(["stopped", 0]);
  // Destroying the stack deletes what it now manages.
  await destroyed(p, east);
});

test("customTimeouts fails a create that cannot finish in time, and keeps the instance to finish later", async () => {
  const p = await project("vmb-timeouts", `resources:
  slow:
    type: vmbranch:index:Instance
    properties:
      image: base
      args: ${LOOP}
      ports: [{ guestPort: 8080 }]
      readiness: { guestPort: 8080, path: / }
    options:
      customTimeouts:
        create: 15s
`, east);
  await expect(p.pulumi(["up", "--yes", "--skip-preview"])).rejects.toThrow(/instance 'slow-[0-9a-f]{7}' was created but did not become running within 15s/);
  const kept = (await p.state()).find((r) => r.urn.endsWith("::slow"));
  expect(kept?.id).toMatch(/^[0-9a-f-]{36}$/);
  expect((await east.client.instances.list()).map((i) => i.uuid)).toEqual([kept?.id]);
  await destroyed(p, east);
});

test("two explicit providers manage two servers from one program", async () => {
  const p = await project("vmb-two", `resources:
  east:
    type: pulumi:providers:vmbranch
    properties:
      endpoint: ${east.url}
      token:
        fn::secret: ${east.token}
  west:
    type: pulumi:providers:vmbranch
    properties:
      endpoint: ${west.url}
      token:
        fn::secret: ${west.token}
  eastData:
    type: vmbranch:index:Volume
    properties: { name: two-east, sizeMb: 16 }
    options:
      provider: \${east}
  westData:
    type: vmbranch:index:Volume
    properties: { name: two-west, sizeMb: 16 }
    options:
      provider: \${west}
`);
  await p.pulumi(["up", "--yes", "--skip-preview"]);
  expect((await east.client.volumes.list()).map((v) => v.name)).toEqual(["two-east"]);
  expect((await west.client.volumes.list()).map((v) => v.name)).toEqual(["two-west"]);
  expect(changes((await p.preview()).steps)).toEqual([]);
  // The provider's token input is secret in the state.
  const provider = (await p.state()).find((r) => r.urn.endsWith("::west"));
  expect(JSON.stringify(provider?.inputs)).not.toContain(west.token);
  await p.pulumi(["destroy", "--yes", "--skip-preview"]);
  expect(await east.client.volumes.list()).toEqual([]);
  expect(await west.client.volumes.list()).toEqual([]);
});
