// Instance bookkeeping through real HTTP, without booting a VM (`autostart: false`): defaults and
// addressing, published ports (chosen, given, taken), inline and existing volumes with the
// reference's mount rules (read-only mounts shared by any number of instances, a read-write mount
// exclusive), attach/detach on stopped instances, PATCH of tags, annotations, delete_lock, ports
// and volumes, delete (inline volumes go, others are detached, ports are freed), lifecycle answers
// that need no VM, and a branch of a stopped instance. Refusals leave rows and files as they were.
import { createServer, type Server } from "node:net";
import type { Instance, Volume } from "../../sdk";
import { unclaimedPort } from "../helpers/ports";
import { publishedWindow } from "../../backend/host/net/ports";
import { api, expectError, instanceOf, newDiskFiles, observe, raw, useBackend, volumeOf } from "./support";

jest.setTimeout(60_000);
const backend = useBackend();

async function createInstance(body: Record<string, unknown>): Promise<Instance> {
  const res = await api(backend(), "POST", "/v1/instances", { image: "base", autostart: false, ...body });
  expect(res.status).toBe(201);
  return instanceOf(res);
}

async function createVolume(name: string, extra: Record<string, unknown> = {}): Promise<Volume> {
  const res = await api(backend(), "POST", "/v1/volumes", { name, size_mb: 8, ...extra });
  expect(res.status).toBe(201);
  return volumeOf(res);
}

const getVolume = async (id: string) => volumeOf(await api(backend(), "GET", `/v1/volumes/${id}`));
const getInstance = async (id: string) => instanceOf(await api(backend(), "GET", `/v1/instances/${id}`));

/** A request that must be refused with `status`/`code` (and `message`) and change nothing observable. */
async function refused(method: string, path: string, body: unknown, status: number, code: string, message?: string | RegExp) {
  const before = await observe(backend());
  const res = await raw(backend(), method, path, { body });
  expectError(res, status, code, message);
  expect(await observe(backend())).toEqual(before);
  return res;
}

describe("create and address", () => {
  it("fills in the documented defaults and stays stopped without autostart", async () => {
    const inst = await createInstance({ name: "defaults" });
    expect(inst).toMatchObject({
      name: "defaults", state: "stopped", image: "base", memory_mb: 128, vcpus: 1, args: [], env: {}, hostname: "defaults",
      volumes: [], ports: [], tags: [], annotations: {}, delete_lock: false, autostart: false, started_at: null, stopped_at: null,
      boot_time_ms: null, exit_code: null, start_count: 0, snapshot: null, template: null, branch: null,
    });
    expect(inst.network_interfaces).toEqual([{ name: "eth0", mac: expect.stringMatching(/^02(:[0-9a-f]{2}){5}$/), private_ip: expect.any(String) }]);
  });

  it("keeps what it was given and generates a name when none is given", async () => {
    const inst = await createInstance({ memory_mb: 256, vcpus: 2, args: ["sh", "-c", "echo hi"], env: { GREETING: "hello world" }, hostname: "web-1", tags: ["t1"], annotations: { "team/owner": "ops" }, delete_lock: true });
    expect(inst).toMatchObject({ memory_mb: 256, vcpus: 2, args: ["sh", "-c", "echo hi"], env: { GREETING: "hello world" }, hostname: "web-1", tags: ["t1"], annotations: { "team/owner": "ops" }, delete_lock: true });
    expect(inst.name).toMatch(/^[a-z]+-[0-9a-f]{6}$/);
    await api(backend(), "PATCH", `/v1/instances/${inst.uuid}`, [{ prop: "delete_lock", op: "set", value: false }]);
  });

  it("is the same object by uuid (any case) and by name", async () => {
    const inst = await createInstance({ name: "addressed" });
    expect(await getInstance("addressed")).toEqual(inst);
    expect(await getInstance(inst.uuid)).toEqual(inst);
    expect(await getInstance(inst.uuid.toUpperCase())).toEqual(inst);
  });

  it("answers 404 INSTANCE_NOT_FOUND on every instance endpoint for an unknown name or uuid", async () => {
    const b = backend();
    for (const id of ["no-such-inst", "0b0b0b0b-0000-4000-8000-000000000000"]) {
      const calls: [string, string, unknown?][] = [
        ["GET", ""], ["PATCH", "", [{ prop: "tags", op: "set", value: [] }]], ["DELETE", ""], ["PUT", "/start"], ["PUT", "/stop"],
        ["PUT", "/suspend"], ["GET", "/wait?state=running&timeout_s=0"], ["GET", "/log"],
      ];
      for (const [method, suffix, body] of calls) {
        const res = await raw(b, method, `/v1/instances/${id}${suffix}`, { body });
        expectError(res, 404, "INSTANCE_NOT_FOUND", `Instance '${id}' not found`);
      }
      expectError(await raw(b, "PUT", "/v1/volumes/whatever/attach", { body: { attach_to: { name: "no-such-inst" }, at: "/x" } }), 404, "VOLUME_NOT_FOUND");
    }
  });

  it("filters the list by tags with AND semantics", async () => {
    await createInstance({ name: "lt-1", tags: ["it-a"] });
    await createInstance({ name: "lt-2", tags: ["it-a", "it-b"] });
    const names = async (q: string) => ((await api(backend(), "GET", `/v1/instances${q}`)).body.data.instances as Instance[]).map((i) => i.name).filter((n) => n.startsWith("lt-")).sort();
    expect(await names("?tags=it-a")).toEqual(["lt-1", "lt-2"]);
    expect(await names("?tags=it-a,it-b")).toEqual(["lt-2"]);
    expect(await names("?tags=it-b,it-c")).toEqual([]);
  });

  it("answers concurrent creates of one name with one instance and 409s, never a 500", async () => {
    const results = await Promise.all([1, 2, 3].map(() => raw(backend(), "POST", "/v1/instances", { body: { name: "raced-inst", image: "base", autostart: false, volumes: [{ size_mb: 8, at: "/d" }] } })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    for (const r of results.filter((x) => x.status !== 201)) expectError(r, 409, "NAME_TAKEN");
    expect((await observe(backend())).instances.filter((i) => i.name === "raced-inst")).toHaveLength(1);
  });
});

describe("published ports", () => {
  let busy: Server;
  let busyPort: number;
  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    busyPort = (busy.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => busy.close(r));
  });

  it("chooses a distinct free host port on 127.0.0.1 when none is given, and keeps a given one", async () => {
    const a = await createInstance({ name: "ports-a", ports: [{ guest_port: 8080 }, { guest_port: 53, protocol: "udp" }] });
    expect(a.ports).toEqual([
      { guest_port: 53, host_port: expect.any(Number), host_ip: "127.0.0.1", protocol: "udp" },
      { guest_port: 8080, host_port: expect.any(Number), host_ip: "127.0.0.1", protocol: "tcp" },
    ]);
    // Picked below the kernel's ephemeral range, where no client's connection can take them while
    // the instance is stopped.
    const window = publishedWindow()!;
    for (const p of a.ports) expect(p.host_port >= window.low && p.host_port <= window.high).toBe(true);
    const given = a.ports[1]!.host_port + 0;
    const b = await createInstance({ name: "ports-b", ports: [{ guest_port: 8080 }] });
    expect(b.ports[0]!.host_port).not.toBe(given);
    const free = await unclaimedPort();
    const c = await createInstance({ name: "ports-c", ports: [{ guest_port: 80, host_port: free }] });
    expect(c.ports).toEqual([{ guest_port: 80, host_port: free, host_ip: "127.0.0.1", protocol: "tcp" }]);
    // Stable: a GET later shows the same host ports.
    expect((await getInstance("ports-a")).ports).toEqual(a.ports);
  });

  it("refuses a guest port published twice, a host port another instance has, and one in use on the host", async () => {
    await refused("POST", "/v1/instances", { image: "base", autostart: false, ports: [{ guest_port: 80 }, { guest_port: 80, protocol: "tcp" }] }, 400, "VALIDATION_FAILED", "Guest port 80/tcp is published twice");
    const taken = (await getInstance("ports-c")).ports[0]!.host_port;
    await refused("POST", "/v1/instances", { image: "base", autostart: false, ports: [{ guest_port: 81, host_port: taken }] }, 409, "PORT_UNAVAILABLE", `Host port ${taken} is already published by instance 'ports-c'`);
    await refused("POST", "/v1/instances", { image: "base", autostart: false, ports: [{ guest_port: 81, host_port: busyPort }] }, 409, "PORT_UNAVAILABLE", `Host port ${busyPort}/tcp is in use on this host`);
    await refused("POST", "/v1/instances", { image: "base", autostart: false, ports: [{ guest_port: 0 }] }, 400, "VALIDATION_FAILED");
    await refused("POST", "/v1/instances", { image: "base", autostart: false, ports: [{ guest_port: 80, protocol: "sctp" }] }, 400, "VALIDATION_FAILED");
  });

  it("gives a requested host port to one of two concurrent creates and a 409 to the other, never a 500", async () => {
    const port = await unclaimedPort();
    const body = (name: string) => ({ name, image: "base", autostart: false, ports: [{ guest_port: 80, host_port: port }] });
    const results = await Promise.all([raw(backend(), "POST", "/v1/instances", { body: body("race-port-1") }), raw(backend(), "POST", "/v1/instances", { body: body("race-port-2") })]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    expectError(results.find((r) => r.status !== 201)!, 409, "PORT_UNAVAILABLE");
  });

  it("PATCHes ports: add keeps existing host ports, del removes by guest port, set replaces", async () => {
    const inst = await createInstance({ name: "ports-patch", ports: [{ guest_port: 8080 }] });
    const first = inst.ports[0]!.host_port;
    const patch = (ops: unknown) => api(backend(), "PATCH", "/v1/instances/ports-patch", ops);
    const added = instanceOf(await patch([{ prop: "ports", op: "add", value: { guest_port: 9090 } }]));
    expect(added.ports.map((p) => [p.guest_port, p.host_port === first])).toEqual([[8080, true], [9090, false]]);
    const deleted = instanceOf(await patch([{ prop: "ports", op: "del", value: 8080 }]));
    expect(deleted.ports.map((p) => p.guest_port)).toEqual([9090]);
    const set = instanceOf(await patch([{ prop: "ports", op: "set", value: [{ guest_port: 22 }] }]));
    expect(set.ports.map((p) => p.guest_port)).toEqual([22]);
    const taken = (await getInstance("ports-c")).ports[0]!.host_port;
    await refused("PATCH", "/v1/instances/ports-patch", [{ prop: "ports", op: "add", value: { guest_port: 23, host_port: taken } }], 409, "PORT_UNAVAILABLE");
  });
});

describe("volumes of instances", () => {
  it("creates inline volumes that belong to the instance, and attaches existing ones by name or uuid", async () => {
    const existing = await createVolume("iv-existing");
    const before = await observe(backend());
    const inst = await createInstance({ name: "iv-owner", volumes: [{ size_mb: 8, at: "/data" }, { name: "iv-inline-named", size_mb: 8, at: "/named", filesystem: "ext2" }, { uuid: existing.uuid, at: "/shared", readonly: true }] });
    expect(inst.volumes).toEqual([
      { uuid: expect.any(String), name: expect.any(String), at: "/data", readonly: false, kind: "block", inline: true },
      { uuid: expect.any(String), name: "iv-inline-named", at: "/named", readonly: false, kind: "block", inline: true },
      { uuid: existing.uuid, name: "iv-existing", at: "/shared", readonly: true, kind: "block", inline: false },
    ]);
    const inline = await getVolume("iv-inline-named");
    expect(inline).toMatchObject({ persistent: false, filesystem: "ext2", attached_to: [{ uuid: inst.uuid, name: "iv-owner" }], state: "available", mounted_by: [] });
    expect(newDiskFiles(before, await observe(backend()))).toHaveLength(2);
    expect((await getVolume("iv-existing")).attached_to).toEqual([{ uuid: inst.uuid, name: "iv-owner" }]);
  });

  it("shares a volume read-only among any number of instances", async () => {
    await createVolume("ro-shared");
    for (const n of ["ro-1", "ro-2", "ro-3"]) await createInstance({ name: n, volumes: [{ name: "ro-shared", at: "/ro", readonly: true }] });
    expect((await getVolume("ro-shared")).attached_to.map((a) => a.name).sort()).toEqual(["ro-1", "ro-2", "ro-3"]);
  });

  it("refuses a read-write mount while any other mount exists, at create, by attach and by PATCH", async () => {
    await createInstance({ name: "rw-late" });
    // The three holders are named (in no particular order).
    const message = /^Cannot attach volume 'ro-shared' read-write: it is attached to (?=.*'ro-1')(?=.*'ro-2')(?=.*'ro-3')('ro-\d', ){3}and a read-write mount is exclusive$/;
    await refused("POST", "/v1/instances", { name: "rw-want", image: "base", autostart: false, volumes: [{ name: "ro-shared", at: "/rw" }] }, 409, "VOLUME_IN_USE", message);
    await refused("PUT", "/v1/volumes/ro-shared/attach", { attach_to: { name: "rw-late" }, at: "/rw" }, 409, "VOLUME_IN_USE", message);
    await refused("PUT", "/v1/volumes/ro-shared/attach", { attach_to: { name: "rw-late" }, at: "/rw", readonly: false }, 409, "VOLUME_IN_USE", message);
    await refused("PATCH", "/v1/instances/rw-late", [{ prop: "volumes", op: "add", value: { name: "ro-shared", at: "/rw" } }], 409, "VOLUME_IN_USE", message);
  });

  it("refuses any other mount of a volume mounted read-write, read-only ones included", async () => {
    await createVolume("rw-excl");
    await createInstance({ name: "rw-owner", volumes: [{ name: "rw-excl", at: "/data" }] });
    await createInstance({ name: "rw-other" });
    const message = "Volume 'rw-excl' is attached read-write to instance 'rw-owner': a read-write mount is exclusive";
    await refused("PUT", "/v1/volumes/rw-excl/attach", { attach_to: { name: "rw-other" }, at: "/data", readonly: true }, 409, "VOLUME_IN_USE", message);
    await refused("PUT", "/v1/volumes/rw-excl/attach", { attach_to: { name: "rw-other" }, at: "/data" }, 409, "VOLUME_IN_USE", message);
    await refused("POST", "/v1/instances", { image: "base", autostart: false, volumes: [{ name: "rw-excl", at: "/d", readonly: true }] }, 409, "VOLUME_IN_USE", message);
    await refused("PUT", "/v1/volumes/rw-excl/attach", { attach_to: { name: "rw-owner" }, at: "/again", readonly: true }, 409, "VOLUME_IN_USE", "Volume 'rw-excl' is already attached to this instance");
  });

  it("refuses bad and overlapping mount paths", async () => {
    await createVolume("mp-vol");
    await createInstance({ name: "mp-inst", volumes: [{ size_mb: 8, at: "/data" }] });
    for (const at of ["/", "data", "/a/../b", "/a/./b", "/a:b", "/a//b", "/a/"])
      await refused("PUT", "/v1/volumes/mp-vol/attach", { attach_to: { name: "mp-inst" }, at }, 400, "VALIDATION_FAILED", `Mount path 'at' must be absolute, with no '.', '..' or ':' components: '${at}'`);
    for (const at of ["/data", "/data/sub"])
      await refused("PUT", "/v1/volumes/mp-vol/attach", { attach_to: { name: "mp-inst" }, at }, 400, "VALIDATION_FAILED", `Instance 'mp-inst' already has a volume at '/data', which overlaps '${at}'`);
    expect((await getVolume("mp-vol")).attached_to).toEqual([]);
  });

  it("leaves nothing behind when a create fails after making inline volumes", async () => {
    await createVolume("fail-rw");
    await createInstance({ name: "fail-rw-owner", volumes: [{ name: "fail-rw", at: "/d" }] });
    await createVolume("fail-name-taken");
    await refused("POST", "/v1/instances", { image: "base", autostart: false, volumes: [{ size_mb: 8, at: "/a" }, { size_mb: 8, at: "/b" }, { name: "fail-rw", at: "/c" }] }, 409, "VOLUME_IN_USE");
    await refused("POST", "/v1/instances", { image: "base", autostart: false, volumes: [{ size_mb: 8, at: "/a" }, { size_mb: 8, at: "/a" }] }, 400, "VALIDATION_FAILED", /overlaps '\/a'/);
    await refused("POST", "/v1/instances", { image: "base", autostart: false, volumes: [{ size_mb: 8, at: "/a" }, { name: "fail-name-taken", size_mb: 8, at: "/b" }] }, 409, "NAME_TAKEN");
    await refused("POST", "/v1/instances", { image: "base", autostart: false, volumes: [{ size_mb: 8, at: "/a" }, { name: "no-such-volume", at: "/b" }] }, 404, "VOLUME_NOT_FOUND");
    await refused("POST", "/v1/instances", { image: "base", autostart: false, volumes: [{ size_mb: 8, at: "/a", filesystem: "zfs" }] }, 400, "VALIDATION_FAILED", /Unknown filesystem 'zfs'/);
    await refused("POST", "/v1/instances", { image: "base", autostart: false, volumes: [{ uuid: "0b0b0b0b-0000-4000-8000-000000000000", size_mb: 8, at: "/a" }] }, 400, "VALIDATION_FAILED");
    await refused("POST", "/v1/instances", { image: "base", autostart: false, volumes: [{ at: "/a" }] }, 400, "VALIDATION_FAILED", "A volume needs 'uuid' or 'name' of an existing volume, or 'size_mb' or 'host_path' for a new one");
  });

  it("attaches to and detaches from stopped instances through the volume endpoints", async () => {
    await createVolume("ad-vol");
    const a = await createInstance({ name: "ad-a" });
    const b = await createInstance({ name: "ad-b" });
    const attached = volumeOf(await api(backend(), "PUT", "/v1/volumes/ad-vol/attach", { attach_to: { uuid: a.uuid }, at: "/mnt", readonly: true }));
    expect(attached.attached_to).toEqual([{ uuid: a.uuid, name: "ad-a" }]);
    expect(volumeOf(await api(backend(), "PUT", "/v1/volumes/ad-vol/attach", { attach_to: { name: "ad-b" }, at: "/mnt", readonly: true })).attached_to).toHaveLength(2);
    expect((await getInstance("ad-a")).volumes).toEqual([{ uuid: attached.uuid, name: "ad-vol", at: "/mnt", readonly: true, kind: "block", inline: false }]);
    const fromA = volumeOf(await api(backend(), "PUT", "/v1/volumes/ad-vol/detach", { from: { name: "ad-a" } }));
    expect(fromA.attached_to).toEqual([{ uuid: b.uuid, name: "ad-b" }]);
    await refused("PUT", "/v1/volumes/ad-vol/detach", { from: { name: "ad-a" } }, 400, "VALIDATION_FAILED", "Volume 'ad-vol' is not attached to instance 'ad-a'");
    await api(backend(), "PUT", "/v1/volumes/ad-vol/attach", { attach_to: { name: "ad-a" }, at: "/mnt", readonly: true });
    const fromAll = volumeOf(await api(backend(), "PUT", "/v1/volumes/ad-vol/detach", {}));
    expect(fromAll.attached_to).toEqual([]);
    expect((await getInstance("ad-a")).volumes).toEqual([]);
    expect((await getInstance("ad-b")).volumes).toEqual([]);
  });

  it("refuses to detach an inline volume: it lives and dies with its instance", async () => {
    const inst = await createInstance({ name: "inline-keeper", volumes: [{ name: "inline-kept", size_mb: 8, at: "/d" }] });
    await refused("PUT", "/v1/volumes/inline-kept/detach", { from: { uuid: inst.uuid } }, 409, "VOLUME_IN_USE", "Volume 'inline-kept' was created with instance 'inline-keeper' and lives and dies with it");
    await refused("PATCH", "/v1/instances/inline-keeper", [{ prop: "volumes", op: "del", value: "inline-kept" }], 409, "VOLUME_IN_USE");
  });

  it("PATCHes volumes: add attaches, del detaches (by name or reference)", async () => {
    const vol = await createVolume("pv-vol");
    await createInstance({ name: "pv-inst" });
    const added = instanceOf(await api(backend(), "PATCH", "/v1/instances/pv-inst", [{ prop: "volumes", op: "add", value: { name: "pv-vol", at: "/pv" } }]));
    expect(added.volumes).toEqual([{ uuid: vol.uuid, name: "pv-vol", at: "/pv", readonly: false, kind: "block", inline: false }]);
    expect(instanceOf(await api(backend(), "PATCH", "/v1/instances/pv-inst", [{ prop: "volumes", op: "del", value: { uuid: vol.uuid } }])).volumes).toEqual([]);
    await api(backend(), "PATCH", "/v1/instances/pv-inst", [{ prop: "volumes", op: "add", value: { uuid: vol.uuid, at: "/pv", readonly: true } }]);
    expect(instanceOf(await api(backend(), "PATCH", "/v1/instances/pv-inst", [{ prop: "volumes", op: "del", value: "pv-vol" }])).volumes).toEqual([]);
  });
});

describe("PATCH of tags, annotations and delete_lock", () => {
  it("applies the UKC grammar to tags and annotations", async () => {
    await createInstance({ name: "pt", tags: ["a"], annotations: { keep: "1", drop: "2" } });
    const patch = async (ops: unknown) => instanceOf(await api(backend(), "PATCH", "/v1/instances/pt", ops));
    expect((await patch({ prop: "tags", op: "add", value: ["a", "b"] })).tags).toEqual(["a", "b"]);
    expect((await patch({ prop: "tags", op: "del", value: "a" })).tags).toEqual(["b"]);
    expect((await patch({ prop: "tags", op: "set", value: ["x", "y"] })).tags).toEqual(["x", "y"]);
    expect((await patch({ prop: "annotations", op: "add", value: { added: "3" } })).annotations).toEqual({ keep: "1", drop: "2", added: "3" });
    expect((await patch({ prop: "annotations", op: "del", value: ["drop", "never-there"] })).annotations).toEqual({ keep: "1", added: "3" });
    expect((await patch({ prop: "annotations", op: "set", value: { only: "this" } })).annotations).toEqual({ only: "this" });
    const many = await patch([{ prop: "tags", op: "add", value: "z" }, { prop: "delete_lock", op: "set", value: true }]);
    expect(many).toMatchObject({ tags: ["x", "y", "z"], delete_lock: true });
    expect(await getInstance("pt")).toEqual(many);
    await patch({ prop: "delete_lock", op: "set", value: false });
  });

  it("refuses malformed operations and changes nothing", async () => {
    await createInstance({ name: "pt-bad", tags: ["t"] });
    for (const ops of [
      [{ prop: "image", op: "set", value: "other" }],
      [{ prop: "tags", op: "replace", value: ["x"] }],
      [{ prop: "annotations", op: "set", value: { "bad key!": "x" } }],
      [{ prop: "delete_lock", op: "add", value: true }],
      [{ prop: "tags", op: "set", value: ["ok"], extra: 1 }],
    ])
      await refused("PATCH", "/v1/instances/pt-bad", ops, 400, "VALIDATION_FAILED");
  });

  it("applies all operations of a request or none", async () => {
    await createInstance({ name: "pt-atomic", tags: ["before"] });
    await refused("PATCH", "/v1/instances/pt-atomic", [
      { prop: "tags", op: "set", value: ["after"] },
      { prop: "volumes", op: "add", value: { name: "no-such-volume", at: "/x" } },
    ], 404, "VOLUME_NOT_FOUND");
  });
});

describe("delete", () => {
  it("is refused under delete_lock", async () => {
    await createInstance({ name: "del-locked", delete_lock: true });
    await refused("DELETE", "/v1/instances/del-locked", undefined, 409, "DELETE_LOCKED", "Instance 'del-locked' has a delete lock; unset it with PATCH delete_lock first");
    await api(backend(), "PATCH", "/v1/instances/del-locked", [{ prop: "delete_lock", op: "set", value: false }]);
    expect((await api(backend(), "DELETE", "/v1/instances/del-locked")).status).toBe(200);
  });

  it("removes inline volumes with their disks, detaches the others, and frees host ports", async () => {
    const before = await observe(backend());
    await createVolume("del-kept");
    const inst = await createInstance({ name: "del-me", volumes: [{ name: "del-inline", size_mb: 8, at: "/i" }, { name: "del-kept", at: "/k" }], ports: [{ guest_port: 80 }] });
    const port = inst.ports[0]!.host_port;
    const del = await api(backend(), "DELETE", "/v1/instances/del-me");
    expect(del.status).toBe(200);
    expect(instanceOf(del)).toMatchObject({ uuid: inst.uuid, name: "del-me", state: "deleted" });
    const after = await observe(backend());
    expect(after.instances.map((i) => i.name)).not.toContain("del-me");
    expect(after.volumes.map((v) => v.name)).not.toContain("del-inline");
    expect((await getVolume("del-kept")).attached_to).toEqual([]);
    // Only the kept volume's disk is new.
    expect(newDiskFiles(before, after)).toHaveLength(1);
    expectError(await raw(backend(), "GET", "/v1/instances/del-me"), 404, "INSTANCE_NOT_FOUND");
    // Its host port can be asked for again.
    const again = await createInstance({ name: "del-port-reuse", ports: [{ guest_port: 80, host_port: port }] });
    expect(again.ports[0]!.host_port).toBe(port);
    expect(await createInstance({ name: "del-me" })).toMatchObject({ name: "del-me" });
  });
});

describe("lifecycle answers that need no VM", () => {
  beforeAll(async () => {
    await createInstance({ name: "lc" });
  });

  it("stopping a stopped instance is a no-op that answers the instance", async () => {
    expect(instanceOf(await api(backend(), "PUT", "/v1/instances/lc/stop", { force: true })).state).toBe("stopped");
  });

  it("refuses to suspend a stopped instance with 409 INVALID_STATE", async () => {
    await refused("PUT", "/v1/instances/lc/suspend", undefined, 409, "INVALID_STATE", "Cannot suspend instance 'lc' in state 'stopped'");
  });

  it("waits: at once for the current state, 408 WAIT_TIMEOUT for another (running by default), 400 for a state that does not exist", async () => {
    expect(instanceOf(await api(backend(), "GET", "/v1/instances/lc/wait?state=stopped&timeout_s=5")).state).toBe("stopped");
    expectError(await raw(backend(), "GET", "/v1/instances/lc/wait?state=running&timeout_s=0"), 408, "WAIT_TIMEOUT", "Instance 'lc' did not reach state 'running' within 0s (it is 'stopped')");
    expectError(await raw(backend(), "GET", "/v1/instances/lc/wait?state=sleeping"), 400, "VALIDATION_FAILED");
    expectError(await raw(backend(), "GET", "/v1/instances/lc/wait?timeout_s=0"), 408, "WAIT_TIMEOUT", "Instance 'lc' did not reach state 'running' within 0s (it is 'stopped')");
    expectError(await raw(backend(), "GET", "/v1/instances/lc/wait?timeout_s=3601"), 400, "VALIDATION_FAILED");
  });

  it("has an empty log before its first start", async () => {
    const res = await raw(backend(), "GET", "/v1/instances/lc/log");
    expect(res.status).toBe(200);
    expect(res.body.data.instances).toEqual([{ status: "success", uuid: expect.any(String), name: "lc", output: "", available: { start: 0, end: 0 }, range: { start: 0, end: 0 }, state: "stopped" }]);
  });

  it("refuses unknown stop options", async () => {
    await refused("PUT", "/v1/instances/lc/stop", { force: "yes" }, 400, "VALIDATION_FAILED");
    await refused("PUT", "/v1/instances/lc/stop", { drain: true }, 400, "VALIDATION_FAILED", "Unknown field 'drain'");
  });
});

describe("branch of a stopped instance (no VM: autostart false)", () => {
  it("clones read-write volumes, shares read-only ones, filters labels, and gets a new identity", async () => {
    await createVolume("br-ro");
    await createVolume("br-rw");
    const src = await createInstance({
      name: "br-src", tags: ["app", "tmp-1"], annotations: { owner: "ops", scratch: "x" }, ports: [{ guest_port: 8080 }],
      volumes: [{ name: "br-rw", at: "/rw" }, { name: "br-ro", at: "/ro", readonly: true }, { size_mb: 8, at: "/inline" }],
    });
    const res = await api(backend(), "POST", "/v1/instances", {
      name: "br-1", branch_from: { name: "br-src" }, autostart: false, tag_filters: ["*", "!tmp-*"], annotation_filters: ["owner"],
      new_mac_addresses: { eth0: "02:00:00:aa:bb:cc" }, new_smbios_serial: "branch-serial",
    });
    expect(res.status).toBe(201);
    const br = instanceOf(res);
    expect(br).toMatchObject({
      state: "stopped", image: "base", memory_mb: src.memory_mb, tags: ["app"], annotations: { owner: "ops" }, smbios_serial: "branch-serial",
      network_interfaces: [expect.objectContaining({ mac: "02:00:00:aa:bb:cc" })],
      branch: { source: { uuid: src.uuid, name: "br-src" }, phase: "Succeeded", from_memory: false },
    });
    expect(br.ports.map((p) => p.guest_port)).toEqual([8080]);
    expect(br.ports[0]!.host_port).not.toBe(src.ports[0]!.host_port);
    const [rw, ro, inline] = br.volumes;
    expect([rw?.at, ro?.at, inline?.at]).toEqual(["/rw", "/ro", "/inline"]);
    expect(ro).toMatchObject({ name: "br-ro", readonly: true, inline: false });
    expect(rw).toMatchObject({ readonly: false, inline: true });
    expect(rw!.uuid).not.toBe(src.volumes[0]!.uuid);
    expect((await getVolume(rw!.uuid)).clone?.source).toEqual({ uuid: src.volumes[0]!.uuid, name: "br-rw" });
    expect((await getVolume("br-ro")).attached_to.map((a) => a.name).sort()).toEqual(["br-1", "br-src"]);
    expect((await getVolume("br-rw")).attached_to.map((a) => a.name)).toEqual(["br-src"]);

    const plain = instanceOf(await api(backend(), "POST", "/v1/instances", { branch_from: { uuid: src.uuid }, autostart: false }));
    expect(plain.name).toMatch(/^br-src-branch-/);
    expect(plain.tags).toEqual(["app", "tmp-1"]);
    expect(plain.network_interfaces[0]!.mac).not.toBe(src.network_interfaces[0]!.mac);
    expect(plain.smbios_serial).not.toBe(src.smbios_serial);
  });
});

describe("list", () => {
  it("shows every instance as its own GET does, volumes in device order and ports included", async () => {
    await createInstance({ name: "ls-many", volumes: [{ size_mb: 8, at: "/b" }, { size_mb: 8, at: "/a" }], ports: [{ guest_port: 9090 }, { guest_port: 53, protocol: "udp" }] });
    const listed = ((await api(backend(), "GET", "/v1/instances")).body as { data: { instances: Instance[] } }).data.instances;
    // The earlier tests left instances with several volumes and ports: the list reads them in one pass.
    expect(listed.filter((i) => i.volumes.length > 1).length).toBeGreaterThan(1);
    expect(listed.filter((i) => i.ports.length > 1).length).toBeGreaterThan(1);
    for (const i of listed) expect(i).toEqual(await getInstance(i.uuid));
  });
});
