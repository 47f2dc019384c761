// The `vmbranch:index:GoldenImage` component of the schema-based plugin, used from Pulumi YAML as
// multi-language components are: the engine calls the plugin's Construct, which registers the
// pipeline's resources (job, template, clones, instances) as the package's own custom resources
// under the component. Real CLI, real serve, real guests: up bakes and serves; the children are
// `vmbranch:index:*` resources parented by the component on the component's provider; a second
// preview finds no changes; a new job argument previews and applies as one replace chain; destroy
// leaves nothing. With an explicit provider, the children of two components are on that provider; a child the server
// refuses fails the up with the server's reason, naming the child.
import { changes, destroyedOn, getText, PLUGIN_FROM_DIST, serverAndProject, yamlProject, type YamlProject } from "./support/yaml-project";

jest.setTimeout(900_000);

const ctx = serverAndProject();

// The message is in the job's args, so a new message is a change of the job's args.
const PROGRAM = `name: vmb-golden-component
runtime: yaml
${PLUGIN_FROM_DIST}config:
  message:
    type: string
resources:
  site:
    type: vmbranch:index:GoldenImage
    properties:
      sizeMb: 16
      prepare:
        args: ["sh", "-c", "mkdir -p /data/www && echo '\${message}' > /data/www/index.html && sync"]
      clones: 2
      instances:
        args: [httpd, -f, -p, "8080", -h, /srv/www]
        mountAt: /srv
        ports: [{ guestPort: 8080 }]
        readiness: { guestPort: 8080, path: / }
      tags: [golden-component]
outputs:
  jobName: \${site.jobName}
  jobExitCode: \${site.job.exitCode}
  goldenVolume: \${site.goldenVolume}
  templateName: \${site.templateName}
  templateUuid: \${site.templateUuid}
  cloneNames: \${site.cloneNames}
  instanceNames: \${site.instanceNames}
  instanceUuids: \${site.instanceUuids}
  urls:
    - http://127.0.0.1:\${site.cloneInstances[0].hostPorts["8080"]}/
    - http://127.0.0.1:\${site.cloneInstances[1].hostPorts["8080"]}/
`;

const PIPELINE = ["site-0", "site-1", "site-clone-0", "site-clone-1", "site-prepare", "site-template"];

const opsOf = (steps: { op: string; urn: string }[], op: string) =>
  steps
    .filter((s) => s.op === op && s.urn.includes("::vmbranch:index:"))
    .map((s) => s.urn.split("::").pop())
    .sort();

test("GoldenImage from Pulumi YAML: up bakes and serves; no changes after; a new job argument is one replace chain; destroy leaves nothing", async () => {
  const backend = ctx.backend();
  const project = ctx.project();
  project.write(PROGRAM);
  await project.pulumi(["stack", "init", "dev"]);
  await project.pulumi(["config", "set", "vmbranch:endpoint", backend.url]);
  await project.pulumi(["config", "set", "--secret", "vmbranch:token", backend.token]);
  await project.pulumi(["config", "set", "message", "golden from a component"]);

  // The preview constructs the component too: every resource of the pipeline is shown.
  const first = await project.preview();
  expect(changes(first.steps).sort()).toEqual(["create site", ...PIPELINE.map((n) => `create ${n}`)].sort());
  expect(await backend.client.instances.list()).toEqual([]);

  await project.pulumi(["up", "--yes", "--skip-preview"]);
  const out = await project.outputs();
  expect(out.jobExitCode).toBe(0);
  expect(out.jobName).toMatch(/^site-prepare-[0-9a-f]{7}$/);
  expect(out.cloneNames).toHaveLength(2);
  expect(out.instanceNames).toHaveLength(2);
  for (const url of out.urls as string[]) expect(await getText(url)).toContain("golden from a component");

  const live = await backend.client.instances.list();
  expect(live.map((i) => [i.name, i.state]).sort()).toEqual(
    [[out.jobName, "stopped"], ...(out.instanceNames as string[]).map((n) => [n, "running"])].sort(),
  );
  expect(live.map((i) => i.uuid).filter((u) => (out.instanceUuids as string[]).includes(u))).toHaveLength(2);
  expect((await backend.client.volumes.templates.list()).map((t) => [t.name, t.uuid])).toEqual([[out.templateName, out.templateUuid]]);
  expect((await backend.client.volumes.get(out.goldenVolume as string)).state).not.toBe("template");

  // In the state: the component, and its children as the package's custom resources, on one provider.
  const state = await project.state();
  const component = state.find((r) => r.type === "vmbranch:index:GoldenImage");
  expect(component).toBeDefined();
  const children = state.filter((r) => (r as { parent?: string }).parent === component!.urn);
  expect(children.map((r) => [r.urn.split("::").pop(), r.type, (r as { custom?: boolean }).custom]).sort()).toEqual([
    ["site-0", "vmbranch:index:Instance", true],
    ["site-1", "vmbranch:index:Instance", true],
    ["site-clone-0", "vmbranch:index:VolumeClone", true],
    ["site-clone-1", "vmbranch:index:VolumeClone", true],
    ["site-prepare", "vmbranch:index:Instance", true],
    ["site-template", "vmbranch:index:VolumeTemplate", true],
  ]);
  const providers = new Set(children.map((r) => (r as { provider?: string }).provider));
  expect(providers.size).toBe(1);
  expect([...providers][0]).toMatch(/::pulumi:providers:vmbranch::/);

  expect(changes((await project.preview()).steps)).toEqual([]);

  // A new job argument: the job and everything baked from it is replaced, property by property.
  await project.pulumi(["config", "set", "message", "golden again"]);
  const rebake = await project.preview();
  expect(opsOf(rebake.steps, "replace")).toEqual(PIPELINE);
  const job = rebake.steps.find((s) => s.op === "replace" && s.urn.endsWith("::site-prepare"));
  expect(job?.detailedDiff?.args?.kind).toBe("update-replace");
  expect(opsOf(rebake.steps, "update")).toEqual([]);

  await project.pulumi(["up", "--yes", "--skip-preview"]);
  const next = await project.outputs();
  expect(next.templateName).not.toBe(out.templateName);
  for (const url of next.urls as string[]) expect(await getText(url)).toContain("golden again");
  // Only the new bake is left.
  expect((await backend.client.volumes.templates.list()).map((t) => t.name)).toEqual([next.templateName]);
  expect((await backend.client.instances.list()).map((i) => i.name).sort()).toEqual([next.jobName, ...(next.instanceNames as string[])].sort());
  expect(changes((await project.preview()).steps)).toEqual([]);

  await destroyedOn(project, backend);
});

/** A second project (stack `dev`) running `resources`, destroyed and removed after `fn`. */
async function withProject(name: string, resources: string, fn: (p: YamlProject) => Promise<void>): Promise<void> {
  const p = yamlProject();
  try {
    p.write(`name: ${name}\nruntime: yaml\n${PLUGIN_FROM_DIST}${resources}`);
    await p.pulumi(["stack", "init", "dev"]);
    await fn(p);
  } finally {
    await p.pulumi(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
    p.cleanup();
  }
}

test("GoldenImages on an explicit provider: two constructed side by side, their children on that provider", async () => {
  const backend = ctx.backend();
  await withProject(
    "vmb-golden-explicit",
    `resources:
  east:
    type: pulumi:providers:vmbranch
    properties:
      endpoint: ${backend.url}
      token:
        fn::secret: ${backend.token}
  site:
    type: vmbranch:index:GoldenImage
    properties:
      sizeMb: 16
      prepare:
        args: ["sh", "-c", "echo explicit > /data/hello && sync"]
      clones: 1
    options:
      provider: \${east}
  # A second component, constructed alongside the first by the same plugin process.
  other:
    type: vmbranch:index:GoldenImage
    properties:
      sizeMb: 16
      prepare:
        args: ["sh", "-c", "echo other > /data/hello && sync"]
    options:
      provider: \${east}
outputs:
  cloneNames: \${site.cloneNames}
  otherTemplate: \${other.templateName}
`,
    async (p) => {
      await p.pulumi(["up", "--yes", "--skip-preview"]);
      expect(((await p.outputs()).cloneNames as string[]).map((n) => n.replace(/[0-9a-f]{7}$/, "x"))).toEqual(["site-clone-0-x"]);
      const state = await p.state();
      const east = state.find((r) => r.urn.endsWith("::east"))!;
      const childrenOf = (name: string) => state.filter((r) => (r as { parent?: string }).parent === state.find((c) => c.urn.endsWith(`vmbranch:index:GoldenImage::${name}`))!.urn);
      expect(childrenOf("site").map((r) => r.type).sort()).toEqual(["vmbranch:index:Instance", "vmbranch:index:VolumeClone", "vmbranch:index:VolumeTemplate"]);
      expect(childrenOf("other").map((r) => r.urn.split("::").pop()).sort()).toEqual(["other-prepare", "other-template"]);
      for (const c of [...childrenOf("site"), ...childrenOf("other")]) expect((c as { provider?: string }).provider).toBe(`${east.urn}::${east.id}`);
      expect((await backend.client.volumes.templates.list()).map((t) => t.name)).toContain((await p.outputs()).otherTemplate);
      expect(changes((await p.preview()).steps)).toEqual([]);
      await destroyedOn(p, backend);
    },
  );
});

test("a child the server refuses fails the up with its reason and name; fixed, the same stack goes up", async () => {
  const backend = ctx.backend();
  await withProject(
    "vmb-golden-refused",
    `resources:
  site:
    type: vmbranch:index:GoldenImage
    properties:
      sizeMb: 16
      prepare:
        args: ["true"]
        memoryMb: 1
      clones: 1
`,
    async (p) => {
      await p.pulumi(["config", "set", "vmbranch:endpoint", backend.url]);
      await p.pulumi(["config", "set", "--secret", "vmbranch:token", backend.token]);
      const failed = await p.pulumi(["up", "--yes", "--skip-preview"]).then(
        () => "",
        (err: Error) => err.message,
      );
      expect(failed).toMatch(/site-prepare/);
      expect(failed).toMatch(/memory_?[mM]b|memoryMb/);
      expect(await backend.client.instances.list()).toEqual([]);
      // Fixed, the same stack goes up.
      p.write(`name: vmb-golden-refused\nruntime: yaml\n${PLUGIN_FROM_DIST}resources:\n  site:\n    type: vmbranch:index:GoldenImage\n    properties:\n      sizeMb: 16\n      prepare:\n        args: ["true"]\n      clones: 1\n`);
      await p.pulumi(["up", "--yes", "--skip-preview"]);
      expect((await backend.client.volumes.templates.list())).toHaveLength(1);
      await destroyedOn(p, backend);
    },
  );
});
