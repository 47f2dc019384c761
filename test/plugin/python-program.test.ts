// The plugin from Python: the SDK generated from the plugin's schema by `pulumi package gen-sdk`,
// installed with `pulumi` from PyPI in a virtualenv, and a Python program run by Pulumi's Python
// language host from its project directory. It creates a volume, an instance that writes it and a
// branch of that instance on a real server; a second preview shows no changes; destroy leaves
// nothing.
import path from "node:path";
import { startBackend, type TestBackend } from "../helpers/backend";
import { pythonEnvironment, pythonHostDir } from "./support/python-sdk";
import { changes, PLUGIN_DIR, writeBeside, yamlProject, type YamlProject } from "./support/yaml-project";

jest.setTimeout(600_000);

let backend: TestBackend;
let project: YamlProject;

beforeAll(async () => {
  backend = await startBackend();
  project = yamlProject([pythonHostDir()]);
});
afterAll(async () => {
  if (project) {
    await project.pulumi(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
    project.cleanup();
  }
  await backend?.stop();
});

const PROGRAM = `import pulumi
import pulumi_vmbranch as vmbranch

data = vmbranch.Volume("data", size_mb=16)
base = vmbranch.Instance(
    "base",
    image="base",
    args=["sh", "-c", "echo from-python > /data/hello; sync; while true; do sleep 1; done"],
    volumes=[vmbranch.InstanceVolumeArgs(volume=data.name, at="/data")],
)
branch = vmbranch.Instance("branch", branch_from=base.name, tags=["python"])

pulumi.export("volume", data.name)
pulumi.export("base", base.name)
pulumi.export("branch", branch.name)
pulumi.export("branchedFrom", branch.branched_from)
`;

test("a Python program with the generated SDK deploys a volume and a branched instance, previews no changes, and destroys", async () => {
  const env = { ...process.env, ...project.sandbox.env, PATH: [pythonHostDir(), project.sandbox.env.PATH].join(path.delimiter) };
  const { venv } = await pythonEnvironment(project.sandbox.workDir, env);
  project.write(`name: vmb-python
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: ${venv}
plugins:
  providers:
    - name: vmbranch
      path: ${PLUGIN_DIR}
`);
  writeBeside(project, "__main__.py", PROGRAM);
  await project.pulumi(["stack", "init", "dev"]);
  await project.pulumi(["config", "set", "vmbranch:endpoint", backend.url]);
  await project.pulumi(["config", "set", "--secret", "vmbranch:token", backend.token]);

  await project.pulumi(["up", "--yes", "--skip-preview"]);
  const out = await project.outputs();
  expect(out.volume).toMatch(/^data-[0-9a-f]{7}$/);
  expect(out.branchedFrom).toBe(out.base);
  const live = await backend.client.instances.list();
  expect(live.map((i) => [i.name, i.state]).sort()).toEqual([
    [out.base, "running"],
    [out.branch, "running"],
  ]);
  expect(live.find((i) => i.name === out.branch)?.tags).toEqual(["python"]);
  expect((await backend.client.volumes.list()).map((v) => v.name)).toContain(out.volume);

  expect(changes((await project.preview()).steps)).toEqual([]);

  await project.pulumi(["destroy", "--yes", "--skip-preview"]);
  expect(await backend.client.instances.list()).toEqual([]);
  expect((await backend.client.volumes.list()).filter((v) => v.persistent)).toEqual([]);
  expect(backend.vmPids()).toEqual([]);
});
