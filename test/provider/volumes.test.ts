// Provider methods of Volume, VolumeTemplate and VolumeClone against a real `vmbranch serve`:
// create/read/update/delete, every row of the tables in docs/provider.md, check failures that the API
// refuses with the very same words, drift, out-of-band deletion, that a template made from
// a volume leaves that volume (and its resource) untouched, and the host each is on (a clone's
// `host` input, every `hostState` output) as a single-host serve reports it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { messages } from "vmbranch/sdk";
import * as volume from "vmbranch/provider/impl/volume";
import * as volumeTemplate from "vmbranch/provider/impl/volume-template";
import * as volumeClone from "vmbranch/provider/impl/volume-clone";
import { startProviderHarness, type ProviderHarness } from "./support/harness";
import { checked, createResource, diffResource, updateResource, withoutProvider, type Deployed } from "./support/engine-steps";

jest.setTimeout(120_000);

let h: ProviderHarness;
let hostDir: string;
beforeAll(async () => {
  hostDir = await mkdtemp(join(tmpdir(), "vmb-provider-hostpath-"));
  h = await startProviderHarness({ allowHostPath: [hostDir] });
});
afterAll(async () => {
  await h?.teardown();
  await rm(hostDir, { recursive: true, force: true });
});

const track = async (kind: "volume" | "template", d: Promise<Deployed>) => h.created(kind, d);

/** The name of the one host this serve has (its own). */
async function selfHost(): Promise<string> {
  const hosts = await h.backend.client.hosts.list();
  expect(hosts.map((x) => x.state)).toEqual(["online"]);
  return hosts[0]!.name;
}

describe("Volume", () => {
  let data: Deployed;

  test("create returns every input and the computed fields; read and diff see no change", async () => {
    data = await track("volume", createResource(volume, { namePrefix: "data", sizeMb: 16, tags: ["app"] }));
    expect(data.outs).toMatchObject({ schemaVersion: 1, name: expect.stringMatching(/^data-[0-9a-f]{7}$/), autoNamed: true, sizeMb: 16, filesystem: "ext4", kind: "block", state: "available", tags: ["app"], deleteLock: false, attachedTo: [], template: null, hostPath: null });
    expect(data.id).toBe(data.outs.uuid);
    expect(data.outs).toMatchObject({ host: await selfHost(), hostState: "online" });
    const read = await volume.read(data.id, data.outs);
    expect(read).toEqual({ id: data.id, props: data.outs, inputs: withoutProvider(data.inputs) });
    expect(await diffResource(volume, data, { namePrefix: "data", sizeMb: 16, tags: ["app"] })).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });

  test("grows, retags and locks in place; a locked volume is not deleted; unlocked it is", async () => {
    const updated = await updateResource(volume, data, { namePrefix: "data", sizeMb: 32, tags: ["app", "blue"], deleteLock: true });
    data = updated;
    expect(updated.diff).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(data.outs).toMatchObject({ sizeMb: 32, tags: ["app", "blue"], deleteLock: true });
    const server = await h.backend.client.volumes.get(data.id);
    expect(server).toMatchObject({ size_mb: 32, tags: ["app", "blue"], delete_lock: true });
    await expect(volume.remove(data.id, data.outs)).rejects.toThrow(/delete lock/);
    data = await updateResource(volume, data, { namePrefix: "data", sizeMb: 32, tags: ["app", "blue"] });
    expect(data.outs.deleteLock).toBe(false);
  });

  test("a shrink fails check with the API's message, which is what the API answers too", async () => {
    const { failures } = await volume.check(data.inputs, { namePrefix: "data", sizeMb: 8 });
    expect(failures).toEqual([{ property: "sizeMb", reason: messages.volumeShrink(32, 8) }]);
    const res = await h.backend.http("PATCH", `/v1/volumes/${data.id}`, [{ prop: "size_mb", op: "set", value: 8 }]);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].message).toBe(failures[0]!.reason);
  });

  test.each([
    ["both sizeMb and template", { sizeMb: 8, template: "t" }, { size_mb: 8, template: { name: "t" } }],
    ["neither sizeMb, template nor hostPath", {}, {}],
    ["hostPath with sizeMb", { hostPath: "/srv/x", sizeMb: 8 }, { host_path: "/srv/x", size_mb: 8 }],
    ["a relative hostPath", { hostPath: "srv" }, { host_path: "srv" }],
  ])("check refuses %s with the message the API answers", async (_what, news, body) => {
    const { failures } = await volume.check({}, { namePrefix: "v", ...news });
    const res = await h.backend.http("POST", "/v1/volumes", body);
    expect(res.status).toBe(400);
    expect(failures.map((f) => f.reason)).toContain(res.body.errors[0].message);
  });

  test.each([
    ["name", { name: "renamed-volume" }],
    ["filesystem", { filesystem: "other" }],
    ["template", { template: "some-template" }],
  ])("a change of %s replaces the volume", async (field, change) => {
    const d = await volume.diff(data.id, data.outs, { ...data.inputs, ...change });
    expect(d.replaces).toEqual([field]);
  });

  test("a managed volume: hostPath, uid and gid replace it", async () => {
    const managed = await track("volume", createResource(volume, { namePrefix: "shared", name: "shared-dir", hostPath: hostDir, uid: 1000, gid: 1000 }));
    expect(managed.outs).toMatchObject({ kind: "managed", hostPath: hostDir, uid: 1000, gid: 1000, sizeMb: null, filesystem: null });
    for (const [field, value] of [["hostPath", "/other"], ["uid", 0], ["gid", 0]] as const) {
      expect(await volume.diff(managed.id, managed.outs, { ...managed.inputs, [field]: value })).toEqual({ changes: true, replaces: [field], deleteBeforeReplace: true });
    }
    await volume.remove(managed.id, managed.outs);
  });

  test("refresh reports drift made outside Pulumi, and the next update repairs it", async () => {
    await h.backend.client.volumes.update(data.id, [{ prop: "tags", op: "set", value: ["by-hand"] }]);
    const read = await volume.read(data.id, data.outs);
    expect(read.props).toMatchObject({ tags: ["by-hand"] });
    const refreshed = { ...data, outs: read.props as Record<string, unknown> };
    const inputs = await checked(volume, { namePrefix: "data", sizeMb: 32, tags: ["app", "blue"] }, refreshed);
    expect(await volume.diff(data.id, refreshed.outs, inputs)).toMatchObject({ changes: true, replaces: [] });
    data = await updateResource(volume, refreshed, { namePrefix: "data", sizeMb: 32, tags: ["app", "blue"] });
    expect((await h.backend.client.volumes.get(data.id)).tags).toEqual(["app", "blue"]);
  });

  describe("templates and clones", () => {
    let golden: Deployed;
    let fromTemplate: Deployed;
    let clone: Deployed;
    let volumeCopy: Deployed;

    test("a VolumeTemplate freezes a copy: the source stays a volume and its resource sees no drift", async () => {
      golden = await track("template", createResource(volumeTemplate, { namePrefix: "golden", sourceVolume: data.outs.name, tags: ["golden"] }));
      expect(golden.outs).toMatchObject({ state: "template", sourceVolume: data.outs.name, sourceVolumeName: data.outs.name, sourceVolumeUuid: data.id, sizeMb: 32, tags: ["golden"] });
      const source = await volume.read(data.id, data.outs);
      expect(source.props).toEqual(data.outs);
      expect(await volume.diff(data.id, source.props as Record<string, unknown>, data.inputs)).toMatchObject({ changes: false });
      expect(await volumeTemplate.read(golden.id, golden.outs)).toEqual({ id: golden.id, props: golden.outs, inputs: withoutProvider(golden.inputs) });
    });

    test("a VolumeClone of the template and of a volume become available (on the host asked for, else its source's); a Volume can start from the template", async () => {
      const self = await selfHost();
      expect(golden.outs).toMatchObject({ hostState: "online" });
      clone = await track("volume", createResource(volumeClone, { namePrefix: "clone", source: golden.outs.name, tags: ["c"] }));
      expect(clone.outs).toMatchObject({ state: "available", source: golden.outs.name, sourceName: golden.outs.name, template: golden.outs.name, sizeMb: 32, tags: ["c"], host: self, hostState: "online" });
      volumeCopy = await track("volume", createResource(volumeClone, { namePrefix: "copy", source: data.id, host: self }));
      expect(volumeCopy.outs).toMatchObject({ state: "available", source: data.id, sourceUuid: data.id, template: null, host: self, hostState: "online" });
      expect((await h.backend.client.volumes.get(volumeCopy.id)).host).toBe(self);
      expect(await volumeClone.diff(volumeCopy.id, volumeCopy.outs, volumeCopy.inputs)).toMatchObject({ changes: false });
      expect((await diffResource(volumeClone, volumeCopy, { namePrefix: "copy", source: data.id, host: "elsewhere" })).replaces).toEqual(["host"]);
      fromTemplate = await track("volume", createResource(volume, { namePrefix: "restored", template: golden.outs.name }));
      expect(fromTemplate.outs).toMatchObject({ state: "available", template: golden.outs.name, sizeMb: 32 });
      expect(await volume.diff(fromTemplate.id, fromTemplate.outs, fromTemplate.inputs)).toMatchObject({ changes: false });
      expect(await volumeClone.diff(clone.id, clone.outs, clone.inputs)).toMatchObject({ changes: false });
    });

    test("tags and delete locks of templates and clones change in place; name and source replace", async () => {
      golden = await updateResource(volumeTemplate, golden, { namePrefix: "golden", sourceVolume: data.outs.name, tags: ["golden", "v2"], deleteLock: true });
      expect((await h.backend.client.volumes.templates.get(golden.id)).delete_lock).toBe(true);
      golden = await updateResource(volumeTemplate, golden, { namePrefix: "golden", sourceVolume: data.outs.name, tags: ["golden", "v2"] });
      clone = await updateResource(volumeClone, clone, { namePrefix: "clone", source: golden.outs.name, tags: ["c", "d"] });
      expect((await h.backend.client.volumes.get(clone.id)).tags).toEqual(["c", "d"]);
      expect((await diffResource(volumeTemplate, golden, { namePrefix: "golden", sourceVolume: volumeCopy.outs.name })).replaces).toEqual(["sourceVolume"]);
      expect((await diffResource(volumeTemplate, golden, { namePrefix: "golden", name: "fixed", sourceVolume: data.outs.name })).replaces).toEqual(["name"]);
      expect((await diffResource(volumeClone, clone, { namePrefix: "clone", source: data.outs.name })).replaces).toEqual(["source"]);
    });

    test("a template with dependent volumes is not deleted: the API says why", async () => {
      await expect(volumeTemplate.remove(golden.id, golden.outs)).rejects.toThrow(/dependent volume/);
    });

    test("a clone deleted outside Pulumi is dropped by refresh, and deleting it again is fine", async () => {
      await h.backend.client.volumes.delete(volumeCopy.id);
      expect(await volumeClone.read(volumeCopy.id, volumeCopy.outs)).toEqual({});
      await expect(volumeClone.remove(volumeCopy.id, volumeCopy.outs)).resolves.toBeUndefined();
    });

    test("delete in dependency order leaves nothing", async () => {
      await volumeClone.remove(clone.id, clone.outs);
      await volume.remove(fromTemplate.id, fromTemplate.outs);
      await volumeTemplate.remove(golden.id, golden.outs);
      await volume.remove(data.id, data.outs);
      expect(await volumeTemplate.read(golden.id, golden.outs)).toEqual({});
      expect(await volume.read(data.id, data.outs)).toEqual({});
      expect(await h.backend.client.volumes.list()).toEqual([]);
      expect(await h.backend.client.volumes.templates.list()).toEqual([]);
    });
  });
});
