// In-place operations of an Instance (PATCH ops, volume attach/detach), and the volume
// resources' check, diff and outputs: table rows, shrink, the API's messages, unknown values,
// a clone's host, and the host and host state the server reports.
import { messages, type Instance } from "vmbranch/sdk";
import { patchOps, volumePatchOps } from "vmbranch/provider/impl/instance-reconcile";
import { instanceOutputs } from "vmbranch/provider/impl/instance-outputs";
import * as volume from "vmbranch/provider/impl/volume";
import * as volumeTemplate from "vmbranch/provider/impl/volume-template";
import * as volumeClone from "vmbranch/provider/impl/volume-clone";
import { volumeInputsAfterRefresh } from "vmbranch/provider/impl/volume-common";
import { UNKNOWN } from "vmbranch/provider/impl/values";
import { fakeInstance, fakeVolume } from "../helpers/fake-api";
import * as connection from "vmbranch/provider/impl/connection";

// A token is configured: these tests are about the inputs (a missing token has its own test).
beforeAll(() => connection.configure({ get: (k) => (k === "vmbranch:token" ? "test-token" : undefined) }));
afterAll(() => connection.resetConnection());

const vol = (name: string, at: string, extra: Partial<Instance["volumes"][number]> = {}) => ({
  uuid: `00000000-0000-4000-8000-${name.padStart(12, "0").slice(-12).replace(/[^0-9a-f]/g, "a")}`,
  name, at, readonly: false, kind: "block" as const, inline: false, ...extra,
});

describe("instance PATCH operations", () => {
  const cur = fakeInstance({ tags: ["a", "b"], annotations: { k: "1" }, ports: [{ guest_port: 80, host_port: 41000, host_ip: "127.0.0.1", protocol: "tcp" }] });

  it("changes nothing the user left unset, and nothing that already matches", () => {
    expect(patchOps(cur, { image: "base" })).toEqual([]);
    expect(patchOps(cur, { image: "base", tags: ["b", "a"], annotations: { k: "1" }, ports: [{ guestPort: 80 }] })).toEqual([]);
  });

  it("sets tags, annotations, the delete lock and ports of an image instance exactly", () => {
    expect(patchOps(cur, { image: "base", tags: ["c"], annotations: {}, deleteLock: true, ports: [{ guestPort: 80, hostPort: 8080 }] })).toEqual([
      { prop: "delete_lock", op: "set", value: true },
      { prop: "tags", op: "set", value: ["c"] },
      { prop: "annotations", op: "set", value: {} },
      { prop: "ports", op: "set", value: [{ guest_port: 80, protocol: "tcp", host_port: 8080 }] },
    ]);
  });

  it("on a branch adds the user's tags and removes only those the user dropped", () => {
    const branch = fakeInstance({ tags: ["inherited", "mine", "old"], annotations: { src: "1", own: "x" } });
    const prev = instanceOutputs(branch, { branchFrom: "db", tags: ["mine", "old"], annotations: { own: "x" } });
    expect(patchOps(branch, { branchFrom: "db", tags: ["mine", "new"], annotations: { own: "y" } }, prev)).toEqual([
      { prop: "tags", op: "add", value: ["new"] },
      { prop: "tags", op: "del", value: ["old"] },
      { prop: "annotations", op: "add", value: { own: "y" } },
    ]);
  });
});

describe("instance volume operations", () => {
  it("detaches what is no longer wanted, then attaches what is new; inline volumes are left alone", () => {
    const cur = fakeInstance({ volumes: [vol("data", "/data"), vol("old", "/old"), vol("scratch", "/scratch", { inline: true })] });
    const ops = volumePatchOps(cur, { image: "base", volumes: [{ volume: "data", at: "/data" }, { volume: "logs", at: "/logs", readonly: true }, { sizeMb: 8, at: "/scratch" }] });
    expect(ops).toEqual([
      { prop: "volumes", op: "del", value: vol("old", "/old").uuid },
      { prop: "volumes", op: "add", value: { name: "logs", at: "/logs", readonly: true } },
    ]);
  });

  it("moves a volume to a new mount point, matches by uuid too, and does nothing when unset", () => {
    const cur = fakeInstance({ volumes: [vol("data", "/data")] });
    expect(volumePatchOps(cur, { image: "base", volumes: [{ volume: "data", at: "/srv" }] })).toEqual([
      { prop: "volumes", op: "del", value: vol("data", "/data").uuid },
      { prop: "volumes", op: "add", value: { name: "data", at: "/srv", readonly: false } },
    ]);
    expect(volumePatchOps(cur, { image: "base", volumes: [{ volume: vol("data", "/data").uuid.toUpperCase(), at: "/data" }] })).toEqual([]);
    expect(volumePatchOps(cur, { image: "base" })).toEqual([]);
  });
});

describe("Volume check and diff", () => {
  const check = (news: Record<string, unknown>, olds: Record<string, unknown> = {}) => volume.check(olds, { namePrefix: "data", ...news });

  it("reports the API's combination messages and a shrink", async () => {
    expect((await check({})).failures).toContainEqual({ property: "sizeMb", reason: messages.volumeSizeOrTemplate });
    expect((await check({ sizeMb: 8, template: "t" })).failures).toContainEqual({ property: "sizeMb", reason: messages.volumeSizeOrTemplate });
    expect((await check({ hostPath: "/srv/x", sizeMb: 8 })).failures).toContainEqual({ property: "sizeMb", reason: messages.hostPathExclusive("size_mb") });
    expect((await check({ hostPath: "srv" })).failures).toContainEqual({ property: "hostPath", reason: messages.hostPathNotAbsolute("srv") });
    expect((await check({ sizeMb: 8, uid: 1 })).failures.map((f) => f.property)).toEqual(["uid"]);
    expect((await check({ sizeMb: 32 }, { name: "d", autoNamed: false, sizeMb: 64 })).failures).toEqual([{ property: "sizeMb", reason: messages.volumeShrink(64, 32) }]);
    expect((await check({ sizeMb: 128 }, { name: "d", autoNamed: false, sizeMb: 64 })).failures).toEqual([]);
    expect((await check({ sizeMb: 8, colour: "red" })).failures).toEqual([{ property: "colour", reason: "Unknown input 'colour'" }]);
  });

  it("lets unknown values through but keeps combinations", async () => {
    expect((await check({ sizeMb: UNKNOWN, name: UNKNOWN, tags: [UNKNOWN] })).failures).toEqual([]);
    expect((await check({ sizeMb: UNKNOWN, template: UNKNOWN })).failures).toContainEqual({ property: "sizeMb", reason: messages.volumeSizeOrTemplate });
  });

  const outs = (over: Record<string, unknown> = {}) =>
    volume.volumeOutputs(fakeVolume({ name: "d", size_mb: 64 }), { name: "d", autoNamed: false, sizeMb: 64, ...over }) as unknown as Record<string, unknown>;

  it.each(["name", "filesystem", "hostPath", "uid", "gid", "template", "host"])("replaces on %s (delete first: the name is fixed)", async (field) => {
    const value = { name: "e", filesystem: "xfs", hostPath: "/srv/x", uid: 1, gid: 1, template: "t", host: "box-2" }[field];
    expect(await volume.diff("id", outs(), { name: "d", sizeMb: 64, [field]: value })).toEqual({ changes: true, replaces: [field], deleteBeforeReplace: true });
  });

  it.each([["sizeMb", 128], ["tags", ["x"]], ["deleteLock", true]])("updates %s in place", async (field, value) => {
    expect(await volume.diff("id", outs(), { name: "d", sizeMb: 64, [field]: value })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });

  it("reports no changes for the same inputs, unset ones, and an auto-name", async () => {
    expect(await volume.diff("id", outs(), { name: "d", sizeMb: 64, __provider: "p" })).toMatchObject({ changes: false });
    expect(await volume.diff("id", outs(), { name: "d" })).toMatchObject({ changes: false });
    const auto = outs({ name: "d", autoNamed: true });
    expect(await volume.diff("id", auto, { name: "e", autoNamed: true, sizeMb: 64 })).toEqual({ changes: true, replaces: ["name"], deleteBeforeReplace: false });
  });
});

describe("VolumeTemplate and VolumeClone check and diff", () => {
  it("needs a source and uses mode copy", async () => {
    expect((await volumeTemplate.check({}, { namePrefix: "golden" })).failures.map((f) => f.property)).toEqual(["sourceVolume"]);
    expect((await volumeClone.check({}, { namePrefix: "c" })).failures.map((f) => f.property)).toEqual(["source"]);
    const t = await volumeTemplate.check({}, { namePrefix: "golden", sourceVolume: "data" });
    expect(t.failures).toEqual([]);
    expect(volumeTemplate.volumeTemplateRequest(t.inputs as unknown as Record<string, unknown>)).toEqual({ name: "data", mode: "copy", template_name: t.inputs.name });
    expect((await volumeClone.check({}, { namePrefix: "c", source: UNKNOWN, tags: [UNKNOWN] })).failures).toEqual([]);
    expect((await volumeClone.check({}, { namePrefix: "c", source: "s", name: "bad name" })).failures.map((f) => f.property)).toEqual(["name"]);
  });

  it("replaces on name and source, updates tags and delete lock", async () => {
    const tpl = volumeTemplate.volumeTemplateOutputs(fakeVolume({ name: "g", state: "template" }), { name: "g", autoNamed: true, sourceVolume: "data" }) as unknown as Record<string, unknown>;
    expect(await volumeTemplate.diff("id", tpl, { name: "g", autoNamed: true, sourceVolume: "other" })).toEqual({ changes: true, replaces: ["sourceVolume"], deleteBeforeReplace: false });
    expect(await volumeTemplate.diff("id", tpl, { name: "g", autoNamed: true, sourceVolume: "data", tags: ["t"] })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(await volumeTemplate.diff("id", tpl, { name: "g", autoNamed: true, sourceVolume: "data" })).toMatchObject({ changes: false });
    const clone = volumeClone.volumeCloneOutputs(fakeVolume({ name: "c" }), { name: "c", autoNamed: false, source: "g" }) as unknown as Record<string, unknown>;
    expect(await volumeClone.diff("id", clone, { name: "c", source: UNKNOWN })).toEqual({ changes: true, replaces: ["source"], deleteBeforeReplace: true });
    expect(await volumeClone.diff("id", clone, { name: "c", source: "g", deleteLock: true })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });

  it("sends a clone's host in its request, a placeholder while unknown, and nothing when unset", async () => {
    const c = await volumeClone.check({}, { namePrefix: "c", source: "g", host: "box-2" });
    expect(c.failures).toEqual([]);
    expect(volumeClone.volumeCloneRequest(c.inputs as unknown as Record<string, unknown>)).toEqual({ name: "g", vol_name: c.inputs.name, host: "box-2" });
    expect((await volumeClone.check({}, { namePrefix: "c", source: "g", host: UNKNOWN })).failures).toEqual([]);
    expect(volumeClone.volumeCloneRequest({ source: "g", name: "c", host: UNKNOWN })).toMatchObject({ host: "unknown-during-preview" });
    expect(volumeClone.volumeCloneRequest({ source: "g", name: "c" })).not.toHaveProperty("host");
    expect((await volumeClone.check({}, { namePrefix: "c", source: "g", host: "bad host" })).failures.map((f) => f.property)).toEqual(["host"]);
  });

  it("replaces a clone whose host changes; the host the server placed it on is no change", async () => {
    const clone = volumeClone.volumeCloneOutputs(fakeVolume({ name: "c", host: "box-1" }), { name: "c", autoNamed: false, source: "g" }) as unknown as Record<string, unknown>;
    expect(await volumeClone.diff("id", clone, { name: "c", source: "g", host: "box-2" })).toEqual({ changes: true, replaces: ["host"], deleteBeforeReplace: true });
    expect(await volumeClone.diff("id", clone, { name: "c", source: "g", host: UNKNOWN })).toMatchObject({ changes: true, replaces: ["host"] });
    expect(await volumeClone.diff("id", clone, { name: "c", source: "g", host: "box-1" })).toMatchObject({ changes: false });
    expect(await volumeClone.diff("id", clone, { name: "c", source: "g" })).toMatchObject({ changes: false });
  });
});

describe("volume resources: host and host state outputs", () => {
  const offline = fakeVolume({ name: "v", host: "box-2", host_state: "offline" });
  const older = fakeVolume({ name: "v", host: undefined, host_state: undefined });

  it("a clone reports where the server placed it and its host's state, null from a server that sends neither", () => {
    expect(volumeClone.volumeCloneOutputs(offline, { name: "v", source: "g" })).toMatchObject({ host: "box-2", hostState: "offline" });
    expect(volumeClone.volumeCloneOutputs(older, { name: "v", source: "g" })).toMatchObject({ host: null, hostState: null });
  });

  it("a volume and a template report their host's state too", () => {
    expect(volume.volumeOutputs(offline, { name: "v", sizeMb: 64 })).toMatchObject({ host: "box-2", hostState: "offline" });
    expect(volume.volumeOutputs(older, { name: "v", sizeMb: 64 })).toMatchObject({ host: null, hostState: null });
    expect(volumeTemplate.volumeTemplateOutputs({ ...offline, state: "template" }, { name: "v", sourceVolume: "d" })).toMatchObject({ hostState: "offline" });
    expect(volumeTemplate.volumeTemplateOutputs({ ...older, state: "template" }, { name: "v", sourceVolume: "d" })).toMatchObject({ hostState: null });
  });
});

describe("volume resources: triggers, timeouts, and what a refresh reports", () => {
  const tpl = (over: Record<string, unknown> = {}) =>
    volumeTemplate.volumeTemplateOutputs(fakeVolume({ name: "g", state: "template" }), { name: "g", autoNamed: true, sourceVolume: "data", ...over }) as unknown as Record<string, unknown>;

  it("replaces a template or a clone when its triggers change, and refuses triggers that are not a list", async () => {
    expect(await volumeTemplate.diff("id", tpl({ triggers: ["job-1"] }), { name: "g", autoNamed: true, sourceVolume: "data", triggers: ["job-2"] })).toEqual({ changes: true, replaces: ["triggers"], deleteBeforeReplace: false });
    expect(await volumeTemplate.diff("id", tpl({ triggers: ["job-1"] }), { name: "g", autoNamed: true, sourceVolume: "data", triggers: [UNKNOWN] })).toMatchObject({ replaces: ["triggers"] });
    expect(await volumeTemplate.diff("id", tpl({ triggers: ["job-1"] }), { name: "g", autoNamed: true, sourceVolume: "data", triggers: ["job-1"] })).toMatchObject({ changes: false });
    const clone = volumeClone.volumeCloneOutputs(fakeVolume({ name: "c" }), { name: "c", autoNamed: true, source: "g", triggers: [1] }) as unknown as Record<string, unknown>;
    expect(await volumeClone.diff("id", clone, { name: "c", autoNamed: true, source: "g", triggers: [2] })).toEqual({ changes: true, replaces: ["triggers"], deleteBeforeReplace: false });
    expect((await volumeClone.check({}, { namePrefix: "c", source: "g", triggers: "v2" })).failures).toEqual([{ property: "triggers", reason: "'triggers' must be a list of values (any values; a change replaces the resource)" }]);
    expect((await volumeTemplate.check({}, { namePrefix: "g", sourceVolume: "d", triggers: [UNKNOWN, { any: ["thing"] }] })).failures).toEqual([]);
  });

  it("an update stores a timeouts-only change (delete reads its deadline from the state)", async () => {
    const olds = volume.volumeOutputs(fakeVolume({ name: "d", size_mb: 64 }), { name: "d", sizeMb: 64 }) as unknown as Record<string, unknown>;
    expect(await volume.diff("id", olds, { name: "d", sizeMb: 64, timeouts: { delete: "10m" } })).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(await volumeTemplate.diff("id", tpl({ timeouts: { delete: 60 } }), { name: "g", autoNamed: true, sourceVolume: "data" })).toMatchObject({ changes: true, replaces: [] });
  });

  it("a refresh reports the inputs the program gave, at the server's values where they drifted", () => {
    const given = { name: "d", namePrefix: "d", autoNamed: false, sizeMb: 64, tags: ["a"] };
    const outs = volume.volumeOutputs(fakeVolume({ name: "d", size_mb: 128, tags: ["a", "by-hand"], delete_lock: true }), given) as unknown as Record<string, unknown>;
    expect(volumeInputsAfterRefresh(outs)).toEqual({ ...given, sizeMb: 128, tags: ["a", "by-hand"], deleteLock: true });
    const { managedInputs: _m, ...written010 } = outs;
    expect(volumeInputsAfterRefresh(written010)).toBeUndefined();
  });
});
