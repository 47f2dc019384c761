// Volume templates, volumes made from them, and clones, through real HTTP without booting a VM
// (docs/api.md, "Volume templates", "Volume clones"). A template
// is converted in place or frozen as a copy while its volume stays writable; it is immutable (no
// resize, no attach); `POST /v1/volumes {template}` and `POST /v1/volumes/clone` make independent
// volumes holding its data; a template with dependents cannot be deleted. Contents are checked
// inside the disks on the host. Instance templates convert their volumes in one step.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { VolumeClonesEnvelopeSchema, type Volume } from "../../sdk";
import {
  api,
  call,
  diskPath,
  expectError,
  instanceOf,
  newDiskFiles,
  observe,
  raw,
  readFromDisk,
  useBackend,
  useTempDir,
  volumeOf,
} from "./support";

jest.setTimeout(60_000);
const backend = useBackend();
const tmp = useTempDir("templates-test");

async function createVolume(body: Record<string, unknown>): Promise<Volume> {
  const res = await api(backend(), "POST", "/v1/volumes", body);
  expect(res.status).toBe(201);
  return volumeOf(res);
}

/** A volume holding `files` (created empty, then filled by a tar import). */
async function volumeWith(name: string, files: Record<string, string>): Promise<Volume> {
  const vol = await createVolume({ name, size_mb: 8 });
  const dir = join(tmp(), name);
  for (const [f, content] of Object.entries(files)) {
    mkdirSync(join(dir, f, ".."), { recursive: true });
    writeFileSync(join(dir, f), content);
  }
  const tar = execFileSync("tar", ["-C", dir, "-cf", "-", "."]);
  const res = await raw(backend(), "PUT", `/v1/volumes/${name}/import`, { body: tar, headers: { "content-type": "application/x-tar" } });
  expect(res.status).toBe(200);
  return vol;
}

/** `POST /v1/volumes/templates` with one item; the one template. */
async function makeTemplate(item: Record<string, unknown>): Promise<Volume> {
  const res = await api(backend(), "POST", "/v1/volumes/templates", item);
  expect(res.status).toBe(201);
  return volumeOf(res);
}

/**
 * A file as a volume's data holds it. The volume's disk is the one file a create added to the
 * disks dir; its backing chain is followed, so a copy-on-write clone reads like a full copy.
 */
async function createAndRead(create: () => Promise<Volume>, file: string): Promise<{ vol: Volume; content: string }> {
  const before = await observe(backend());
  let vol = await create();
  if (vol.state === "pending") vol = await backend().client.volumes.waitFor(vol.uuid, "available", { timeoutMs: 30_000 });
  const added = newDiskFiles(before, await observe(backend()));
  expect(added).toHaveLength(1);
  return { vol, content: readFromDisk(diskPath(backend(), added[0]!), file) };
}

describe("templates from volumes", () => {
  it("converts a volume in place: same uuid, state template, listed only under /volumes/templates", async () => {
    const vol = await volumeWith("conv-src", { "a.txt": "A\n" });
    const before = await observe(backend());
    const tpl = await makeTemplate({ name: "conv-src" });
    expect(tpl).toMatchObject({ uuid: vol.uuid, name: "conv-src", state: "template", size_mb: 8, filesystem: "ext4" });
    const after = await observe(backend());
    expect(after.volumes.map((v) => v.uuid)).not.toContain(vol.uuid);
    expect(after.volumeTemplates.map((v) => v.uuid)).toContain(vol.uuid);
    // Converting copies nothing.
    expect(after.files.disks).toEqual(before.files.disks);
    expectError(await raw(backend(), "GET", "/v1/volumes/conv-src"), 404, "VOLUME_NOT_FOUND");
    expect(volumeOf(await api(backend(), "GET", `/v1/volumes/templates/${vol.uuid}`))).toEqual(tpl);
    expect(volumeOf(await api(backend(), "GET", "/v1/volumes/templates/conv-src"))).toEqual(tpl);
  });

  it("freezes a copy with mode 'copy': the volume stays writable, the template keeps the contents of that moment", async () => {
    const vol = await volumeWith("copy-src", { "v.txt": "version 1\n" });
    const tpl = await makeTemplate({ name: "copy-src", mode: "copy", template_name: "copy-tpl", tags: ["golden"] });
    expect(tpl).toMatchObject({ name: "copy-tpl", state: "template", size_mb: 8, tags: ["golden"] });
    expect(tpl.uuid).not.toBe(vol.uuid);
    expect(tpl.clone?.source).toEqual({ uuid: vol.uuid, name: "copy-src" });
    const still = volumeOf(await api(backend(), "GET", "/v1/volumes/copy-src"));
    expect(still.state).toBe("available");
    // The volume can still change; the template cannot.
    expect(volumeOf(await api(backend(), "PATCH", "/v1/volumes/copy-src", [{ prop: "size_mb", op: "set", value: 16 }])).size_mb).toBe(16);
    const { vol: made, content } = await createAndRead(() => createVolume({ name: "from-copy-tpl", template: { name: "copy-tpl" } }), "/v.txt");
    expect(content).toBe("version 1\n");
    expect(made.size_mb).toBe(8);
  });

  it("generates a template name for mode 'copy' and refuses template_name without it", async () => {
    await createVolume({ name: "copy-gen", size_mb: 8 });
    const tpl = await makeTemplate({ name: "copy-gen", mode: "copy" });
    expect(tpl.name).toMatch(/^copy-gen-template-/);
    const before = await observe(backend());
    expectError(
      await raw(backend(), "POST", "/v1/volumes/templates", { body: { name: "copy-gen", template_name: "x" } }),
      400, "VALIDATION_FAILED", "'template_name' applies only with mode 'copy'",
    );
    expect(await observe(backend())).toEqual(before);
  });

  it("refuses to convert an attached volume, and leaves it a volume", async () => {
    await createVolume({ name: "conv-attached", size_mb: 8 });
    instanceOf(await api(backend(), "POST", "/v1/instances", { name: "conv-holder", image: "base", autostart: false, volumes: [{ name: "conv-attached", at: "/d" }] }));
    const before = await observe(backend());
    const res = await raw(backend(), "POST", "/v1/volumes/templates", { body: { name: "conv-attached" } });
    expectError(res, 409, "VOLUME_IN_USE", "Cannot convert volume 'conv-attached' into a template while it is attached to 'conv-holder'");
    expect(res.body.errors[0].field).toBe("[0]");
    expect(await observe(backend())).toEqual(before);
  });

  it("answers 404 for unknown sources and for templates under /volumes/templates/{id}", async () => {
    const before = await observe(backend());
    expectError(await raw(backend(), "POST", "/v1/volumes/templates", { body: { name: "no-such-vol" } }), 404, "VOLUME_NOT_FOUND");
    expectError(await raw(backend(), "GET", "/v1/volumes/templates/no-such-tpl"), 404, "VOLUME_TEMPLATE_NOT_FOUND", "Volume template 'no-such-tpl' not found");
    // A volume is not a template.
    await createVolume({ name: "plain-vol", size_mb: 8 });
    expectError(await raw(backend(), "GET", "/v1/volumes/templates/plain-vol"), 404, "VOLUME_TEMPLATE_NOT_FOUND");
    expectError(await raw(backend(), "DELETE", "/v1/volumes/templates/plain-vol"), 404, "VOLUME_TEMPLATE_NOT_FOUND");
    await api(backend(), "DELETE", "/v1/volumes/plain-vol");
    expect(await observe(backend())).toEqual(before);
  });
});

describe("templates are immutable", () => {
  beforeAll(async () => {
    await volumeWith("imm", { "i.txt": "immutable\n" });
    await makeTemplate({ name: "imm" });
    instanceOf(await api(backend(), "POST", "/v1/instances", { name: "imm-inst", image: "base", autostart: false }));
  });

  it("refuses a resize with 409 VOLUME_IS_TEMPLATE", async () => {
    const before = await observe(backend());
    const res = await raw(backend(), "PATCH", "/v1/volumes/templates/imm", { body: [{ prop: "size_mb", op: "set", value: 16 }] });
    expectError(res, 409, "VOLUME_IS_TEMPLATE", "Volume template 'imm' is immutable");
    expect(await observe(backend())).toEqual(before);
  });

  it("takes tags and delete_lock, and refuses deletion while locked", async () => {
    const patched = volumeOf(await api(backend(), "PATCH", "/v1/volumes/templates/imm", [
      { prop: "tags", op: "set", value: ["golden", "v1"] },
      { prop: "delete_lock", op: "set", value: true },
    ]));
    expect(patched).toMatchObject({ tags: ["golden", "v1"], delete_lock: true, state: "template" });
    const res = await api(backend(), "GET", "/v1/volumes/templates?tags=golden,v1");
    expect((res.body.data.volumes as Volume[]).map((t) => t.name)).toEqual(["imm"]);
    const before = await observe(backend());
    expectError(await raw(backend(), "DELETE", "/v1/volumes/templates/imm"), 409, "DELETE_LOCKED");
    expect(await observe(backend())).toEqual(before);
    await api(backend(), "PATCH", "/v1/volumes/templates/imm", [{ prop: "delete_lock", op: "set", value: false }]);
  });

  it("refuses to attach a template through the attach endpoint, saying it is a template", async () => {
    const before = await observe(backend());
    const res = await raw(backend(), "PUT", "/v1/volumes/imm/attach", { body: { attach_to: { name: "imm-inst" }, at: "/data" } });
    expectError(res, 409, "VOLUME_IS_TEMPLATE", /is a template/);
    expect(await observe(backend())).toEqual(before);
  });

  it("refuses a template as an instance's volume, at create and by PATCH", async () => {
    const before = await observe(backend());
    const created = await raw(backend(), "POST", "/v1/instances", { body: { name: "imm-2", image: "base", autostart: false, volumes: [{ name: "imm", at: "/data" }] } });
    expectError(created, 409, "VOLUME_IS_TEMPLATE", "Volume 'imm' is a template: clone it or create a volume from it to use its data");
    const patched = await raw(backend(), "PATCH", "/v1/instances/imm-inst", { body: [{ prop: "volumes", op: "add", value: { name: "imm", at: "/data" } }] });
    expectError(patched, 409, "VOLUME_IS_TEMPLATE");
    expect(await observe(backend())).toEqual(before);
  });
});

describe("volumes from templates", () => {
  it("instantiates a writable volume with the template's data; the template cannot go while it exists", async () => {
    const src = await volumeWith("inst-src", { "data.txt": "template data\n" });
    const tpl = await makeTemplate({ name: "inst-src" });
    const { vol, content } = await createAndRead(() => createVolume({ name: "inst-a", template: { uuid: tpl.uuid }, tags: ["made"] }), "/data.txt");
    expect(content).toBe("template data\n");
    expect(vol).toMatchObject({ state: "available", size_mb: 8, filesystem: "ext4", template: { uuid: src.uuid, name: "inst-src" }, tags: ["made"], persistent: true });
    expect(volumeOf(await api(backend(), "GET", "/v1/volumes/templates/inst-src")).clones).toBe(1);

    // Writable: it grows, the template does not.
    expect(volumeOf(await api(backend(), "PATCH", "/v1/volumes/inst-a", [{ prop: "size_mb", op: "set", value: 12 }])).size_mb).toBe(12);
    expect(volumeOf(await api(backend(), "GET", "/v1/volumes/templates/inst-src")).size_mb).toBe(8);

    const before = await observe(backend());
    expectError(await raw(backend(), "DELETE", "/v1/volumes/templates/inst-src"), 409, "VOLUME_HAS_CLONES", "Volume template 'inst-src' has 1 dependent volume(s); delete them first");
    expect(await observe(backend())).toEqual(before);

    expect((await api(backend(), "DELETE", "/v1/volumes/inst-a")).status).toBe(200);
    const withoutDependents = await observe(backend());
    expect((await api(backend(), "DELETE", "/v1/volumes/templates/inst-src")).status).toBe(200);
    const after = await observe(backend());
    expect(after.volumeTemplates.map((t) => t.name)).not.toContain("inst-src");
    // The template's data goes with it: fewer disk files than before, none added.
    expect(after.files.disks.length).toBeLessThan(withoutDependents.files.disks.length);
    expect(newDiskFiles(withoutDependents, after)).toEqual([]);
  });

  it("answers 404 VOLUME_TEMPLATE_NOT_FOUND for a template that does not exist or is a plain volume", async () => {
    await createVolume({ name: "not-a-tpl", size_mb: 8 });
    const before = await observe(backend());
    expectError(await raw(backend(), "POST", "/v1/volumes", { body: { template: { name: "no-such" } } }), 404, "VOLUME_TEMPLATE_NOT_FOUND");
    expectError(await raw(backend(), "POST", "/v1/volumes", { body: { template: { name: "not-a-tpl" } } }), 404, "VOLUME_TEMPLATE_NOT_FOUND");
    expect(await observe(backend())).toEqual(before);
  });
});

describe("clones", () => {
  it("answers at once with a pending volume that becomes available with the source's data", async () => {
    const src = await volumeWith("cl-src", { "c.txt": "clone me\n" });
    const before = await observe(backend());
    const res = await call(backend(), "POST", "/v1/volumes/clone", { name: "cl-src", vol_name: "cl-copy", tags: ["c1"] }, VolumeClonesEnvelopeSchema);
    expect(res.status).toBe(201);
    expect(res.body.status).toBe("success");
    expect(res.body.data.volumes).toEqual([{ status: "success", uuid: expect.any(String), name: "cl-copy", state: "pending" }]);
    const ready = await backend().client.volumes.waitFor("cl-copy", "available", { timeoutMs: 30_000 });
    expect(ready).toMatchObject({ name: "cl-copy", tags: ["c1"], size_mb: 8, persistent: true, template: null });
    expect(ready.clone).toMatchObject({ source: { uuid: src.uuid, name: "cl-src" }, progress: 100, message: null });
    expect(ready.clone?.finished_at).not.toBeNull();
    const after = await observe(backend());
    const disks = newDiskFiles(before, after);
    // Copy-on-write: the clone and the source each got a new head over one frozen layer.
    const contents = disks.map((f) => readFromDisk(diskPath(backend(), f), "/c.txt"));
    expect(contents).toEqual(disks.map(() => "clone me\n"));
    // The source is still an ordinary writable volume.
    expect(volumeOf(await api(backend(), "GET", "/v1/volumes/cl-src")).state).toBe("available");
    expect(volumeOf(await api(backend(), "PATCH", "/v1/volumes/cl-src", [{ prop: "size_mb", op: "set", value: 10 }])).size_mb).toBe(10);
  });

  it("names a clone after its source when vol_name is absent", async () => {
    await createVolume({ name: "cl-gen", size_mb: 8 });
    const res = await call(backend(), "POST", "/v1/volumes/clone", [{ uuid: (await backend().client.volumes.get("cl-gen")).uuid }], VolumeClonesEnvelopeSchema);
    expect(res.status).toBe(201);
    expect(res.body.data.volumes[0].name).toMatch(/^cl-gen-clone-[0-9a-f]{5}$/);
    await backend().client.volumes.waitFor(res.body.data.volumes[0].uuid, "available", { timeoutMs: 30_000 });
  });

  it("clones a template; the template cannot be deleted while the clone exists", async () => {
    await volumeWith("cl-tpl", { "t.txt": "from template\n" });
    const tpl = await makeTemplate({ name: "cl-tpl" });
    const { vol, content } = await createAndRead(async () => {
      const res = await call(backend(), "POST", "/v1/volumes/clone", { name: "cl-tpl", vol_name: "cl-of-tpl" }, VolumeClonesEnvelopeSchema);
      expect(res.body.data.volumes[0].state).toBe("pending");
      return backend().client.volumes.get("cl-of-tpl");
    }, "/t.txt");
    expect(content).toBe("from template\n");
    expect(vol.template).toEqual({ uuid: tpl.uuid, name: "cl-tpl" });
    expect(volumeOf(await api(backend(), "GET", "/v1/volumes/templates/cl-tpl")).clones).toBe(1);
    const before = await observe(backend());
    expectError(await raw(backend(), "DELETE", "/v1/volumes/templates/cl-tpl"), 409, "VOLUME_HAS_CLONES");
    expect(await observe(backend())).toEqual(before);
  });

  it("reports items of a bulk clone one by one: partial_success with the failed item's error and index", async () => {
    await createVolume({ name: "cl-bulk", size_mb: 8 });
    const res = await call(backend(), "POST", "/v1/volumes/clone", [{ name: "cl-bulk", vol_name: "cl-bulk-1" }, { name: "cl-missing" }], VolumeClonesEnvelopeSchema);
    expect(res.status).toBe(201);
    expect(res.body.status).toBe("partial_success");
    expect(res.body.data.volumes).toEqual([
      { status: "success", uuid: expect.any(String), name: "cl-bulk-1", state: "pending" },
      { status: "error", name: "cl-missing", message: "Volume 'cl-missing' not found", error: 404 },
    ]);
    expect(res.body.errors).toEqual([{ status: 404, code: "VOLUME_NOT_FOUND", message: "Volume 'cl-missing' not found", field: "[1]" }]);
    await backend().client.volumes.waitFor("cl-bulk-1", "available", { timeoutMs: 30_000 });
  });

  it("answers a clone whose every item fails with that error's status, and creates nothing", async () => {
    await createVolume({ name: "cl-taken", size_mb: 8 });
    const before = await observe(backend());
    const res = await raw(backend(), "POST", "/v1/volumes/clone", { body: [{ name: "cl-taken", vol_name: "cl-taken" }] });
    expectError(res, 409, "NAME_TAKEN", "A volume named 'cl-taken' already exists");
    expect(res.body.errors[0].field).toBe("[0]");
    expectError(await raw(backend(), "POST", "/v1/volumes/clone", { body: { name: "cl-nothing" } }), 404, "VOLUME_NOT_FOUND");
    expectError(await raw(backend(), "POST", "/v1/volumes/clone", { body: { vol_name: "x" } }), 400, "VALIDATION_FAILED", "set exactly one of 'uuid' or 'name' of the source");
    expect(await observe(backend())).toEqual(before);
  });
});

describe("instance templates convert their volumes", () => {
  it("turns a stopped instance and its volumes into templates; instances made from it get clones", async () => {
    const b = backend();
    await volumeWith("it-data", { "seed.txt": "seed\n" });
    instanceOf(await api(b, "POST", "/v1/instances", {
      name: "it-src", image: "base", autostart: false, tags: ["team-a", "tmp-x"], annotations: { owner: "ops", "note/x": "y" },
      volumes: [{ name: "it-data", at: "/data" }, { name: "it-scratch", size_mb: 8, at: "/scratch" }], ports: [{ guest_port: 8080 }],
    }));
    const res = await api(b, "POST", "/v1/instances/templates", { name: "it-src" });
    expect(res.status).toBe(201);
    const tpl = res.body.data.instances[0];
    expect(tpl).toMatchObject({ name: "it-src", state: "template" });
    const seen = await observe(b);
    expect(seen.instances.map((i) => i.name)).not.toContain("it-src");
    expect(seen.instanceTemplates.map((i) => i.name)).toContain("it-src");
    expect(seen.volumeTemplates.map((v) => v.name)).toEqual(expect.arrayContaining(["it-data", "it-scratch"]));
    expect(seen.volumes.map((v) => v.name)).not.toContain("it-data");

    const made = instanceOf(await api(b, "POST", "/v1/instances", {
      name: "it-made", template: { name: "it-src" }, autostart: false, tag_filters: ["team-*", "!tmp-*"], annotation_filters: ["owner"], tags: ["extra"],
    }));
    expect(made).toMatchObject({ state: "stopped", image: "base", template: { name: "it-src" }, tags: ["team-a", "extra"], annotations: { owner: "ops" } });
    expect(made.volumes.map((v) => [v.at, v.inline])).toEqual([["/data", true], ["/scratch", true]]);
    expect(made.ports).toEqual([expect.objectContaining({ guest_port: 8080 })]);
    for (const v of made.volumes) {
      const clone = volumeOf(await api(b, "GET", `/v1/volumes/${v.uuid}`));
      expect(clone.template?.name).toMatch(/^it-(data|scratch)$/);
    }

    const before = await observe(b);
    expectError(await raw(b, "DELETE", "/v1/instances/templates/it-src"), 409, "VOLUME_HAS_CLONES");
    expect(await observe(b)).toEqual(before);
    // Deleting the instance takes its (inline) clones with it; then the template can go.
    expect((await api(b, "DELETE", "/v1/instances/it-made")).status).toBe(200);
    expect((await api(b, "DELETE", "/v1/instances/templates/it-src")).status).toBe(200);
    expectError(await raw(b, "GET", "/v1/instances/templates/it-src"), 404, "TEMPLATE_NOT_FOUND");
  });

  it("answers a bulk conversion item by item, like the other bulk endpoints (the SDK's createMany relies on it)", async () => {
    const b = backend();
    instanceOf(await api(b, "POST", "/v1/instances", { name: "it-bulk-ok", image: "base", autostart: false }));
    const res = await raw(b, "POST", "/v1/instances/templates", { body: [{ name: "it-bulk-ok" }, { name: "it-bulk-missing" }] });
    // Either the whole request is refused and nothing converted, or each item reports its own result;
    // never an error answer while the first item was converted anyway.
    const converted = (await observe(b)).instanceTemplates.some((t) => t.name === "it-bulk-ok");
    if (res.status >= 400) expect({ status: res.status, converted }).toEqual({ status: res.status, converted: false });
    else {
      expect(res.body.status).toBe("partial_success");
      expect(res.body.data.instances.map((t: { name: string }) => t.name)).toEqual(["it-bulk-ok"]);
      expect(res.body.errors).toEqual([expect.objectContaining({ status: 404, code: "INSTANCE_NOT_FOUND", field: "[1]" })]);
    }
  });

  it("converts all of an instance's volumes or none: a volume shared with another instance stops it", async () => {
    const b = backend();
    await createVolume({ name: "it-shared", size_mb: 8 });
    instanceOf(await api(b, "POST", "/v1/instances", { name: "it-a", image: "base", autostart: false, volumes: [{ name: "it-a-own", size_mb: 8, at: "/own" }, { name: "it-shared", at: "/s", readonly: true }] }));
    instanceOf(await api(b, "POST", "/v1/instances", { name: "it-b", image: "base", autostart: false, volumes: [{ name: "it-shared", at: "/s", readonly: true }] }));
    const before = await observe(b);
    const res = await raw(b, "POST", "/v1/instances/templates", { body: { name: "it-a" } });
    expectError(res, 409, "VOLUME_IN_USE", "Cannot convert instance 'it-a' into a template: volume 'it-shared' is also attached to 'it-b'");
    expect(await observe(b)).toEqual(before);
  });
});
