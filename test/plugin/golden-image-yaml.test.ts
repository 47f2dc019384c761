// examples/golden-image-yaml deployed as users run it: its Pulumi.yaml copied into a project of its
// own (outside the repository's tree of sources, in the plugin layer's sandbox), the plugin
// installed from its tarball, the real `pulumi` CLI with Pulumi YAML's language host against a
// real `vmbranch serve`. One up: the job prepared the site, every server (and the branch) serves
// the golden page and counts its own hits; a preview finds no changes. Then an edit, as a user
// makes it in the program: one server and its clone get a tag, and two lookups
// (`getVolumeTemplate`, `getVolume`) are added; the preview shows the tags property by property as
// in-place updates, up applies them to the same VMs and volumes, and the lookups report the server's
// view. A refresh and a preview then find no changes; destroy leaves no VM and no volume.
import { readFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../helpers/pulumi";
import { changes, destroyedOn, getText, PLUGIN_TARBALL, PLUGIN_VERSION, serverAndProject } from "./support/yaml-project";

jest.setTimeout(900_000);

const EXAMPLE = path.join(REPO_ROOT, "examples", "golden-image-yaml", "Pulumi.yaml");

const ctx = serverAndProject();

test("golden-image-yaml: up serves the golden site from every copy and the branch; an edit of tags is shown per property and applied in place, lookups see it; preview and refresh find no changes; destroy leaves nothing", async () => {
  const backend = ctx.backend();
  const project = ctx.project();
  project.write(readFileSync(EXAMPLE, "utf8"));
  await project.pulumi(["plugin", "install", "resource", "vmbranch", PLUGIN_VERSION, "--file", PLUGIN_TARBALL]);
  await project.pulumi(["stack", "init", "dev"]);
  await project.pulumi(["config", "set", "vmbranch:endpoint", backend.url]);
  await project.pulumi(["config", "set", "--secret", "vmbranch:token", backend.token]);
  await project.pulumi(["config", "set", "message", "golden hello from yaml"]);

  await project.pulumi(["up", "--yes", "--skip-preview"]);
  const out = await project.outputs();
  expect(out.preparationExitCode).toBe(0);
  expect(out.branchedFrom).toMatch(/^webA-[0-9a-f]{7}$/);
  const [a, b, branch] = out.urls as string[];
  const first = await getText(a!);
  expect(first).toContain("golden hello from yaml");
  expect(first).toContain("hits on this copy: 1");
  expect(await getText(a!)).toContain("hits on this copy: 2");
  // The other clone and the branch have copies of their own.
  expect(await getText(b!)).toContain("hits on this copy: 1");
  const fromBranch = await getText(branch!);
  expect(fromBranch).toContain("golden hello from yaml");
  expect(fromBranch).toContain("hits on this copy: 1");

  const live = await backend.client.instances.list();
  expect(live.map((i) => i.state).sort()).toEqual(["running", "running", "running", "stopped"]);
  expect(live.find((i) => i.name === out.preparedBy)?.state).toBe("stopped");
  expect((await backend.client.volumes.templates.list()).map((t) => t.name)).toEqual([out.template]);
  // The job's volume stays a volume: the template is a copy of it.
  expect((await backend.client.volumes.get(out.goldenVolume as string)).state).not.toBe("template");

  expect(changes((await project.preview()).steps)).toEqual([]);

  // The edit: webB and its clone copyB get a tag; lookups of the template and of copyB beside them.
  project.edit("      source: ${golden.name}\n      tags: [golden-image]\n  webA:", "      source: ${golden.name}\n      tags: [golden-image, blue]\n  webA:");
  project.edit("      readiness: { guestPort: 8080, path: / }\n      tags: [golden-image]\n  # A branch", "      readiness: { guestPort: 8080, path: / }\n      tags: [golden-image, blue]\n  # A branch");
  project.edit("outputs:\n", `variables:
  templateInfo:
    fn::invoke:
      function: vmbranch:index:getVolumeTemplate
      arguments:
        name: \${golden.name}
  copyBInfo:
    fn::invoke:
      function: vmbranch:index:getVolume
      arguments:
        name: \${copyB.name}
outputs:
  templateInfo: \${templateInfo}
  copyBInfo: \${copyBInfo}
`);
  const edit = await project.preview();
  expect(changes(edit.steps).sort()).toEqual(["update copyB", "update webB"]);
  for (const step of edit.steps.filter((s) => /::(copyB|webB)$/.test(s.urn))) {
    expect(step.diffReasons).toEqual(["tags"]);
    expect(step.detailedDiff).toEqual({ tags: { kind: "update", inputDiff: true } });
  }
  const volumesBefore = await backend.client.volumes.list();
  await project.pulumi(["up", "--yes", "--skip-preview"]);
  const edited = await project.outputs();
  const webB = (await project.state()).find((r) => r.urn.endsWith("::webB"))?.outputs?.name as string;
  const copyB = (out.clones as string[])[1]!;
  // In place: the same VMs and volumes (by uuid), webB still serving its copy's count, the new tags on the server.
  expect((await backend.client.instances.list()).map((i) => i.uuid).sort()).toEqual(live.map((i) => i.uuid).sort());
  expect((await backend.client.volumes.list()).map((v) => v.uuid).sort()).toEqual(volumesBefore.map((v) => v.uuid).sort());
  expect(edited.urls).toEqual(out.urls);
  expect(await getText(b!)).toContain("hits on this copy: 2");
  expect((await backend.client.instances.get(webB)).tags).toEqual(["golden-image", "blue"]);
  expect((await backend.client.volumes.get(copyB)).tags).toEqual(["golden-image", "blue"]);
  // The lookups read the server after the update.
  const templateInfo = edited.templateInfo as Record<string, unknown>;
  expect([templateInfo.name, templateInfo.sourceVolumeName, templateInfo.clones]).toEqual([out.template, out.goldenVolume, 2]);
  const copyBInfo = edited.copyBInfo as Record<string, unknown>;
  expect([copyBInfo.name, copyBInfo.sourceName, copyBInfo.tags, copyBInfo.attachedTo]).toEqual([copyB, out.template, ["golden-image", "blue"], [webB]]);

  await project.pulumi(["refresh", "--yes", "--skip-preview", "--expect-no-changes"]);
  expect(changes((await project.preview()).steps)).toEqual([]);

  await destroyedOn(project, backend);
});
