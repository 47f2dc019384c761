// Host failure without agents (docs/cluster.md, "Host failure"; docs/api.md, "Hosts"), through real
// HTTP, no VM booted: instances, templates, a checkpoint and volumes made on serve's host, then
// moved by SQL onto a host whose heartbeats stopped (no agent can join yet, so another host is a
// row in the store). Their views say `host_state: offline` with their state as last recorded (and
// the CLI marks them `(host offline)`);
// every operation that would act on them, or needs their host, answers 409 HOST_OFFLINE with the
// exact message, one by one and item by item in bulk, and changes nothing; reads of the store keep
// working (the console log, a file on that host, answers 409 as well).
// A restart of serve leaves them as recorded (their VMs are not on this machine to be found).
// Once the host heartbeats again, the same operations are accepted.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { Instance, Volume } from "../../sdk";
import { CLI, startBackend, type TestBackend } from "../helpers/backend";
import { storeSql } from "../helpers/store-sql";
import { api, expectError, instanceOf, observe, raw, tarWithEntry, volumeOf, type Observed } from "./support";

jest.setTimeout(60_000);
const run = promisify(execFile);

let b: TestBackend;

const offline = (what: string, name: string) =>
  `${what} '${name}' is on host 'box-3', which is offline: nothing can act on it until the host heartbeats again`;

async function created<T>(res: Promise<{ status: number; body: { data: Record<string, T[]> } }>, kind: string): Promise<T> {
  const r = await res;
  expect(r.status).toBeLessThan(300);
  return r.body.data[kind]![0]!;
}

/** Everything observe() sees, and the checkpoints it does not. */
async function everything(): Promise<{ observed: Observed; checkpoints: Instance[] }> {
  const cps = await api(b, "GET", "/v1/instances/checkpoints");
  expect(cps.status).toBe(200);
  return { observed: await observe(b), checkpoints: cps.body.data.instances as Instance[] };
}

beforeAll(async () => {
  b = await startBackend({ args: ["--host-name", "box-1"] });
  await storeSql(b, `INSERT INTO hosts (name, state, memory_total_mib, memory_free_mib, last_heartbeat, joined_at) VALUES (?, 'offline', 8192, 8000, ?, ?)`, [
    "box-3", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z",
  ]);
  // Made on box-1 through the API, as an agent on box-3 would have made them there.
  const mk = (body: Record<string, unknown>) => created<Instance>(api(b, "POST", "/v1/instances", { image: "base", autostart: false, ...body }), "instances");
  await created<Volume>(api(b, "POST", "/v1/volumes", { name: "far-data", size_mb: 8 }), "volumes");
  await created<Volume>(api(b, "POST", "/v1/volumes", { name: "far-loose", size_mb: 8 }), "volumes");
  await created<Volume>(api(b, "POST", "/v1/volumes", { name: "far-vtpl", size_mb: 8 }), "volumes");
  await created<Volume>(api(b, "POST", "/v1/volumes", { name: "near-vol", size_mb: 8 }), "volumes");
  await created<Volume>(api(b, "POST", "/v1/volumes/templates", { name: "far-vtpl" }), "volumes");
  await mk({ name: "far", volumes: [{ name: "far-data", at: "/data" }, { size_mb: 8, at: "/scratch", name: "far-inline" }] });
  await mk({ name: "far-tpl" });
  await created<Instance>(api(b, "POST", "/v1/instances/templates", [{ name: "far-tpl" }]), "instances");
  await created<Instance>(api(b, "POST", "/v1/instances/checkpoints", [{ from: { name: "far" }, name: "far-cp" }]), "instances");
  await mk({ name: "near" });
  await storeSql(b, "UPDATE instances SET host = 'box-3' WHERE name IN ('far', 'far-tpl', 'far-cp')");
  await storeSql(b, "UPDATE volumes SET host = 'box-3' WHERE name LIKE 'far%'");
}, 120_000);
afterAll(() => b?.stop(), 60_000);

describe("views of what lives on an offline host", () => {
  it("say host_state offline, with the state as last recorded; what is on serve's host says online", async () => {
    const far = instanceOf(await api(b, "GET", "/v1/instances/far"));
    expect(far).toMatchObject({ host: "box-3", host_state: "offline", state: "stopped" });
    expect(instanceOf(await api(b, "GET", "/v1/instances/near"))).toMatchObject({ host: "box-1", host_state: "online", state: "stopped" });
    const list = (await api(b, "GET", "/v1/instances")).body.data.instances as Instance[];
    expect(list.map((i) => [i.name, i.host_state]).sort()).toEqual([["far", "offline"], ["near", "online"]]);
    expect(instanceOf(await api(b, "GET", "/v1/instances/templates/far-tpl"))).toMatchObject({ host_state: "offline", state: "template" });
    expect(instanceOf(await api(b, "GET", "/v1/instances/checkpoints/far-cp"))).toMatchObject({ host_state: "offline", state: "checkpoint" });
    for (const name of ["far-data", "far-loose", "far-inline"])
      expect(volumeOf(await api(b, "GET", `/v1/volumes/${name}`))).toMatchObject({ name, host: "box-3", host_state: "offline", state: "available" });
    expect(volumeOf(await api(b, "GET", "/v1/volumes/templates/far-vtpl"))).toMatchObject({ host_state: "offline", state: "template" });
    expect(volumeOf(await api(b, "GET", "/v1/volumes/near-vol"))).toMatchObject({ host: "box-1", host_state: "online" });
  });

  it("are marked for people: `vmbranch ls`, `volumes ls` and `get` say the host is offline", async () => {
    const cli = async (...args: string[]) =>
      (await run(process.execPath, [CLI, ...args, "--endpoint", b.url], { env: { ...process.env, VMBRANCH_TOKEN: b.token } })).stdout;
    const ls = await cli("ls");
    expect(ls).toMatch(/^far\s+stopped \(host offline\)\s+base\s/m);
    expect(ls).toMatch(/^near\s+stopped\s+base\s/m);
    expect(await cli("volumes", "ls")).toMatch(/^far-data\s+available \(host offline\)\s+block\s/m);
    const get = await cli("get", "far");
    expect(get).toMatch(/^state: +stopped \(host offline\)$/m);
    expect(get).toMatch(/^host: +box-3 \(offline\)$/m);
    expect(await cli("get", "near")).toMatch(/^host: +box-1$/m);
  });

  it("keep answering reads of the store (history); the console log, a file on that host, is out of reach", async () => {
    expect((await api(b, "GET", "/v1/instances/far/history")).status).toBe(200);
    expectError(await api(b, "GET", "/v1/instances/far/log"), 409, "HOST_OFFLINE", offline("Instance", "far"));
  });
});

describe("operations on what lives on an offline host", () => {
  /** Send each request; each answers 409 HOST_OFFLINE with `message` (and `field`), and nothing changes. */
  async function refused(cases: [method: string, path: string, body: unknown, message: string, field?: string][]): Promise<void> {
    const before = await everything();
    for (const [method, path, body, message, field] of cases) {
      const res = await raw(b, method, path, body === undefined ? {} : { body });
      expectError(res, 409, "HOST_OFFLINE", message, field);
    }
    expect(await everything()).toEqual(before);
  }

  it("refuses every action on an instance", async () => {
    const m = offline("Instance", "far");
    await refused([
      ["PUT", "/v1/instances/far/start", {}, m],
      ["PUT", "/v1/instances/far/stop", {}, m],
      ["PUT", "/v1/instances/far/suspend", {}, m],
      ["DELETE", "/v1/instances/far", undefined, m],
      ["PATCH", "/v1/instances/far", { prop: "tags", op: "add", value: ["x"] }, m],
      ["PATCH", "/v1/instances/far", { prop: "volumes", op: "add", value: { name: "near-vol", at: "/near" } }, m],
      ["POST", "/v1/instances", { name: "b1", branch_from: { name: "far" } }, m, "branch_from"],
      ["POST", "/v1/instances/templates", [{ name: "far" }], m],
      ["POST", "/v1/instances/checkpoints", [{ from: { name: "far" } }], m],
      ["PUT", "/v1/volumes/near-vol/attach", { attach_to: { name: "far" }, at: "/near" }, m],
    ]);
  });

  it("refuses every action on a volume", async () => {
    const loose = offline("Volume", "far-loose");
    await refused([
      ["PATCH", "/v1/volumes/far-loose", { prop: "size_mb", op: "set", value: 16 }, loose],
      ["PATCH", "/v1/volumes/far-loose", { prop: "tags", op: "add", value: ["x"] }, loose],
      ["DELETE", "/v1/volumes/far-loose", undefined, loose],
      ["PUT", "/v1/volumes/far-loose/attach", { attach_to: { name: "near" }, at: "/far" }, loose],
      ["PUT", "/v1/volumes/far-data/detach", { from: { name: "far" } }, offline("Volume", "far-data")],
      ["POST", "/v1/volumes/far-loose/clone", {}, loose],
      ["POST", "/v1/volumes/templates", [{ name: "far-loose", mode: "copy" }], loose],
      ["POST", "/v1/instances", { name: "n1", image: "base", autostart: false, volumes: [{ name: "far-loose", at: "/far" }] }, loose, "volumes"],
      ["PATCH", "/v1/instances/near", { prop: "volumes", op: "add", value: { name: "far-loose", at: "/far" } }, loose],
    ]);
    const imported = await raw(b, "PUT", "/v1/volumes/far-loose/import", { body: tarWithEntry("a.txt", "hello"), headers: { "content-type": "application/x-tar" } });
    expectError(imported, 409, "HOST_OFFLINE", loose);
  });

  it("refuses every action on templates and checkpoints, and instances or volumes made from them", async () => {
    await refused([
      ["PATCH", "/v1/instances/templates/far-tpl", { prop: "tags", op: "add", value: ["x"] }, offline("Instance template", "far-tpl")],
      ["DELETE", "/v1/instances/templates/far-tpl", undefined, offline("Instance template", "far-tpl")],
      ["POST", "/v1/instances", { name: "t1", template: { name: "far-tpl" } }, offline("Instance template", "far-tpl"), "template"],
      ["PATCH", "/v1/instances/checkpoints/far-cp", { prop: "delete_lock", op: "set", value: true }, offline("Checkpoint", "far-cp")],
      ["DELETE", "/v1/instances/checkpoints/far-cp", undefined, offline("Checkpoint", "far-cp")],
      ["POST", "/v1/instances", { name: "c1", checkpoint: { name: "far-cp" } }, offline("Checkpoint", "far-cp"), "checkpoint"],
      ["PATCH", "/v1/volumes/templates/far-vtpl", { prop: "tags", op: "add", value: ["x"] }, offline("Volume template", "far-vtpl")],
      ["DELETE", "/v1/volumes/templates/far-vtpl", undefined, offline("Volume template", "far-vtpl")],
      ["POST", "/v1/volumes", { name: "v1", template: { name: "far-vtpl" } }, offline("Volume template", "far-vtpl"), "template"],
      ["POST", "/v1/volumes/far-vtpl/clone", {}, offline("Volume template", "far-vtpl")],
    ]);
  });

  it("answers bulk requests item by item: the items on serve's host succeed, those on the offline host fail", async () => {
    const stop = await raw(b, "PUT", "/v1/instances/stop", { body: [{ name: "near" }, { name: "far" }] });
    expect(stop.status).toBe(200);
    expect(stop.body.status).toBe("partial_success");
    expect(stop.body.data.instances).toEqual([
      expect.objectContaining({ status: "success", name: "near", state: "stopped", previous_state: "stopped", host_state: "online" }),
      { status: "error", name: "far", message: offline("Instance", "far"), error: 409 },
    ]);
    const before = await everything();
    const del = await raw(b, "DELETE", "/v1/volumes", { body: [{ name: "far-loose" }, { name: "far-data" }] });
    expect(del.status).toBe(409);
    expect(del.body.data.volumes).toEqual([
      { status: "error", name: "far-loose", message: offline("Volume", "far-loose"), error: 409 },
      { status: "error", name: "far-data", message: offline("Volume", "far-data"), error: 409 },
    ]);
    expect(await everything()).toEqual(before);
  });
});

describe("a restart of serve", () => {
  it("leaves what lives on an offline host as last recorded: no VM of it here says nothing about it", async () => {
    // Recorded running on box-3 when its heartbeats stopped; its VM was never on this machine.
    await storeSql(b, "UPDATE instances SET state = 'running' WHERE name = 'far'");
    await b.restart(["--host-name", "box-1"]);
    expect(instanceOf(await api(b, "GET", "/v1/instances/far"))).toMatchObject({ state: "running", host: "box-3", host_state: "offline" });
    const doctor = await raw(b, "GET", "/v1/doctor");
    expect(doctor.status).toBe(200);
    expect(doctor.body.data.doctor[0].findings).toEqual([]);
    expectError(await raw(b, "PUT", "/v1/instances/far/stop", { body: {} }), 409, "HOST_OFFLINE", offline("Instance", "far"));
  });
});

describe("when the host heartbeats again", () => {
  it("shows it online and accepts the operations again", async () => {
    // As an agent's heartbeat would record it (far ahead, so serve's staleness check leaves it online).
    await storeSql(b, "UPDATE hosts SET state = 'online', last_heartbeat = ? WHERE name = 'box-3'", ["2999-01-01T00:00:00.000Z"]);
    const far = instanceOf(await api(b, "PATCH", "/v1/instances/far", { prop: "tags", op: "add", value: ["back"] }));
    // Still as last recorded: reconciling it with what really runs on box-3 needs its agent.
    expect(far).toMatchObject({ host_state: "online", tags: ["back"], state: "running" });
    expect(volumeOf(await api(b, "PATCH", "/v1/volumes/far-loose", { prop: "tags", op: "add", value: ["back"] }))).toMatchObject({ host_state: "online", tags: ["back"] });
  });
});
