// The plugin from Python and Go: the SDKs generated from the plugin's schema by `pulumi package
// gen-sdk`, the Python one installed with `pulumi` from PyPI in a virtualenv, the Go one required
// by a Go module with `github.com/pulumi/pulumi/sdk/v3`, and a program in each language run by its
// Pulumi language host from its project directory. Each creates a volume, an instance that writes
// it and a branch of that instance on a real server; a second preview shows no changes; destroy
// leaves nothing. A Python and a Go program also declare the GoldenImage component (the plugin's
// Construct), reading the job through the resource reference it outputs. One server for all; each
// test owns its project. The generated SDKs (and Python's virtualenv) are made once per file, by the
// first test of their language, and shared by both tests of that language.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { startBackend, type TestBackend } from "../helpers/backend";
import { createPulumiSandbox, type PulumiSandbox } from "../helpers/pulumi";
import { goHostDir, goProgram, goSdk } from "./support/go-sdk";
import { pythonEnvironment, pythonHostDir } from "./support/python-sdk";
import { changes, destroyedOn, PLUGIN_DIR, writeBeside, yamlProject, type YamlProject } from "./support/yaml-project";

jest.setTimeout(600_000);

let backend: TestBackend;
const projects: YamlProject[] = [];
/** Where the shared SDKs are generated (made on first use, removed after the file). */
let sdkSandbox: PulumiSandbox | undefined;
let pythonEnv: Promise<{ venv: string }> | undefined;
let goSdkModule: Promise<string> | undefined;

beforeAll(async () => {
  backend = await startBackend();
});
afterAll(async () => {
  for (const p of projects) {
    await p.pulumi(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
    p.cleanup();
  }
  // The shared SDKs go once every project using them is destroyed (their programs ran from them).
  sdkSandbox?.cleanup();
  await backend?.stop();
});

/** A directory `name` in the sandbox of the file's shared SDKs, and the CLI's env with the language host `hostDir`. */
function sdkEnv(name: string, hostDir: string): { dir: string; env: NodeJS.ProcessEnv } {
  sdkSandbox ??= createPulumiSandbox();
  const dir = path.join(sdkSandbox.workDir, name);
  mkdirSync(dir);
  return { dir, env: { ...process.env, ...sdkSandbox.env, PATH: [hostDir, sdkSandbox.env.PATH].join(path.delimiter) } };
}

/**
 * The Python SDK and the virtualenv with it and `pulumi` from PyPI, made once for the file: both
 * Python tests need the same ones (same schema, same pip install), which each test made anew before.
 */
function sharedPythonEnvironment(): Promise<{ venv: string }> {
  if (!pythonEnv) {
    const { dir, env } = sdkEnv("python", pythonHostDir());
    pythonEnv = pythonEnvironment(dir, env);
  }
  return pythonEnv;
}

/** The generated Go SDK module, made once for the file (gen-sdk and its `go mod tidy`): both Go programs require the same one. */
function sharedGoSdk(): Promise<string> {
  if (!goSdkModule) {
    const { dir, env } = sdkEnv("go", goHostDir());
    goSdkModule = goSdk(dir, env);
  }
  return goSdkModule;
}

/** A project for `hostDir`'s language, its stack `dev` pointed at the backend. */
async function newProject(hostDir: string): Promise<YamlProject> {
  const p = yamlProject([hostDir]);
  projects.push(p);
  return p;
}

async function initStack(p: YamlProject): Promise<void> {
  await p.pulumi(["stack", "init", "dev"]);
  await p.pulumi(["config", "set", "vmbranch:endpoint", backend.url]);
  await p.pulumi(["config", "set", "--secret", "vmbranch:token", backend.token]);
}

/** Up, check what runs, a second preview without changes, destroy leaving nothing. */
async function deployAndDestroy(p: YamlProject, tag: string): Promise<void> {
  await p.pulumi(["up", "--yes", "--skip-preview"]);
  const out = await p.outputs();
  expect(out.volume).toMatch(/^data-[0-9a-f]{7}$/);
  expect(out.branchedFrom).toBe(out.base);
  const live = await backend.client.instances.list();
  expect(live.map((i) => [i.name, i.state]).sort()).toEqual([
    [out.base, "running"],
    [out.branch, "running"],
  ]);
  expect(live.find((i) => i.name === out.branch)?.tags).toEqual([tag]);
  expect((await backend.client.volumes.list()).map((v) => v.name)).toContain(out.volume);

  expect(changes((await p.preview()).steps)).toEqual([]);

  await p.pulumi(["destroy", "--yes", "--skip-preview"]);
  expect(await backend.client.instances.list()).toEqual([]);
  expect((await backend.client.volumes.list()).filter((v) => v.persistent)).toEqual([]);
  expect(backend.vmPids()).toEqual([]);
}

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

/** A Python project running `program` on the generated SDK in the file's virtualenv. */
async function pythonProject(name: string, program: string): Promise<YamlProject> {
  const project = await newProject(pythonHostDir());
  const { venv } = await sharedPythonEnvironment();
  project.write(`name: ${name}
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
  writeBeside(project, "__main__.py", program);
  await initStack(project);
  return project;
}

test("a Python program with the generated SDK deploys a volume and a branched instance, previews no changes, and destroys", async () => {
  await deployAndDestroy(await pythonProject("vmb-python", PROGRAM), "python");
});

const GOLDEN_PROGRAM = `import pulumi
import pulumi_vmbranch as vmbranch

site = vmbranch.GoldenImage(
    "site",
    size_mb=16,
    prepare=vmbranch.GoldenImageJobArgs(args=["sh", "-c", "echo from-python > /data/hello; sync"]),
    clones=1,
    instances=vmbranch.GoldenImageInstancesArgs(args=["sh", "-c", "while true; do sleep 1; done"], readonly=True),
    tags=["python-golden"],
)

pulumi.export("templateName", site.template_name)
pulumi.export("instanceNames", site.instance_names)
# Resource references: the children as the SDK's own classes.
pulumi.export("jobExitCode", site.job.apply(lambda job: job.exit_code))
pulumi.export("cloneSource", site.volume_clones.apply(lambda clones: clones[0].source_name))
pulumi.export("instanceVolumes", site.clone_instances.apply(lambda insts: insts[0].attached_volumes))
`;

test("a Python program declares a GoldenImage: the job, template, clone and instance run, its children read through references; no changes after; destroy leaves nothing", async () => {
  await goldenImageDeployed(await pythonProject("vmb-python-golden", GOLDEN_PROGRAM), "python-golden", (out) => {
    expect(out.cloneSource).toBe(out.templateName);
    expect(out.instanceVolumes).toEqual([expect.objectContaining({ at: "/data", readonly: true })]);
  });
});

const GO_PROGRAM = `package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	vmbranch "github.com/vmbranch/vmbranch/sdk/go/vmbranch"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		data, err := vmbranch.NewVolume(ctx, "data", &vmbranch.VolumeArgs{SizeMb: pulumi.Int(16)})
		if err != nil {
			return err
		}
		base, err := vmbranch.NewInstance(ctx, "base", &vmbranch.InstanceArgs{
			Image:   pulumi.String("base"),
			Args:    pulumi.StringArray{pulumi.String("sh"), pulumi.String("-c"), pulumi.String("echo from-go > /data/hello; sync; while true; do sleep 1; done")},
			Volumes: vmbranch.InstanceVolumeArray{vmbranch.InstanceVolumeArgs{Volume: data.Name, At: pulumi.String("/data")}},
		})
		if err != nil {
			return err
		}
		branch, err := vmbranch.NewInstance(ctx, "branch", &vmbranch.InstanceArgs{BranchFrom: base.Name, Tags: pulumi.StringArray{pulumi.String("go")}})
		if err != nil {
			return err
		}
		ctx.Export("volume", data.Name)
		ctx.Export("base", base.Name)
		ctx.Export("branch", branch.Name)
		ctx.Export("branchedFrom", branch.BranchedFrom)
		return nil
	})
}
`;

/** A Go project running `program` on the generated SDK. */
async function goProject(name: string, program: string): Promise<YamlProject> {
  const project = await newProject(goHostDir());
  const env = { ...process.env, ...project.sandbox.env, PATH: [goHostDir(), project.sandbox.env.PATH].join(path.delimiter) };
  await goProgram(await sharedGoSdk(), project.dir, program, env);
  project.write(`name: ${name}
runtime: go
plugins:
  providers:
    - name: vmbranch
      path: ${PLUGIN_DIR}
`);
  await initStack(project);
  return project;
}

test("a Go program with the generated SDK deploys a volume and a branched instance, previews no changes, and destroys", async () => {
  await deployAndDestroy(await goProject("vmb-go", GO_PROGRAM), "go");
});

const GO_GOLDEN_PROGRAM = `package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	vmbranch "github.com/vmbranch/vmbranch/sdk/go/vmbranch"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		clones := 1
		site, err := vmbranch.NewGoldenImage(ctx, "site", &vmbranch.GoldenImageArgs{
			SizeMb:    pulumi.Int(16),
			Prepare:   vmbranch.GoldenImageJobArgs{Args: pulumi.StringArray{pulumi.String("sh"), pulumi.String("-c"), pulumi.String("echo from-go > /data/hello; sync")}},
			Clones:    &clones,
			Instances: vmbranch.GoldenImageInstancesArgs{Args: pulumi.StringArray{pulumi.String("sh"), pulumi.String("-c"), pulumi.String("while true; do sleep 1; done")}, Readonly: pulumi.Bool(true)},
			Tags:      pulumi.StringArray{pulumi.String("go-golden")},
		})
		if err != nil {
			return err
		}
		ctx.Export("templateName", site.TemplateName)
		ctx.Export("instanceNames", site.InstanceNames)
		// A resource reference: the job as the SDK's Instance.
		ctx.Export("jobExitCode", site.Job.ApplyT(func(job *vmbranch.Instance) pulumi.IntPtrOutput { return job.ExitCode }))
		return nil
	})
}
`;

/** Up a GoldenImage of one clone and one instance tagged `tag` (`more` checks the outputs further); then no changes, and destroy leaves nothing. */
async function goldenImageDeployed(project: YamlProject, tag: string, more: (out: Record<string, unknown>) => void = () => undefined): Promise<void> {
  await project.pulumi(["up", "--yes", "--skip-preview"]);
  const out = await project.outputs();
  more(out);
  expect(out.jobExitCode).toBe(0);
  expect(out.instanceNames).toEqual([expect.stringMatching(/^site-0-[0-9a-f]{7}$/)]);
  const live = await backend.client.instances.list();
  expect(live.map((i) => [i.state, i.tags]).sort()).toEqual([
    ["running", [tag]],
    ["stopped", [tag]],
  ]);
  expect((await backend.client.volumes.templates.list()).map((t) => t.name)).toEqual([out.templateName]);
  expect(changes((await project.preview()).steps)).toEqual([]);
  await destroyedOn(project, backend);
}

test("a Go program declares a GoldenImage: the job, template, clone and instance run, the job read through its reference; no changes after; destroy leaves nothing", async () => {
  await goldenImageDeployed(await goProject("vmb-go-golden", GO_GOLDEN_PROGRAM), "go-golden");
});
