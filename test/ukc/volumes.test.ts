// Unikraft Cloud's official SDK (`VolumesApi`) drives `vmbranch serve` through every method of the
// client, with real guests reading and writing the volumes: create, list and read, attach and
// detach (one and in bulk), resize, clone by id and in bulk, templates, PATCH and deletes. Each
// call's documented effect is asserted: the data a guest wrote is there for the next guest.
import { randomBytes } from "node:crypto";
import { VolumesApi, type models } from "@unikraft/cloud/api/platform";
import { eventually, itemsOf, methodsOf, oneOf, refusal, startUkc, waitConsole, type Ukc } from "./support";

jest.setTimeout(180_000);

let u: Ukc;
let V: Ukc["volumes"];
let I: Ukc["instances"];

beforeAll(async () => {
  u = await startUkc();
  V = u.volumes;
  I = u.instances;
}, 60_000);
afterAll(async () => {
  await u?.backend.stop();
});

/** vmbranch's own fields on top of the SDK's volume model. */
type Vol = models.Volume & { clone: { progress: number } | null; template: { name: string } | null; clones: number };

async function volume(id: string): Promise<Vol> {
  return oneOf<Vol>(await V.getVolumeByUuid(id), "volumes");
}

/** Start a stopped instance and wait until its guest has run to the end. */
async function runToEnd(name: string): Promise<void> {
  await I.startInstanceByUuid(name, { body: {} });
  await waitConsole(I, name, /VMBRANCH-EXIT 0/, 120_000);
  await eventually(`${name} stopped`, async () => ((await I.getInstanceByUuid(name)).data!.instances![0]!.state === "stopped" ? true : undefined));
}

const marker = `hello-${randomBytes(4).toString("hex")}`;

describe("volumes", () => {
  it("createVolume makes an empty ext4 volume; getVolumeByUuid and getVolumes read it", async () => {
    const created = oneOf<Vol>(await V.createVolume({ body: { name: "data", size_mb: 16, tags: ["ukc"] } }), "volumes");
    expect(created).toMatchObject({ status: "success", name: "data", state: "available", size_mb: 16, filesystem: "ext4", persistent: true });
    expect((await volume(created.uuid)).name).toBe("data");
    await V.createVolume({ body: { name: "other", size_mb: 8 } });
    expect(itemsOf<Vol>(await V.getVolumes(), "volumes").map((v) => v.name)).toEqual(["data", "other"]);
    expect(itemsOf<Vol>(await V.getVolumes({ tags: ["ukc"] }), "volumes").map((v) => v.name)).toEqual(["data"]);
    const some = await V.getVolumes({ name: ["data", "nope"] });
    expect(some.status).toBe("partial_success");
    expect(some.errors).toEqual([expect.objectContaining({ status: 404 })]);
    expect(await refusal(V.getVolumeByUuid("nope"))).toMatchObject({ status: 404, code: "VOLUME_NOT_FOUND" });
  });

  it("attachVolumeByUuid mounts it in a guest, which writes to it; detachVolumeByUuid takes it away", async () => {
    await I.createInstance({ body: { name: "writer", image: "base", autostart: false, args: ["sh", "-c", `echo ${marker} > /v/file && sync`] } });
    const attached = oneOf<Vol>(await V.attachVolumeByUuid("data", { body: { attach_to: { name: "writer" }, at: "/v" } }), "volumes");
    expect(attached.attached_to).toEqual([expect.objectContaining({ name: "writer" })]);
    await runToEnd("writer");
    const detached = oneOf<Vol>(await V.detachVolumeByUuid("data", { body: { from: { name: "writer" } } }), "volumes");
    expect(detached.attached_to).toEqual([]);
    expect(await refusal(V.detachVolumeByUuid("data", { body: { from: { name: "writer" } } }))).toMatchObject({ status: 400 });
  });

  it("updateVolumeByUuid grows it; updateVolumes applies one operation per item and refuses a shrink alone", async () => {
    expect(oneOf<Vol>(await V.updateVolumeByUuid("data", { body: { prop: "size_mb", op: "set", value: 32 } }), "volumes").size_mb).toBe(32);
    const res = await V.updateVolumes({
      body: [
        { name: "data", prop: "tags", op: "add", value: ["grown"], id: "t" },
        { name: "data", prop: "size_mb", op: "set", value: 8, id: "s" },
      ],
    });
    expect(res.status).toBe("partial_success");
    expect(res.data!.volumes!.map((v) => [v.status, v.id ?? null])).toEqual([["success", "t"], ["error", null]]);
    expect(res.errors).toEqual([expect.objectContaining({ status: 400 })]);
    expect((await volume("data")).tags).toEqual(["ukc", "grown"]);
  });

  it("cloneVolumeByUuid and cloneVolumes copy it (pending, then available) with the data the guest wrote", async () => {
    const one = oneOf<Vol>(await V.cloneVolumeByUuid("data", { body: { vol_name: "copy-1", tags: ["c"] } }), "volumes");
    expect(one).toMatchObject({ status: "success", name: "copy-1", state: "pending" });
    const bulk = await V.cloneVolumes({ body: [{ name: "data", vol_name: "copy-2" }, { name: "nope" }] });
    expect(bulk.status).toBe("partial_success");
    expect(bulk.data!.volumes!.map((v) => [v.status, v.name ?? null])).toEqual([["success", "copy-2"], ["error", "nope"]]);
    for (const name of ["copy-1", "copy-2"]) {
      const v = await eventually(`${name} available`, async () => ((await volume(name)).state === "available" ? volume(name) : undefined));
      expect(v).toMatchObject({ size_mb: 32, clone: { progress: 100 } });
    }
    expect((await volume("copy-1")).tags).toEqual(["c"]);
  });

  it("attachVolumes mounts several in a guest that reads the copies and sees the grown size; detachVolumes undoes it", async () => {
    await I.createInstance({
      body: { name: "reader", image: "base", autostart: false, args: ["sh", "-c", "echo one=$(cat /r1/file) two=$(cat /r2/file); df -k /d | tail -n 1"] },
    });
    const res = await V.attachVolumes({
      body: [
        { name: "copy-1", attach_to: { name: "reader" }, at: "/r1", readonly: true },
        { name: "copy-2", attach_to: { name: "reader" }, at: "/r2" },
        { name: "data", attach_to: { name: "reader" }, at: "/d" },
        { name: "copy-1", attach_to: { name: "reader" }, at: "/again" },
      ],
    });
    expect(res.status).toBe("partial_success");
    expect(res.data!.volumes!.map((v) => v.status)).toEqual(["success", "success", "success", "error"]);
    await runToEnd("reader");
    await waitConsole(I, "reader", new RegExp(`one=${marker} two=${marker}`));
    // The filesystem grew with the volume: more 1 KiB blocks than 16 MiB could hold.
    const df = await waitConsole(I, "reader", /\S+\s+(\d+)\s+\d+\s+\d+\s+\d+%\s+\/d/);
    expect(Number(df[1])).toBeGreaterThan(16 * 1024);
    const detached = await V.detachVolumes({ body: [{ name: "copy-1", from: { name: "reader" } }, { name: "copy-2" }, { name: "data" }] });
    expect(itemsOf<Vol>(detached, "volumes").map((v) => [v.name, v.attached_to])).toEqual([["copy-1", []], ["copy-2", []], ["data", []]]);
  });

  it("createTemplateVolume turns a volume into a template; the template calls read, update and delete it", async () => {
    const res = await V.createTemplateVolume({ body: [{ name: "copy-2" }] });
    expect(oneOf<Vol>(res, "volumes")).toMatchObject({ name: "copy-2", state: "template" });
    expect(itemsOf<Vol>(await V.getTemplateVolumes(), "volumes").map((v) => v.name)).toEqual(["copy-2"]);
    expect(itemsOf<Vol>(await V.getVolumes(), "volumes").map((v) => v.name)).not.toContain("copy-2");
    const tpl = oneOf<Vol>(await V.getTemplateVolumeByUuid("copy-2"), "volumes");
    expect(oneOf<Vol>(await V.getTemplateVolumeByUuid(tpl.uuid), "volumes").name).toBe("copy-2");
    const fromTpl = oneOf<Vol>(await V.createVolume({ body: { name: "from-tpl", template: { name: "copy-2" } } }), "volumes");
    expect(fromTpl).toMatchObject({ state: "available", size_mb: 32, template: { name: "copy-2" } });
    expect(oneOf<Vol>(await V.updateTemplateVolumeByUuid("copy-2", { body: { prop: "tags", op: "set", value: ["golden"] } }), "volumes").tags).toEqual(["golden"]);
    expect(await refusal(V.updateTemplateVolumeByUuid("copy-2", { body: { prop: "size_mb" as "tags", op: "set", value: 64 } }))).toMatchObject({ status: 409, code: "VOLUME_IS_TEMPLATE" });
    const locked = await V.updateTemplateVolumes({ body: [{ name: "copy-2", prop: "delete_lock", op: "set", value: true, id: "l" }] });
    expect(oneOf<Vol & { id: string }>(locked, "volumes")).toMatchObject({ delete_lock: true, id: "l" });
    expect(await refusal(V.deleteTemplateVolumeByUuid("copy-2"))).toMatchObject({ status: 409, code: "DELETE_LOCKED" });
    await V.updateTemplateVolumes({ body: [{ name: "copy-2", prop: "delete_lock", op: "set", value: false }] });
    // A template with dependent volumes stays.
    expect(await refusal(V.deleteTemplateVolumes({ body: [{ name: "copy-2" }] }))).toMatchObject({ status: 409, code: "VOLUME_HAS_CLONES" });
    await V.deleteVolumeByUuid("from-tpl");
    expect(oneOf<Vol>(await V.deleteTemplateVolumes({ body: [{ name: "copy-2" }] }), "volumes")).toMatchObject({ status: "success", name: "copy-2" });
    await V.createVolume({ body: { name: "t2", size_mb: 8 } });
    await V.createTemplateVolume({ body: [{ name: "t2" }] });
    expect(oneOf<Vol>(await V.deleteTemplateVolumeByUuid("t2"), "volumes").name).toBe("t2");
    expect(itemsOf<Vol>(await V.getTemplateVolumes(), "volumes")).toEqual([]);
  });

  it("deleteVolumeByUuid and deleteVolumes remove volumes, one by one and item by item", async () => {
    expect(await refusal(V.deleteVolumeByUuid("nope"))).toMatchObject({ status: 404 });
    expect(oneOf<Vol>(await V.deleteVolumeByUuid("copy-1"), "volumes").name).toBe("copy-1");
    await I.deleteInstances({ body: [{ name: "writer" }, { name: "reader" }] });
    const res = await V.deleteVolumes({ body: [{ name: "data" }, { name: "other" }, { name: "nope" }] });
    expect(res.status).toBe("partial_success");
    expect(res.data!.volumes!.map((v) => [v.status, v.name ?? null])).toEqual([["success", "data"], ["success", "other"], ["error", "nope"]]);
    expect(itemsOf<Vol>(await V.getVolumes(), "volumes")).toEqual([]);
  });

  it("used every method of the SDK's VolumesApi", () => {
    expect([...V.called].sort()).toEqual(methodsOf(VolumesApi));
  });
});
