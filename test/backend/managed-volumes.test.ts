// Managed volumes (`host_path`, docs/api.md "POST /v1/volumes"): refused by a server
// started without `--allow-host-path`; on one that allows a root, the path must be absolute,
// normalised (no '.', '..', ':' or empty components), an existing directory, inside the root and
// free of symbolic links, neither inside nor around another managed volume's directory or the
// server's own (data, images, RAM), and `size_mb`/`template` are mutually exclusive with it.
// Accepted ones make no disk file, and deleting them (or their instance) leaves the directory
// alone. They cannot be resized, imported into, cloned, made templates of, or branched. Two real
// backends, no VM.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Volume } from "../../sdk";
import { startBackend, type TestBackend } from "../helpers/backend";
import { api, expectError, instanceOf, observe, raw, volumeOf } from "./support";

jest.setTimeout(60_000);

let dir: string;
let root: string;
let root2: string;
let plain: TestBackend;
let allowed: TestBackend;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vmbranch-managed-"));
  root = join(dir, "root");
  root2 = join(dir, "root2");
  mkdirSync(join(root, "share", "deep"), { recursive: true });
  mkdirSync(root2);
  writeFileSync(join(root, "share", "keep.txt"), "keep me\n");
  writeFileSync(join(root, "file.txt"), "not a directory\n");
  mkdirSync(join(dir, "outside"));
  mkdirSync(join(dir, "root-evil"));
  symlinkSync(join(dir, "outside"), join(root, "escape"));
  symlinkSync(join(root, "share"), join(root, "alias"));
  plain = await startBackend();
  allowed = await startBackend({ allowHostPath: [root, root2] });
}, 60_000);

afterAll(async () => {
  await plain?.stop();
  await allowed?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** A create that must be refused with `status`, `code` (and `message`) and change nothing. */
async function refusedCreate(b: TestBackend, body: Record<string, unknown>, status: number, code: string, message?: string | RegExp) {
  const before = await observe(b);
  expectError(await raw(b, "POST", "/v1/volumes", { body }), status, code, message);
  expect(await observe(b)).toEqual(before);
}

/** A managed volume over `<root>/<sub>` (default: a new directory named after the volume, holding keep.txt). */
async function managed(name: string, extra: Record<string, unknown> = {}, sub = name): Promise<Volume> {
  mkdirSync(join(root, sub), { recursive: true });
  if (sub === name) writeFileSync(join(root, sub, "keep.txt"), "keep me\n");
  const res = await api(allowed, "POST", "/v1/volumes", { name, host_path: join(root, sub), ...extra });
  expect(res.status).toBe(201);
  return volumeOf(res);
}

it("is refused by a server started without --allow-host-path", async () => {
  const path = join(root, "share");
  await refusedCreate(plain, { host_path: path }, 400, "HOST_PATH_REJECTED", `host_path '${path}' is not allowed: this server allows no host paths (start it with --allow-host-path DIR)`);
  const before = await observe(plain);
  const res = await raw(plain, "POST", "/v1/instances", { body: { image: "base", autostart: false, volumes: [{ host_path: path, at: "/h" }] } });
  expectError(res, 400, "HOST_PATH_REJECTED", undefined, "host_path");
  expect(await observe(plain)).toEqual(before);
});

describe("path rules on a server that allows a root", () => {
  it("refuses the server's own directories, what is inside them and what contains them, even under an allowed root", async () => {
    // The temp dir holds this server's data dir: allowing all of it makes the data dir a candidate.
    const wide = await startBackend({ allowHostPath: [tmpdir()] });
    try {
      const data = wide.dataDir;
      const rule = "managed directories may not nest in or contain each other or vmbranch's own directories";
      await refusedCreate(wide, { host_path: data }, 400, "HOST_PATH_REJECTED", `host_path '${data}' overlaps the data directory ('${data}'): ${rule}`);
      await refusedCreate(wide, { host_path: join(data, "disks") }, 400, "HOST_PATH_REJECTED", `host_path '${join(data, "disks")}' overlaps the data directory ('${data}'): ${rule}`);
      await refusedCreate(wide, { host_path: tmpdir() }, 400, "HOST_PATH_REJECTED", `host_path '${tmpdir()}' overlaps the data directory ('${data}'): ${rule}`);
    } finally {
      await wide.stop();
    }
  });

  it.each([
    ["outside the root", () => join(dir, "outside"), (p: string) => `host_path '${p}' is outside the allowed roots: ${root}, ${root2}`],
    ["in a sibling named like the root", () => join(dir, "root-evil"), (p: string) => `host_path '${p}' is outside the allowed roots: ${root}, ${root2}`],
    ["that does not exist", () => join(root, "missing"), (p: string) => `host_path '${p}' does not exist`],
    ["that is a file", () => join(root, "file.txt"), (p: string) => `host_path '${p}' is not a directory`],
    ["that is a symlink out of the root", () => join(root, "escape"), (p: string) => `host_path '${p}' resolves to '${join(dir, "outside")}' through a symbolic link; give the real path`],
    ["that is a symlink inside the root", () => join(root, "alias"), (p: string) => `host_path '${p}' resolves to '${join(root, "share")}' through a symbolic link; give the real path`],
  ])("refuses a host_path %s with 400 HOST_PATH_REJECTED", async (_what, path, message) => {
    const p = path();
    await refusedCreate(allowed, { host_path: p }, 400, "HOST_PATH_REJECTED", message(p));
  });

  it("refuses a directory reached through a symlinked parent", async () => {
    mkdirSync(join(dir, "outside", "sub"), { recursive: true });
    const p = join(root, "escape", "sub");
    await refusedCreate(allowed, { host_path: p }, 400, "HOST_PATH_REJECTED", `host_path '${p}' resolves to '${join(dir, "outside", "sub")}' through a symbolic link; give the real path`);
  });

  it.each([
    ["a '..' component", () => `${root}/share/../share`],
    ["a '.' component", () => `${root}/./share`],
    ["a ':' in a component", () => `${root}/sh:are`],
    ["an empty component", () => `${root}//share`],
    ["a trailing slash", () => `${root}/share/`],
  ])("refuses %s with the reference's rule", async (_what, path) => {
    const p = path();
    await refusedCreate(allowed, { host_path: p }, 400, "VALIDATION_FAILED", `'host_path' must be normalised, with no '.', '..', ':' or empty components: '${p}'`);
  });

  it("refuses a relative path", async () => {
    await refusedCreate(allowed, { host_path: "root/share" }, 400, "VALIDATION_FAILED", "'host_path' must be an absolute path: 'root/share'");
  });

  it.each([
    ["size_mb", { size_mb: 8 }],
    ["template", { template: { name: "t" } }],
    ["filesystem", { filesystem: "ext4" }],
  ])("refuses host_path together with %s", async (field, extra) => {
    await refusedCreate(allowed, { host_path: join(root, "share"), ...extra }, 400, "VALIDATION_FAILED", `Cannot specify '${field}' together with 'host_path'`);
  });
});

describe("accepted managed volumes", () => {
  it("creates a managed volume inside the root without any disk file; uid and gid default to 0", async () => {
    const before = await observe(allowed);
    const vol = await managed("mv-default", {}, "share");
    expect(vol).toMatchObject({ kind: "managed", host_path: join(root, "share"), uid: 0, gid: 0, size_mb: null, filesystem: null, state: "available", persistent: true });
    const withIds = await managed("mv-ids", { uid: 1000, gid: 100, tags: ["m"] });
    expect(withIds).toMatchObject({ uid: 1000, gid: 100, tags: ["m"] });
    const rootItself = volumeOf(await api(allowed, "POST", "/v1/volumes", { name: "mv-root", host_path: root2 }));
    expect(rootItself.host_path).toBe(root2);
    expect((await observe(allowed)).files.disks).toEqual(before.files.disks);
  });

  it("refuses a directory that is, is inside or contains another managed volume's, naming that volume", async () => {
    const share = join(root, "share");
    const rule = "managed directories may not nest in or contain each other or vmbranch's own directories";
    await refusedCreate(allowed, { host_path: share }, 400, "HOST_PATH_REJECTED", `host_path '${share}' overlaps managed volume 'mv-default' ('${share}'): ${rule}`);
    await refusedCreate(allowed, { host_path: join(share, "deep") }, 400, "HOST_PATH_REJECTED", `host_path '${join(share, "deep")}' overlaps managed volume 'mv-default' ('${share}'): ${rule}`);
    await refusedCreate(allowed, { host_path: root }, 400, "HOST_PATH_REJECTED", new RegExp(`^host_path '${root}' overlaps managed volume 'mv-`));
    // Inline volumes of a new instance follow the same rule, and the refused instance leaves nothing.
    const before = await observe(allowed);
    expectError(await raw(allowed, "POST", "/v1/instances", { body: { image: "base", autostart: false, volumes: [{ host_path: share, at: "/h" }] } }), 400, "HOST_PATH_REJECTED", undefined, "host_path");
    expect(await observe(allowed)).toEqual(before);
  });

  it("leaves the directory and its files when the volume is deleted", async () => {
    await managed("mv-delete");
    expect((await api(allowed, "DELETE", "/v1/volumes/mv-delete")).status).toBe(200);
    expect(readdirSync(join(root, "mv-delete")).sort()).toEqual(["keep.txt"]);
    // Its directory is free again.
    await managed("mv-delete-again", {}, "mv-delete");
  });

  it("refuses a resize, an import, a clone and a template, and changes nothing", async () => {
    await managed("mv-fixed");
    const before = await observe(allowed);
    expectError(await raw(allowed, "PATCH", "/v1/volumes/mv-fixed", { body: [{ prop: "size_mb", op: "set", value: 64 }] }), 400, "VALIDATION_FAILED", "Managed volume 'mv-fixed' has no size: its space is the host directory's");
    expectError(await raw(allowed, "PUT", "/v1/volumes/mv-fixed/import", { body: new Uint8Array(1024), headers: { "content-type": "application/x-tar" } }), 400, "VALIDATION_FAILED", /^Managed volume 'mv-fixed' cannot be imported into/);
    expectError(await raw(allowed, "POST", "/v1/volumes/clone", { body: { name: "mv-fixed" } }), 400, "VALIDATION_FAILED", "Managed volume 'mv-fixed' cannot be cloned: its data is a host directory");
    expectError(await raw(allowed, "POST", "/v1/volumes/templates", { body: { name: "mv-fixed", mode: "copy" } }), 400, "VALIDATION_FAILED", "Managed volume 'mv-fixed' cannot become a template");
    expect(await observe(allowed)).toEqual(before);
    // Tags and delete locks still work.
    expect(volumeOf(await api(allowed, "PATCH", "/v1/volumes/mv-fixed", [{ prop: "tags", op: "add", value: "x" }])).tags).toEqual(["x"]);
  });

  it("goes inline with an instance, and the instance's deletion leaves the directory", async () => {
    const dirOf = join(root, "inline");
    mkdirSync(dirOf);
    writeFileSync(join(dirOf, "keep.txt"), "keep me\n");
    const inst = instanceOf(await api(allowed, "POST", "/v1/instances", { name: "mv-inst", image: "base", autostart: false, volumes: [{ host_path: dirOf, uid: 7, at: "/host" }] }));
    expect(inst.volumes).toEqual([expect.objectContaining({ at: "/host", kind: "managed", inline: true, readonly: false })]);
    expect(volumeOf(await api(allowed, "GET", `/v1/volumes/${inst.volumes[0]!.uuid}`))).toMatchObject({ uid: 7, gid: 0, persistent: false });
    expect((await api(allowed, "DELETE", "/v1/instances/mv-inst")).status).toBe(200);
    expectError(await raw(allowed, "GET", `/v1/volumes/${inst.volumes[0]!.uuid}`), 404, "VOLUME_NOT_FOUND");
    expect(readdirSync(dirOf).sort()).toEqual(["keep.txt"]);
  });

  it("refuses to branch or template an instance with a managed volume, naming the volume", async () => {
    await managed("mv-branchy");
    instanceOf(await api(allowed, "POST", "/v1/instances", { name: "mv-src", image: "base", autostart: false, volumes: [{ name: "mv-branchy", at: "/h" }] }));
    const before = await observe(allowed);
    expectError(
      await raw(allowed, "POST", "/v1/instances", { body: { branch_from: { name: "mv-src" }, autostart: false } }),
      400, "BRANCH_MANAGED_VOLUME", "Cannot branch from VM with managed volume 'mv-branchy': only block-based volumes (for example, ext4) can be branched",
    );
    expectError(await raw(allowed, "POST", "/v1/instances/templates", { body: { name: "mv-src" } }), 400, "TEMPLATE_MANAGED_VOLUME", /managed volume 'mv-branchy'/);
    expect(await observe(allowed)).toEqual(before);
  });
});
