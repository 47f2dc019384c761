/**
 * Pulumi YAML projects for the plugin layer: a project directory (its `Pulumi.yaml` written by the
 * test) in a sandbox of its own (local state, PULUMI_HOME), run by the real `pulumi` CLI with
 * Pulumi YAML's language host (scripts/install-yaml-host) and the plugin built by scripts/build.mjs.
 * Owns the sandbox and reading what the CLI prints (the CLI runs through test/helpers/pulumi.ts's
 * `runPulumi`, as user projects do); tests own the programs and what they assert.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startBackend, type TestBackend } from "../../helpers/backend";
import { createPulumiSandbox, REPO_ROOT, runPulumi, type PulumiSandbox } from "../../helpers/pulumi";

/** The directory holding the bundled plugin, `pulumi-resource-vmbranch`, and its tarball. */
export const PLUGIN_DIR = path.join(REPO_ROOT, "dist", "plugin");
/** The plugin's version (the package's). */
export const PLUGIN_VERSION = (require(path.join(REPO_ROOT, "package.json")) as { version: string }).version;
/** scripts/gen-sdks.mjs, which generates the SDKs the plugin layer's Node.js, Python and Go programs use. */
export const GEN_SDKS = path.join(REPO_ROOT, "scripts", "gen-sdks.mjs");
/** The plugin tarball for `pulumi plugin install --file`. */
export const PLUGIN_TARBALL = path.join(PLUGIN_DIR, `pulumi-resource-vmbranch-v${PLUGIN_VERSION}.tar.gz`);

let yamlHost: string | undefined;

/** Directory of Pulumi YAML's language host (built once and cached by scripts/install-yaml-host). */
export function yamlHostDir(): string {
  yamlHost ??= execFileSync(path.join(REPO_ROOT, "scripts", "install-yaml-host"), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop() ?? "";
  return yamlHost;
}

/** One step of `pulumi preview --json`. */
export interface PreviewStep {
  op: string;
  urn: string;
  diffReasons?: string[];
  detailedDiff?: Record<string, { kind: string; inputDiff?: boolean }>;
  replaceReasons?: string[];
}

/** A YAML project and its stack `dev`. */
export interface YamlProject {
  dir: string;
  sandbox: PulumiSandbox;
  /** Write `Pulumi.yaml`. */
  write(program: string): void;
  /** Edit `Pulumi.yaml` as a user would: replace `from`, which must occur exactly once, by `to`. */
  edit(from: string, to: string): void;
  /** `pulumi <args> --non-interactive`; rejects with everything the CLI printed. */
  pulumi(args: string[]): Promise<string>;
  /** `pulumi preview --json`, parsed. */
  preview(): Promise<{ steps: PreviewStep[]; changeSummary: Record<string, number> }>;
  /** The resources of `pulumi stack export`. */
  state(): Promise<{ urn: string; type: string; id?: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }[]>;
  /** `pulumi stack output --json --show-secrets`. */
  outputs(): Promise<Record<string, unknown>>;
  /** Remove the sandbox (state, home, project). */
  cleanup(): void;
}

/** A project in a new sandbox (stack commands are the test's); `extraPath` goes before the CLI on PATH (other language hosts). */
export function yamlProject(extraPath: string[] = []): YamlProject {
  const sandbox = createPulumiSandbox();
  const dir = path.join(sandbox.workDir, "project");
  mkdirSync(dir);
  const env = { ...process.env, ...sandbox.env, PATH: [...extraPath, yamlHostDir(), sandbox.env.PATH].join(path.delimiter) };
  const pulumi = (args: string[]) => runPulumi(args, dir, env);
  const file = path.join(dir, "Pulumi.yaml");
  return {
    dir,
    sandbox,
    write: (program) => writeFileSync(file, program),
    edit(from, to) {
      const program = readFileSync(file, "utf8");
      // A text that is missing or ambiguous would make the edit silently a different one.
      if (program.split(from).length !== 2) throw new Error(`edit: expected exactly one ${JSON.stringify(from)} in ${file}`);
      writeFileSync(file, program.replace(from, () => to));
    },
    pulumi,
    async preview() {
      return JSON.parse(await pulumi(["preview", "--json"]));
    },
    async state() {
      return (JSON.parse(await pulumi(["stack", "export"])).deployment.resources ?? []) as Awaited<ReturnType<YamlProject["state"]>>;
    },
    async outputs() {
      return JSON.parse(await pulumi(["stack", "output", "--json", "--show-secrets"]));
    },
    cleanup: () => sandbox.cleanup(),
  };
}

/** The `plugins` stanza of a `Pulumi.yaml` that runs the plugin from dist/plugin (no `pulumi plugin install`). */
export const PLUGIN_FROM_DIST = `plugins:\n  providers:\n    - name: vmbranch\n      path: ${PLUGIN_DIR}\n`;

/** The steps of a preview that change a vmbranch resource, as "op name". */
export function changes(steps: PreviewStep[]): string[] {
  return steps.filter((s) => s.op !== "same" && s.urn.includes("::vmbranch:index:")).map((s) => `${s.op} ${s.urn.split("::").pop()}`);
}

/** Write a file beside the program (a generated import, say). */
export function writeBeside(project: YamlProject, file: string, text: string): string {
  const p = path.join(project.dir, file);
  writeFileSync(p, text);
  return p;
}

/**
 * One `vmbranch serve` and one YAML project for a test file (started before its tests; destroyed,
 * removed and stopped after them, whatever the tests left); the getters read them once started.
 */
export function serverAndProject(): { backend: () => TestBackend; project: () => YamlProject } {
  let backend: TestBackend | undefined;
  let project: YamlProject | undefined;
  beforeAll(async () => {
    backend = await startBackend();
    project = yamlProject();
  });
  afterAll(async () => {
    if (project) {
      await project.pulumi(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
      project.cleanup();
    }
    await backend?.stop();
  });
  return { backend: () => backend!, project: () => project! };
}

/** GET `url`, which must answer 200; its body. */
export async function getText(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return res.text();
}

/** Destroy the project's stack: nothing of it is left on `backend` (no VM, volume or template) nor in the state. */
export async function destroyedOn(project: YamlProject, backend: TestBackend): Promise<void> {
  await project.pulumi(["destroy", "--yes", "--skip-preview"]);
  expect(await backend.client.instances.list()).toEqual([]);
  expect(await backend.client.volumes.list()).toEqual([]);
  expect(await backend.client.volumes.templates.list()).toEqual([]);
  expect(backend.vmPids()).toEqual([]);
  expect(await project.state()).toEqual([]);
}
