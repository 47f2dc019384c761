// Block volumes end to end through real HTTP, without booting a VM (docs/api.md, "Volumes"): create
// (ext4 by default, of the size asked), list with the `tags` AND filter, get by uuid or name, PATCH
// (tags set/add/del, delete_lock, size_mb grow — the filesystem grows too — and shrink refused),
// delete (refused under a delete lock or while attached), and import of a tar stream into an empty
// volume (the files land inside the ext4). Disk contents are read on the host with qemu-img and
// e2fsprogs. Every refusal must leave rows and files as they were.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Volume } from "../../sdk";
import {
  api,
  diskPath,
  expectError,
  filesystemBytes,
  newDiskFiles,
  observe,
  raw,
  readFromDisk,
  tarWithEntry,
  useBackend,
  useTempDir,
  volumeOf,
} from "./support";

jest.setTimeout(60_000);
const backend = useBackend();
const tmp = useTempDir("volumes-test");
const MIB = 1024 * 1024;

async function createVolume(body: Record<string, unknown>): Promise<Volume> {
  const res = await api(backend(), "POST", "/v1/volumes", body);
  expect(res.status).toBe(201);
  return volumeOf(res);
}

/** A tar (optionally gzipped) of a directory holding `files`. */
function tarOf(files: Record<string, string>, gzip = false): Buffer {
  const dir = join(tmp(), `src-${Math.random().toString(36).slice(2, 8)}`);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return execFileSync("tar", ["-C", dir, gzip ? "-czf" : "-cf", "-", "."]);
}

function importTar(idOrName: string, body: Buffer, type = "application/x-tar") {
  return raw(backend(), "PUT", `/v1/volumes/${idOrName}/import`, { body, headers: { "content-type": type } });
}

describe("create", () => {
  it("creates an ext4 volume of the size asked, available and unattached, with a generated name", async () => {
    const before = await observe(backend());
    const vol = await createVolume({ size_mb: 24 });
    expect(vol).toMatchObject({
      state: "available", kind: "block", size_mb: 24, filesystem: "ext4", host_path: null, uid: null, gid: null,
      persistent: true, attached_to: [], mounted_by: [], tags: [], delete_lock: false, template: null, clone: null, clones: 0, error: null,
    });
    expect(vol.name).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
    expect(Number.isNaN(Date.parse(vol.created_at))).toBe(false);
    const files = newDiskFiles(before, await observe(backend()));
    expect(files).toHaveLength(1);
    expect(filesystemBytes(diskPath(backend(), files[0]!))).toBe(24 * MIB);
    const features = withFeatures(diskPath(backend(), files[0]!));
    expect(features).toEqual(expect.arrayContaining(["has_journal", "extent"]));
  });

  it("creates with another registered filesystem and refuses an unknown one", async () => {
    const vol = await createVolume({ size_mb: 8, filesystem: "ext2" });
    expect(vol.filesystem).toBe("ext2");
    const before = await observe(backend());
    const res = await raw(backend(), "POST", "/v1/volumes", { body: { size_mb: 8, filesystem: "xfs" } });
    expectError(res, 400, "VALIDATION_FAILED", "Unknown filesystem 'xfs'; registered: ext4, ext3, ext2", "filesystem");
    expect(await observe(backend())).toEqual(before);
  });

  it.each([
    ["neither size_mb nor template nor host_path", {}, "Specify exactly one of 'size_mb', 'template' or 'host_path'"],
    ["size_mb and template", { size_mb: 8, template: { name: "x" } }, "Specify exactly one of 'size_mb', 'template' or 'host_path'"],
    ["host_path and size_mb", { host_path: "/srv", size_mb: 8 }, "Cannot specify 'size_mb' together with 'host_path'"],
    ["host_path and template", { host_path: "/srv", template: { name: "x" } }, "Cannot specify 'template' together with 'host_path'"],
    ["uid without host_path", { size_mb: 8, uid: 1000 }, "'uid' and 'gid' apply only to managed volumes (with 'host_path')"],
    ["size_mb 0", { size_mb: 0 }, undefined],
    ["a fractional size", { size_mb: 1.5 }, undefined],
    ["a size as a string", { size_mb: "8" }, undefined],
    ["a reserved name", { size_mb: 8, name: "templates" }, undefined],
    ["a tag with a space", { size_mb: 8, tags: ["a b"] }, undefined],
    ["17 tags", { size_mb: 8, tags: Array.from({ length: 17 }, (_, i) => `t${i}`) }, "'tags': at most 16 tags"],
  ])("refuses %s with 400 and creates nothing", async (_what, body, message) => {
    const before = await observe(backend());
    expectError(await raw(backend(), "POST", "/v1/volumes", { body }), 400, "VALIDATION_FAILED", message);
    expect(await observe(backend())).toEqual(before);
  });

  it("refuses a taken name with 409 NAME_TAKEN, also when a template has it", async () => {
    await createVolume({ name: "taken-vol", size_mb: 8 });
    await createVolume({ name: "taken-tpl-src", size_mb: 8 });
    expect((await api(backend(), "POST", "/v1/volumes/templates", { name: "taken-tpl-src" })).status).toBe(201);
    const before = await observe(backend());
    expectError(await raw(backend(), "POST", "/v1/volumes", { body: { name: "taken-vol", size_mb: 8 } }), 409, "NAME_TAKEN", "A volume named 'taken-vol' already exists", "name");
    expectError(await raw(backend(), "POST", "/v1/volumes", { body: { name: "taken-tpl-src", size_mb: 8 } }), 409, "NAME_TAKEN");
    expect(await observe(backend())).toEqual(before);
  });

  it("answers concurrent creates of one name with one volume and 409s, never a 500", async () => {
    const before = await observe(backend());
    const results = await Promise.all([1, 2, 3].map(() => raw(backend(), "POST", "/v1/volumes", { body: { name: "raced", size_mb: 8 } })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    for (const r of results.filter((x) => x.status !== 201)) expectError(r, 409, "NAME_TAKEN");
    const after = await observe(backend());
    expect(after.volumes.filter((v) => v.name === "raced")).toHaveLength(1);
    expect(newDiskFiles(before, after)).toHaveLength(1);
  });
});

function withFeatures(qcow2: string): string[] {
  const out = execFileSync("sh", ["-c", `qemu-img convert -U -O raw "$1" "$2" && dumpe2fs -h "$2" 2>/dev/null; rm -f "$2"`, "sh", qcow2, `${qcow2}.features.raw`], { encoding: "utf8" });
  return (/^Filesystem features:\s+(.*)$/m.exec(out)?.[1] ?? "").split(/\s+/);
}

describe("list, get and addressing", () => {
  let a: Volume, ab: Volume, bc: Volume;
  beforeAll(async () => {
    a = await createVolume({ name: "tagged-a", size_mb: 8, tags: ["lt-a"] });
    ab = await createVolume({ name: "tagged-ab", size_mb: 8, tags: ["lt-a", "lt-b"] });
    bc = await createVolume({ name: "tagged-bc", size_mb: 8, tags: ["lt-b", "lt-c"] });
  });
  const names = async (query: string) => {
    const res = await api(backend(), "GET", `/v1/volumes${query}`);
    expect(res.status).toBe(200);
    return (res.body.data.volumes as Volume[]).map((v) => v.name).filter((n) => n.startsWith("tagged-")).sort();
  };

  it("filters by tags with AND semantics", async () => {
    expect(await names("?tags=lt-a")).toEqual(["tagged-a", "tagged-ab"]);
    expect(await names("?tags=lt-a,lt-b")).toEqual(["tagged-ab"]);
    expect(await names("?tags=lt-b")).toEqual(["tagged-ab", "tagged-bc"]);
    expect(await names("?tags=lt-a,lt-c")).toEqual([]);
    expect(await names("?tags=")).toEqual(["tagged-a", "tagged-ab", "tagged-bc"]);
    expect(await names("")).toEqual(["tagged-a", "tagged-ab", "tagged-bc"]);
  });

  it("gets a volume by uuid (any case) or by name, the same object", async () => {
    const byName = volumeOf(await api(backend(), "GET", "/v1/volumes/tagged-ab"));
    const byUuid = volumeOf(await api(backend(), "GET", `/v1/volumes/${ab.uuid}`));
    const byUpper = volumeOf(await api(backend(), "GET", `/v1/volumes/${ab.uuid.toUpperCase()}`));
    expect(byName).toEqual(ab);
    expect(byUuid).toEqual(ab);
    expect(byUpper).toEqual(ab);
    expect(a.uuid).not.toBe(bc.uuid);
  });

  it("answers 404 VOLUME_NOT_FOUND for unknown names and uuids on every volume endpoint", async () => {
    const b = backend();
    const missing = ["no-such-vol", "0b0b0b0b-0000-4000-8000-000000000000"];
    for (const id of missing) {
      expectError(await raw(b, "GET", `/v1/volumes/${id}`), 404, "VOLUME_NOT_FOUND", `Volume '${id}' not found`);
      expectError(await raw(b, "PATCH", `/v1/volumes/${id}`, { body: [{ prop: "delete_lock", op: "set", value: true }] }), 404, "VOLUME_NOT_FOUND");
      expectError(await raw(b, "DELETE", `/v1/volumes/${id}`), 404, "VOLUME_NOT_FOUND");
      expectError(await raw(b, "PUT", `/v1/volumes/${id}/detach`, { body: {} }), 404, "VOLUME_NOT_FOUND");
      expectError(await raw(b, "PUT", `/v1/volumes/${id}/attach`, { body: { attach_to: { name: "x" }, at: "/mnt" } }), 404, "VOLUME_NOT_FOUND");
      expectError(await importTar(id, tarOf({ a: "1" })), 404, "VOLUME_NOT_FOUND");
    }
  });

  it("lists each volume and template exactly as its own GET shows it: attachments, template, clones, chain depth", async () => {
    // A list reads the related rows once for all volumes; one GET reads them row by row: both must agree.
    const b = backend();
    expect((await api(b, "POST", "/v1/instances", { name: "lister", image: "base", autostart: false })).status).toBe(201);
    expect((await api(b, "PUT", "/v1/volumes/tagged-a/attach", { attach_to: { name: "lister" }, at: "/a" })).status).toBe(200);
    expect((await api(b, "PUT", "/v1/volumes/tagged-bc/attach", { attach_to: { name: "lister" }, at: "/bc", readonly: true })).status).toBe(200);
    expect((await api(b, "POST", "/v1/volumes/templates", [{ name: "tagged-ab", mode: "copy", template_name: "tagged-tpl" }])).status).toBe(201);
    expect((await api(b, "POST", "/v1/volumes", { name: "tagged-from-tpl", template: { name: "tagged-tpl" } })).status).toBe(201);
    try {
      const listed = (await api(b, "GET", "/v1/volumes")).body.data.volumes as Volume[];
      const mine = listed.filter((v) => v.name.startsWith("tagged-"));
      expect(mine.map((v) => v.name).sort()).toEqual(["tagged-a", "tagged-ab", "tagged-bc", "tagged-from-tpl"]);
      for (const v of mine) expect(v).toEqual(volumeOf(await api(b, "GET", `/v1/volumes/${v.name}`)));
      expect(mine.find((v) => v.name === "tagged-a")!.attached_to).toEqual([{ uuid: expect.any(String), name: "lister" }]);
      expect(mine.find((v) => v.name === "tagged-from-tpl")!.template).toEqual({ uuid: expect.any(String), name: "tagged-tpl" });
      const templates = ((await api(b, "GET", "/v1/volumes/templates")).body.data.volumes as Volume[]).filter((v) => v.name === "tagged-tpl");
      expect(templates).toEqual([volumeOf(await api(b, "GET", "/v1/volumes/templates/tagged-tpl"))]);
      expect(templates[0]!.clones).toBe(1);
    } finally {
      expect((await api(b, "DELETE", "/v1/instances/lister")).status).toBe(200);
      expect((await api(b, "DELETE", "/v1/volumes/tagged-from-tpl")).status).toBe(200);
      expect((await api(b, "DELETE", "/v1/volumes/templates/tagged-tpl")).status).toBe(200);
    }
  });
});

describe("PATCH", () => {
  const patch = (id: string, ops: unknown) => api(backend(), "PATCH", `/v1/volumes/${id}`, ops);

  it("sets, adds (without duplicates) and deletes tags, one value or a list", async () => {
    await createVolume({ name: "p-tags", size_mb: 8, tags: ["x"] });
    expect(volumeOf(await patch("p-tags", [{ prop: "tags", op: "set", value: ["a", "b"] }])).tags).toEqual(["a", "b"]);
    expect(volumeOf(await patch("p-tags", [{ prop: "tags", op: "add", value: ["b", "c"] }])).tags).toEqual(["a", "b", "c"]);
    expect(volumeOf(await patch("p-tags", { prop: "tags", op: "add", value: "d" })).tags).toEqual(["a", "b", "c", "d"]);
    expect(volumeOf(await patch("p-tags", [{ prop: "tags", op: "del", value: "a" }, { prop: "tags", op: "del", value: ["c", "zz"] }])).tags).toEqual(["b", "d"]);
    expect(volumeOf(await api(backend(), "GET", "/v1/volumes/p-tags")).tags).toEqual(["b", "d"]);
  });

  it("grows a volume and the filesystem inside it; the same size is a no-op", async () => {
    const before = await observe(backend());
    const vol = await createVolume({ name: "p-grow", size_mb: 16 });
    const [file] = newDiskFiles(before, await observe(backend()));
    expect(volumeOf(await patch(vol.uuid, [{ prop: "size_mb", op: "set", value: 40 }])).size_mb).toBe(40);
    expect(filesystemBytes(diskPath(backend(), file!))).toBe(40 * MIB);
    expect(volumeOf(await patch(vol.uuid, [{ prop: "size_mb", op: "set", value: 40 }])).size_mb).toBe(40);
  });

  it("refuses to shrink with the exact message and keeps the size", async () => {
    await createVolume({ name: "p-shrink", size_mb: 16 });
    const before = await observe(backend());
    const res = await raw(backend(), "PATCH", "/v1/volumes/p-shrink", { body: [{ prop: "size_mb", op: "set", value: 8 }] });
    expectError(res, 400, "VOLUME_SHRINK", "Cannot shrink volume from 16 MiB to 8 MiB: volumes can only grow", "size_mb");
    expect(await observe(backend())).toEqual(before);
  });

  it("applies all operations of a request or none: a refused one leaves the earlier ones undone", async () => {
    await createVolume({ name: "p-atomic", size_mb: 16, tags: ["keep"] });
    const before = await observe(backend());
    const res = await raw(backend(), "PATCH", "/v1/volumes/p-atomic", {
      body: [
        { prop: "tags", op: "set", value: ["changed"] },
        { prop: "delete_lock", op: "set", value: true },
        { prop: "size_mb", op: "set", value: 8 },
      ],
    });
    expectError(res, 400, "VOLUME_SHRINK");
    expect(await observe(backend())).toEqual(before);
  });

  it.each([
    ["an unknown prop", [{ prop: "colour", op: "set", value: "red" }], "'prop' must be one of"],
    ["an op the prop does not take", [{ prop: "size_mb", op: "add", value: 8 }], undefined],
    ["delete_lock with a string", [{ prop: "delete_lock", op: "set", value: "yes" }], undefined],
    ["a bad tag", [{ prop: "tags", op: "add", value: ["no spaces"] }], undefined],
    ["tags beyond 16 after add", [{ prop: "tags", op: "add", value: Array.from({ length: 17 }, (_, i) => `n${i}`) }], "'tags': at most 16 tags"],
    ["an object instead of a list of operations", { tags: ["x"] }, undefined],
  ])("refuses %s with 400 and changes nothing", async (_what, body, message) => {
    await createVolume({ name: `p-bad-${Math.random().toString(36).slice(2, 7)}`, size_mb: 8, tags: ["t1"] });
    const before = await observe(backend());
    const name = before.volumes.filter((v) => v.name.startsWith("p-bad-")).at(-1)!.name;
    expectError(await raw(backend(), "PATCH", `/v1/volumes/${name}`, { body }), 400, "VALIDATION_FAILED", message ? new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) : undefined);
    expect(await observe(backend())).toEqual(before);
  });
});

describe("delete", () => {
  it("refuses while delete_lock is set, then deletes once it is unset and frees the disk file", async () => {
    const before = await observe(backend());
    const vol = await createVolume({ name: "d-locked", size_mb: 8, delete_lock: true });
    expect(vol.delete_lock).toBe(true);
    const locked = await observe(backend());
    expectError(await raw(backend(), "DELETE", "/v1/volumes/d-locked"), 409, "DELETE_LOCKED", "Volume 'd-locked' has a delete lock; unset it with PATCH delete_lock first");
    expect(await observe(backend())).toEqual(locked);
    expect(volumeOf(await api(backend(), "PATCH", "/v1/volumes/d-locked", [{ prop: "delete_lock", op: "set", value: false }])).delete_lock).toBe(false);
    const del = await api(backend(), "DELETE", `/v1/volumes/${vol.uuid}`);
    expect(del.status).toBe(200);
    expect(volumeOf(del)).toMatchObject({ uuid: vol.uuid, name: "d-locked" });
    expect(await observe(backend())).toEqual(before);
    expectError(await raw(backend(), "DELETE", `/v1/volumes/${vol.uuid}`), 404, "VOLUME_NOT_FOUND");
  });

  it("refuses while the volume is attached (to a stopped instance), naming the instance", async () => {
    await createVolume({ name: "d-attached", size_mb: 8 });
    expect((await api(backend(), "POST", "/v1/instances", { name: "d-holder", image: "base", autostart: false, volumes: [{ name: "d-attached", at: "/data" }] })).status).toBe(201);
    const before = await observe(backend());
    expectError(await raw(backend(), "DELETE", "/v1/volumes/d-attached"), 409, "VOLUME_IN_USE", "Volume 'd-attached' is attached to 'd-holder'; detach it first");
    expect(await observe(backend())).toEqual(before);
  });
});

describe("import", () => {
  it("fills an empty volume from a tar stream: the files are inside its ext4", async () => {
    const vol = await createVolume({ name: "imp-ok", size_mb: 16 });
    const before = await observe(backend());
    const res = await importTar("imp-ok", tarOf({ "hello.txt": "hello from tar\n", "sub/dir/deep.txt": "deep\n" }));
    expect(res.status).toBe(200);
    expect(volumeOf(await api(backend(), "GET", "/v1/volumes/imp-ok"))).toMatchObject({ uuid: vol.uuid, size_mb: 16, state: "available" });
    const after = await observe(backend());
    const added = newDiskFiles(before, after);
    expect(added).toHaveLength(1);
    // The empty head was replaced, not kept next to the new one.
    expect(after.files.disks).toHaveLength(before.files.disks.length);
    expect(after.files.tmp).toEqual([]);
    const disk = diskPath(backend(), added[0]!);
    expect(readFromDisk(disk, "/hello.txt")).toBe("hello from tar\n");
    expect(readFromDisk(disk, "/sub/dir/deep.txt")).toBe("deep\n");
    expect(filesystemBytes(disk)).toBe(16 * MIB);
  });

  it("takes a gzip-compressed tar", async () => {
    await createVolume({ name: "imp-gz", size_mb: 8 });
    const before = await observe(backend());
    expect((await importTar("imp-gz", tarOf({ "z.txt": "zipped\n" }, true), "application/gzip")).status).toBe(200);
    const [disk] = newDiskFiles(before, await observe(backend()));
    expect(readFromDisk(diskPath(backend(), disk!), "/z.txt")).toBe("zipped\n");
  });

  it("refuses a second import: the volume is not empty any more", async () => {
    await createVolume({ name: "imp-twice", size_mb: 8 });
    expect((await importTar("imp-twice", tarOf({ "first.txt": "1" }))).status).toBe(200);
    const before = await observe(backend());
    expectError(await importTar("imp-twice", tarOf({ "second.txt": "2" })), 409, "VOLUME_NOT_EMPTY");
    expect(await observe(backend())).toEqual(before);
  });

  it("refuses an attached volume and a volume made from a template", async () => {
    await createVolume({ name: "imp-attached", size_mb: 8 });
    expect((await api(backend(), "POST", "/v1/instances", { name: "imp-holder", image: "base", autostart: false, volumes: [{ name: "imp-attached", at: "/d" }] })).status).toBe(201);
    await createVolume({ name: "imp-tpl-src", size_mb: 8 });
    expect((await api(backend(), "POST", "/v1/volumes/templates", { name: "imp-tpl-src" })).status).toBe(201);
    await createVolume({ name: "imp-from-tpl", template: { name: "imp-tpl-src" } });
    const before = await observe(backend());
    expectError(await importTar("imp-attached", tarOf({ a: "1" })), 409, "VOLUME_NOT_EMPTY");
    expectError(await importTar("imp-from-tpl", tarOf({ a: "1" })), 409, "VOLUME_NOT_EMPTY");
    expect(await observe(backend())).toEqual(before);
  });

  it.each([
    ["bytes that are not a tar", Buffer.from("this is not a tar archive at all".repeat(40)), /^Import failed: not a valid tar archive/],
    ["an empty archive", execFileSync("tar", ["-cf", "-", "-T", "/dev/null"]), /^Import failed: /],
    ["an entry that climbs out with ..", tarWithEntry("../escape.txt", "out\n"), /^Import failed/],
  ])("refuses %s with 400, and the volume stays empty and importable", async (_what, body, message) => {
    const name = `imp-bad-${Math.random().toString(36).slice(2, 7)}`;
    await createVolume({ name, size_mb: 8 });
    const before = await observe(backend());
    expectError(await importTar(name, body), 400, "VALIDATION_FAILED", message);
    expect(await observe(backend())).toEqual(before);
    expect((await importTar(name, tarOf({ "later.txt": "later\n" }))).status).toBe(200);
  });

  it("refuses a JSON body with 415 and says to send a tar stream", async () => {
    await createVolume({ name: "imp-json", size_mb: 8 });
    const before = await observe(backend());
    const res = await raw(backend(), "PUT", "/v1/volumes/imp-json/import", { body: { files: [] } });
    expectError(res, 415, "UNSUPPORTED_MEDIA_TYPE", "Import takes a tar stream (Content-Type: application/x-tar), not 'application/json'");
    expect(await observe(backend())).toEqual(before);
  });
});
