// Provider methods of Instance against a real `vmbranch serve` with real guests: create with a
// volume, a port and a readiness check; every in-place row of docs/provider.md's table applied to
// the same VM (tags, annotations, delete lock, ports, state, volumes); every replace row decided on
// real outputs and one replacement carried out; drift and its repair; check failures that the API
// refuses with the same words. Branches, partial creates and out-of-band deletion are in
// instance-lifecycle.test.ts. Few VMs on purpose: TCG guests on 2 cores.
import * as instance from "vmbranch/provider/impl/instance";
import * as volume from "vmbranch/provider/impl/volume";
import { startProviderHarness, type ProviderHarness } from "./support/harness";
import { checked, createResource, diffResource, updateResource, withoutProvider, type Deployed } from "./support/engine-steps";
import { hitLog, webServer } from "./support/web-guest";

jest.setTimeout(180_000);

let h: ProviderHarness;
let data: Deployed;
let logs: Deployed;
let web: Deployed;
let webInputs: Record<string, unknown>;

beforeAll(async () => {
  h = await startProviderHarness();
  data = await h.created("volume", createResource(volume, { namePrefix: "data", sizeMb: 16 }));
  logs = await h.created("volume", createResource(volume, { namePrefix: "logs", sizeMb: 8 }));
});
afterAll(async () => {
  await h?.teardown();
});

const hostPort = (d: Deployed, guest = 8080) => (d.outs.hostPorts as Record<string, number>)[String(guest)] as number;
const server = (d: Deployed) => h.backend.client.instances.get(d.id);

test("create: boots from the image with a volume and a port, waits for readiness, returns full outputs", async () => {
  webInputs = {
    namePrefix: "web",
    image: "base",
    ...webServer("/data"),
    volumes: [{ volume: data.outs.name, at: "/data" }],
    ports: [{ guestPort: 8080 }],
    tags: ["web"],
    annotations: { team: "a" },
    readiness: { guestPort: 8080, path: "/" },
  };
  web = await h.created("instance", createResource(instance, webInputs));
  expect(web.outs).toMatchObject({
    schemaVersion: 1,
    name: expect.stringMatching(/^web-[0-9a-f]{7}$/),
    autoNamed: true,
    uuid: web.id,
    state: "running",
    image: "base",
    memoryMb: 128,
    vcpus: 1,
    tags: ["web"],
    annotations: { team: "a" },
    deleteLock: false,
    volumes: [{ volume: data.outs.name, sizeMb: null, at: "/data", readonly: false }],
    ports: [{ guestPort: 8080, hostPort: null, protocol: "tcp" }],
    attachedVolumes: [{ uuid: data.id, name: data.outs.name, at: "/data", readonly: false, inline: false, kind: "block" }],
    branchedFrom: null,
    sourcePauseMs: null,
    macAddress: expect.stringMatching(/^02:/),
    bootTimeMs: expect.any(Number),
    createdAt: expect.any(String),
    hostState: "online",
  });
  expect(web.outs.host).toBe((await h.backend.client.hosts.list()).map((x) => x.name).join());
  expect(hostPort(web)).toBeGreaterThan(0);
  expect(await hitLog(hostPort(web), "first")).toEqual(["first"]);
});

test("read returns the same outputs, the inputs exactly as given, and a second diff reports no changes", async () => {
  expect(await instance.read(web.id, web.outs)).toEqual({ id: web.id, props: web.outs, inputs: withoutProvider(web.inputs) });
  expect(await diffResource(instance, web, webInputs)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
});

test.each([
  ["branch_from with image", { branchFrom: "src", image: "base" }, { branch_from: { name: "src" }, image: "base" }],
  ["branch_from with template", { branchFrom: "src", template: "tpl" }, { branch_from: { name: "src" }, template: { name: "tpl" } }],
  ["branch_from with memory_mb", { branchFrom: "src", memoryMb: 256 }, { branch_from: { name: "src" }, memory_mb: 256 }],
  ["template with image", { template: "tpl", image: "base" }, { template: { name: "tpl" }, image: "base" }],
  ["no source", {}, {}],
  ["clone options without a source", { image: "base", cloneOptions: { newSmbiosSerial: "s" } }, { image: "base", new_smbios_serial: "s" }],
  ["a bad filter", { branchFrom: "src", cloneOptions: { tagFilters: ["*a"] } }, { branch_from: { name: "src" }, tag_filters: ["*a"] }],
  ["a bad MAC", { branchFrom: "src", cloneOptions: { newMacAddresses: { eth0: "zz" } } }, { branch_from: { name: "src" }, new_mac_addresses: { eth0: "zz" } }],
  ["a relative mount path", { image: "base", volumes: [{ sizeMb: 8, at: "data" }] }, { image: "base", volumes: [{ size_mb: 8, at: "data" }] }],
])("check refuses %s with the message the API answers", async (_what, news, body) => {
  const { failures } = await instance.check({}, { namePrefix: "x", ...news });
  const res = await h.backend.http("POST", "/v1/instances", body);
  expect(res.status).toBe(400);
  expect(failures.map((f) => f.reason)).toContain(res.body.errors[0].message);
});

describe("in-place updates on one running VM", () => {
  test("tags, annotations and the delete lock; a locked instance is not deleted", async () => {
    const updated = await updateResource(instance, web, (webInputs = { ...webInputs, tags: ["web", "blue"], annotations: { team: "b" }, deleteLock: true }));
    web = updated;
    expect(updated.diff).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(await server(web)).toMatchObject({ tags: ["web", "blue"], annotations: { team: "b" }, delete_lock: true, state: "running" });
    await expect(instance.remove(web.id, web.outs)).rejects.toThrow(/delete lock/);
    web = await updateResource(instance, web, (webInputs = { ...webInputs, deleteLock: false }));
    expect((await server(web)).delete_lock).toBe(false);
  });

  test("ports are published and withdrawn while it runs, the existing host port kept", async () => {
    const before = hostPort(web);
    web = await updateResource(instance, web, (webInputs = { ...webInputs, ports: [{ guestPort: 8080 }, { guestPort: 9090 }] }));
    expect(web.outs.state).toBe("running");
    expect(hostPort(web)).toBe(before);
    expect(hostPort(web, 9090)).toBeGreaterThan(0);
    web = await updateResource(instance, web, (webInputs = { ...webInputs, ports: [{ guestPort: 8080 }] }));
    expect(Object.keys(web.outs.hostPorts as object)).toEqual(["8080"]);
    expect(await hitLog(hostPort(web), "second")).toEqual(["first", "second"]);
  });

  test("state: stopped, standby (suspended with its memory), running again", async () => {
    web = await updateResource(instance, web, (webInputs = { ...webInputs, state: "stopped" }));
    expect(web.outs.state).toBe("stopped");
    expect((await server(web)).state).toBe("stopped");
    web = await updateResource(instance, web, (webInputs = { ...webInputs, state: "standby" }));
    expect(web.outs.state).toBe("standby");
    expect((await server(web)).state).toBe("standby");
    web = await updateResource(instance, web, (webInputs = { ...webInputs, state: "running" }));
    expect(web.outs.state).toBe("running");
    expect(await hitLog(hostPort(web), "third")).toEqual(["first", "second", "third"]);
  });

  test("volumes are attached and detached (stopped for it, then running again)", async () => {
    web = await updateResource(instance, web, (webInputs = { ...webInputs, volumes: [{ volume: data.outs.name, at: "/data" }, { volume: logs.id, at: "/logs", readonly: true }] }));
    expect(web.outs.state).toBe("running");
    expect((await server(web)).volumes.map((v) => [v.name, v.at, v.readonly])).toEqual([
      [data.outs.name, "/data", false],
      [logs.outs.name, "/logs", true],
    ]);
    expect(await diffResource(instance, web, webInputs)).toMatchObject({ changes: false });
    web = await updateResource(instance, web, (webInputs = { ...webInputs, volumes: [{ volume: data.outs.name, at: "/data" }] }));
    expect((await server(web)).volumes.map((v) => v.name)).toEqual([data.outs.name]);
    expect(await hitLog(hostPort(web), "fourth")).toEqual(["first", "second", "third", "fourth"]);
  });
});

describe("drift", () => {
  test("refresh sees tags changed and the VM stopped outside Pulumi; the next update repairs both", async () => {
    await h.backend.client.instances.update(web.id, [{ prop: "tags", op: "add", value: ["by-hand"] }]);
    await h.backend.client.instances.stop(web.id);
    const read = await instance.read(web.id, web.outs);
    expect(read.props).toMatchObject({ state: "stopped", tags: ["web", "blue", "by-hand"] });
    const refreshed: Deployed = { ...web, outs: read.props as unknown as Record<string, unknown> };
    expect(await diffResource(instance, refreshed, webInputs)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    web = await updateResource(instance, refreshed, webInputs);
    expect(await server(web)).toMatchObject({ state: "running", tags: ["web", "blue"] });
    expect(await diffResource(instance, web, webInputs)).toMatchObject({ changes: false });
  });
});

describe("replacement", () => {
  test.each([
    ["name", { name: "fixed-name" }],
    ["image", { image: "other" }],
    ["memoryMb", { memoryMb: 192 }],
    ["vcpus", { vcpus: 2 }],
    ["args", { args: ["sh"] }],
    ["env", { env: { CGI: "changed" } }],
    ["hostname", { hostname: "other" }],
  ])("a change of %s replaces it", async (field, change) => {
    const d = await diffResource(instance, web, { ...webInputs, ...change });
    expect(d.replaces).toEqual([field]);
    // The read-write volume cannot be mounted by two instances: the old one must go first.
    expect(d.deleteBeforeReplace).toBe(true);
  });

  test.each([
    ["template", { image: undefined, template: "tpl" }],
    ["branchFrom", { image: undefined, branchFrom: "other" }],
    ["cloneOptions", { image: undefined, branchFrom: "other", cloneOptions: { newSmbiosSerial: "s" } }],
  ])("a change of %s replaces it (diff on the stored outputs)", async (field, change) => {
    const news = { ...webInputs, ...change, volumes: undefined, __provider: "p" };
    expect((await instance.diff(web.id, web.outs, news)).replaces).toContain(field);
  });

  test("carried out as the engine does: old deleted first, a new auto-name, the volume's data kept", async () => {
    const news = { ...webInputs, memoryMb: 192 };
    expect((await diffResource(instance, web, news)).deleteBeforeReplace).toBe(true);
    await instance.remove(web.id, web.outs);
    // The engine checks a replacement again without old inputs, so the auto-name is new.
    const replaced = await h.created("instance", createResource(instance, news));
    expect(replaced.outs.name).not.toBe(web.outs.name);
    expect(replaced.outs).toMatchObject({ memoryMb: 192, state: "running" });
    expect(await hitLog(hostPort(replaced), "fifth")).toEqual(["first", "second", "third", "fourth", "fifth"]);
    expect(await instance.read(web.id, web.outs)).toEqual({});
    web = replaced;
    webInputs = news;
    expect(await checked(instance, news, web)).toMatchObject({ name: web.outs.name });
  });
});

test("delete: the instance goes, its volume stays, a second delete is fine", async () => {
  await instance.remove(web.id, web.outs);
  await expect(instance.remove(web.id, web.outs)).resolves.toBeUndefined();
  expect(await instance.read(web.id, web.outs)).toEqual({});
  expect((await h.backend.client.volumes.get(data.id)).attached_to).toEqual([]);
});
