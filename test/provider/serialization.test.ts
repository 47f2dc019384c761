// Provider serialization outside jest (under jest the module registry differs, so serialization can
// differ from real runs: docs/provider.md, "How it runs inside Pulumi"): a plain Node process, in a
// directory laid out like a user's Pulumi project (node_modules/vmbranch → this package, built),
// serializes each provider as dynamic.Resource does, loads the text as the dynamic-provider host
// does, and runs its methods against a real backend. The texts must capture nothing but code: no
// endpoint, token, client or settings, and load the implementation by package name at run time.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, copyFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startBackend, type TestBackend } from "../helpers/backend";

jest.setTimeout(120_000);

const REPO = join(__dirname, "..", "..");
const IMPLS = ["instance", "volume", "volume-template", "volume-clone"];

let backend: TestBackend;
let project: string;
beforeAll(async () => {
  for (const impl of IMPLS)
    if (!existsSync(join(REPO, "dist", "provider", "impl", `${impl}.js`))) throw new Error(`dist/provider/impl/${impl}.js is missing: run 'npm run build' (npm test does it)`);
  backend = await startBackend();
  project = await mkdtemp(join(tmpdir(), "vmb-serialize-"));
  await mkdir(join(project, "node_modules", "@pulumi"), { recursive: true });
  await symlink(REPO, join(project, "node_modules", "vmbranch"));
  await symlink(join(REPO, "node_modules", "@pulumi", "pulumi"), join(project, "node_modules", "@pulumi", "pulumi"));
  await copyFile(join(__dirname, "support", "serialized-run.cjs"), join(project, "run.cjs"));
});
afterAll(async () => {
  await backend?.stop();
  if (project) await rm(project, { recursive: true, force: true });
});

interface Report {
  texts: Record<string, { text: string; exportName: string; containsSecrets: boolean }>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON report read field by field
  steps: { name: string; value: any }[];
}

test("each provider, serialized and loaded back in a plain Node process, works against a real backend", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ["run.cjs"], {
    cwd: project,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", VMB_ENDPOINT: backend.url, VMB_TOKEN: backend.token },
    maxBuffer: 16 * 1024 * 1024,
  });
  const report = JSON.parse(stdout) as Report;
  const step = (name: string) => report.steps.find((s) => s.name === name)?.value;

  const kinds: [string, string][] = [["instance", "instance"], ["volume", "volume"], ["volumeTemplate", "volume-template"], ["volumeClone", "volume-clone"]];
  for (const [kind, impl] of kinds) {
    const { text, containsSecrets } = report.texts[kind]!;
    expect(containsSecrets).toBe(false);
    expect(text).toContain(`require("vmbranch/provider/impl/${impl}")`);
    expect(text).not.toContain(backend.token);
    expect(text).not.toContain(backend.url);
    expect(text).not.toMatch(/VmbranchClient|undici|process\.env/);
    // Small: the shell and its loader, nothing bundled by value.
    expect(text.length).toBeLessThan(4_000);

    const created = step(`${kind}.create`);
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(step(`${kind}.read`)).toMatchObject({ id: created.id, props: created.outs, inputs: expect.objectContaining({ name: created.outs.name }) });
    expect(step(`${kind}.diff-same`)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    expect(step(`${kind}.diff-update`)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(step(`${kind}.update`).outs.tags).toHaveLength(1);
    expect(step(`${kind}.read-after-delete`)).toEqual({});
  }
  expect(step("instance.create").outs).toMatchObject({ state: "stopped", image: "base", attachedVolumes: [expect.objectContaining({ at: "/data" })] });
  expect(step("volumeClone.create").outs).toMatchObject({ state: "available", template: step("volumeTemplate.create").outs.name });
  expect(await backend.client.instances.list()).toEqual([]);
  expect(await backend.client.volumes.list()).toEqual([]);
});
