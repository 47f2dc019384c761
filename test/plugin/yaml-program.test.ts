// The schema-based plugin as users run it: the real `pulumi` CLI, Pulumi YAML's language host, the
// plugin installed from its tarball with `pulumi plugin install`, real `vmbranch serve` instances
// and real guests. One YAML program boots an instance and branches it (preview truthful before
// and after, a second preview without changes, an edit shown property by property and applied in
// place, an output secret because its input was); `pulumi import` adopts an instance created
// through the API, and `getInstance` looks it up; `customTimeouts` bounds a create; a second program manages two servers through
// two explicit providers; destroy leaves nothing on either server. Guests are booted once and
// shared by the tests, which run in order.
import { readFileSync } from "node:fs";
import { startBackend, type TestBackend } from "../helpers/backend";
import { changes, PLUGIN_DIR, PLUGIN_TARBALL, PLUGIN_VERSION, yamlProject, type YamlProject } from "./support/yaml-project";

jest.setTimeout(600_000);

const LOOP = '["sh", "-c", "while true; do sleep 1; done"]';

let east: TestBackend;
let west: TestBackend;
let main: YamlProject;
let two: YamlProject;

beforeAll(async () => {
  east = await startBackend();
  west = await startBackend();
  main = yamlProject();
  two = yamlProject();
});
afterAll(async () => {
  for (const p of [main, two]) {
    if (!p) continue;
    await p.pulumi(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
    p.cleanup();
  }
  await east?.stop();
  await west?.stop();
});

const program = (extra = "", branchTags = "") => `name: vmb-yaml
runtime: yaml
resources:
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
${branchTags}${extra}outputs:
  baseName: \${base.name}
  branchName: \${branch.name}
  branchedFrom: \${branch.branchedFrom}
`;

const names = async (b: TestBackend) => (await b.client.instances.list()).map((i) => i.name).sort();

test("the plugin installs from its tarball and reports the package's schema", async () => {
  await main.pulumi(["plugin", "install", "resource", "vmbranch", PLUGIN_VERSION, "--file", PLUGIN_TARBALL]);
  expect(await main.pulumi(["plugin", "ls"])).toMatch(new RegExp(`vmbranch\\s+resource\\s+${PLUGIN_VERSION.replace(/\./g, "\\.")}`));
  const schema = JSON.parse(await main.pulumi(["package", "get-schema", "vmbranch"]));
  expect(Object.keys(schema.resources).sort()).toEqual(["vmbranch:index:Checkpoint", "vmbranch:index:Instance", "vmbranch:index:Volume", "vmbranch:index:VolumeClone", "vmbranch:index:VolumeTemplate"]);
  expect(schema.config.variables.token.secret).toBe(true);
});

test("a YAML program boots an instance and branches it; a second preview shows no changes", async () => {
  main.write(program());
  await main.pulumi(["stack", "init", "dev"]);
  await main.pulumi(["config", "set", "vmbranch:endpoint", east.url]);
  await main.pulumi(["config", "set", "--secret", "vmbranch:token", east.token]);
  const first = await main.preview();
  expect(changes(first.steps).sort()).toEqual(["create base", "create branch"]);
  expect(await names(east)).toEqual([]);

  await main.pulumi(["up", "--yes", "--skip-preview"]);
  const out = await main.outputs();
  expect(out.baseName).toMatch(/^base-[0-9a-f]{7}$/);
  expect(out.branchName).toMatch(/^branch-[0-9a-f]{7}$/);
  expect(out.branchedFrom).toBe(out.baseName);
  const live = await east.client.instances.list();
  expect(live.map((i) => [i.name, i.state]).sort()).toEqual([
    [out.baseName, "running"],
    [out.branchName, "running"],
  ]);

  const again = await main.preview();
  expect(changes(again.steps)).toEqual([]);
  // The annotation was a secret input, so its output is stored encrypted.
  const branch = (await main.state()).find((r) => r.urn.endsWith("::branch"));
  expect(JSON.stringify(branch?.outputs?.annotations)).toContain("4dabf18193072939515e22adb298388d");
  expect(JSON.stringify(branch?.outputs)).not.toContain("kept-secret");
});

test("an edit is shown property by property and applied in place", async () => {
  const before = await east.client.instances.list();
  main.write(program("", "      tags: [edited]\n"));
  const preview = await main.preview();
  const step = preview.steps.find((s) => s.urn.endsWith("::branch"));
  expect(step?.op).toBe("update");
  expect(step?.diffReasons).toEqual(["tags"]);
  expect(step?.detailedDiff).toEqual({ tags: { kind: "add", inputDiff: true } });
  expect(changes(preview.steps)).toEqual(["update branch"]);

  await main.pulumi(["up", "--yes", "--skip-preview"]);
  const after = await east.client.instances.list();
  const branchName = (await main.outputs()).branchName as string;
  expect(after.find((i) => i.name === branchName)?.tags).toEqual(["edited"]);
  expect(after.map((i) => i.uuid).sort()).toEqual(before.map((i) => i.uuid).sort());
  expect(changes((await main.preview()).steps)).toEqual([]);
});

test("pulumi import adopts an instance created through the API; preview then shows no changes", async () => {
  const outside = await east.client.instances.create({ name: "outside", image: "base", autostart: false });
  const generated = `${main.dir}/imported.yaml`;
  await main.pulumi(["import", "vmbranch:index:Instance", "adopted", outside.uuid, "--yes", "--protect=false", "--out", generated]);
  const code = readFileSync(generated, "utf8");
  expect(code).toContain("type: vmbranch:Instance");
  expect(code).toContain("name: outside");
  // The generated resource goes into the program, as the CLI tells users to do.
  const resource = code.slice(code.indexOf("resources:") + "resources:".length).replace(/\n+$/, "\n");
  const current = readFileSync(`${main.dir}/Pulumi.yaml`, "utf8");
  main.write(current.replace("outputs:\n", `${resource.replace(/^\n/, "")}outputs:\n`));
  const state = await main.state();
  expect(state.find((r) => r.urn.endsWith("::adopted"))?.id).toBe(outside.uuid);
  expect(changes((await main.preview()).steps)).toEqual([]);
  expect((await east.client.instances.get(outside.uuid)).state).toBe("stopped");
});

test("a function looks up an instance by name through the stack's provider", async () => {
  const current = readFileSync(`${main.dir}/Pulumi.yaml`, "utf8");
  main.write(`${current}  outsideImage: \${outsideInfo.image}
  outsideState: \${outsideInfo.state}
variables:
  outsideInfo:
    fn::invoke:
      function: vmbranch:index:getInstance
      arguments:
        name: outside
`);
  await main.pulumi(["up", "--yes", "--skip-preview"]);
  const out = await main.outputs();
  expect([out.outsideImage, out.outsideState]).toEqual(["base", "stopped"]);
});

test("customTimeouts bounds a create: the up fails with the deadline and keeps the instance to finish later", async () => {
  const current = readFileSync(`${main.dir}/Pulumi.yaml`, "utf8");
  const slow = `  slow:
    type: vmbranch:index:Instance
    properties:
      image: base
      args: ${LOOP}
      ports: [{ guestPort: 8080 }]
      readiness: { guestPort: 8080, path: / }
    options:
      customTimeouts:
        create: 15s
`;
  main.write(current.replace("outputs:\n", `${slow}outputs:\n`));
  await expect(main.pulumi(["up", "--yes", "--skip-preview"])).rejects.toThrow(/instance 'slow-[0-9a-f]{7}' was created but did not become running within 15s/);
  const kept = (await main.state()).find((r) => r.urn.endsWith("::slow"));
  expect(kept?.id).toMatch(/^[0-9a-f-]{36}$/);
  expect((await east.client.instances.list()).map((i) => i.uuid)).toContain(kept?.id);
});

test("two explicit providers manage two servers from one program", async () => {
  two.write(`name: vmb-two
runtime: yaml
plugins:
  providers:
    - name: vmbranch
      path: ${PLUGIN_DIR}
resources:
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
  await two.pulumi(["stack", "init", "dev"]);
  await two.pulumi(["up", "--yes", "--skip-preview"]);
  expect((await east.client.volumes.list()).map((v) => v.name)).toContain("two-east");
  expect((await east.client.volumes.list()).map((v) => v.name)).not.toContain("two-west");
  expect((await west.client.volumes.list()).map((v) => v.name)).toEqual(["two-west"]);
  expect(changes((await two.preview()).steps)).toEqual([]);
  // The provider's token input is secret in the state.
  const provider = (await two.state()).find((r) => r.urn.endsWith("::west"));
  expect(JSON.stringify(provider?.inputs)).not.toContain(west.token);
});

test("destroy leaves nothing on either server", async () => {
  await two.pulumi(["destroy", "--yes", "--skip-preview"]);
  await main.pulumi(["destroy", "--yes", "--skip-preview"]);
  expect(await names(east)).toEqual([]);
  expect((await east.client.volumes.list()).map((v) => v.name)).toEqual([]);
  expect((await west.client.volumes.list()).map((v) => v.name)).toEqual([]);
  expect(east.vmPids()).toEqual([]);
  expect(await main.state()).toEqual([]);
});
