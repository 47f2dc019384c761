// Checkpoints, histories and the bulk and by-id forms of the API through real HTTP, without
// booting a VM: checkpoints of stopped instances (their volumes frozen, no memory), loading them,
// their lineage and the instances' state transitions (kept across a restart of the service),
// delete locks and autokill, template updates, the bulk instance and volume endpoints answering
// item by item, and list queries. Refusals change nothing; deleting everything leaves no disk.
import type { Instance } from "../../sdk";
import { api, expectError, instanceOf, observe, raw, useBackend, volumeOf } from "./support";

jest.setTimeout(60_000);
const backend = useBackend();

async function createInstance(body: Record<string, unknown>): Promise<Instance> {
  const res = await api(backend(), "POST", "/v1/instances", { image: "base", autostart: false, ...body });
  expect(res.status).toBe(201);
  return instanceOf(res);
}

async function createCheckpoint(item: Record<string, unknown>): Promise<Instance> {
  const res = await api(backend(), "POST", "/v1/instances/checkpoints", [item]);
  expect(res.status).toBe(201);
  return instanceOf(res);
}

const getCheckpoint = async (id: string) => instanceOf(await api(backend(), "GET", `/v1/instances/checkpoints/${id}`));

/** Poll (with a deadline) until `probe` holds. */
async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("checkpoints of stopped instances", () => {
  beforeAll(async () => {
    await createInstance({ name: "src", volumes: [{ name: "src-data", size_mb: 8, at: "/data" }], ports: [{ guest_port: 8080 }], annotations: { "team/owner": "ops" } });
  });

  it("captures the volumes (no memory), named, tagged, listed apart from instances", async () => {
    const cp = await createCheckpoint({ from: { name: "src" }, name: "cp1", tags: ["nightly"] });
    expect(cp).toMatchObject({
      name: "cp1", state: "checkpoint", tags: ["nightly"], annotations: { "team/owner": "ops" }, checkpoint_autokill: { time_ms: 0 },
      checkpoint: { source: { name: "src" }, has_memory: false, source_pause_ms: 0, loads: 0, last_loaded_at: null, guest_ports: [{ guest_port: 8080, protocol: "tcp" }] },
      volumes: [expect.objectContaining({ name: "src-data", at: "/data", readonly: false })],
    });
    expect((await getCheckpoint(cp.uuid)).name).toBe("cp1");
    const list = await api(backend(), "GET", "/v1/instances/checkpoints?tags=nightly");
    expect(list.body.data.instances.map((c: Instance) => c.name)).toEqual(["cp1"]);
    expectError(await raw(backend(), "GET", "/v1/instances/cp1"), 404, "INSTANCE_NOT_FOUND");
    const instances = await api(backend(), "GET", "/v1/instances");
    expect(instances.body.data.instances.map((i: Instance) => i.name)).not.toContain("cp1");
  });

  it("refuses a taken name with the reference's message, and an unknown source, item by item", async () => {
    const before = await observe(backend());
    expectError(await raw(backend(), "POST", "/v1/instances/checkpoints", { body: [{ from: { name: "src" }, name: "cp1" }] }), 409, "NAME_TAKEN", "A checkpoint with the name 'cp1' already exists");
    expectError(await raw(backend(), "POST", "/v1/instances/checkpoints", { body: [{ from: { name: "src" }, name: "src" }] }), 409, "NAME_TAKEN", "An instance named 'src' already exists");
    const res = await raw(backend(), "POST", "/v1/instances/checkpoints", { body: [{ from: { name: "nope" } }, { form: { name: "src" } }] });
    // Every item failed: the answer takes the first error's status.
    expect(res.status).toBe(404);
    expect(res.body.status).toBe("error");
    expect(res.body.data.instances).toEqual([
      { status: "error", message: "Instance 'nope' not found", error: 404 },
      { status: "error", message: expect.stringContaining("Unknown field 'form'"), error: 400 },
    ]);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(["[0]", "[1]"]);
    expect(await observe(backend())).toEqual(before);
  });

  it("loads new instances with clones of the captured volumes and the source's guest ports", async () => {
    const l1 = await createInstance({ checkpoint: { name: "cp1" }, name: "l1", image: undefined });
    expect(l1).toMatchObject({ state: "stopped", from_checkpoint: { name: "cp1" }, annotations: { "team/owner": "ops" } });
    expect(l1.volumes).toEqual([expect.objectContaining({ at: "/data", inline: true })]);
    expect(l1.volumes[0]!.uuid).not.toBe((await getCheckpoint("cp1")).volumes[0]!.uuid);
    expect(l1.ports).toEqual([expect.objectContaining({ guest_port: 8080 })]);
    expect((await getCheckpoint("cp1")).checkpoint).toMatchObject({ loads: 1, last_loaded_at: expect.any(String) });
    expectError(await raw(backend(), "POST", "/v1/instances", { body: { checkpoint: { name: "cp1" }, image: "base" } }), 400, "VALIDATION_FAILED", "Cannot specify 'image' when creating an instance from a checkpoint");
    expectError(await raw(backend(), "POST", "/v1/instances", { body: { checkpoint: { name: "nope" } } }), 404, "CHECKPOINT_NOT_FOUND", "Checkpoint 'nope' not found");
  });

  it("gives instances and checkpoints their lineage, and instances their transitions, kept across a restart", async () => {
    await createCheckpoint({ from: { name: "l1" }, name: "cp2" });
    const cp2 = await api(backend(), "GET", "/v1/instances/checkpoints/cp2/history");
    expect(cp2.body.data.instances[0].history.map((h: { name: string }) => h.name)).toEqual(["cp2", "cp1"]);
    const l1 = await api(backend(), "GET", "/v1/instances/l1/history");
    expect(l1.body.data.instances[0]).toMatchObject({ name: "l1", history: [{ name: "cp2" }, { name: "cp1" }], transitions: [{ from: null, to: "stopped", reason: "created" }] });
    const src = await api(backend(), "GET", "/v1/instances/history?name=src&name=l1");
    expect(src.body.data.instances.map((h: { name: string; history: { name: string }[] }) => [h.name, h.history.map((x) => x.name)])).toEqual([["src", ["cp1"]], ["l1", ["cp2", "cp1"]]]);
    await api(backend(), "PUT", "/v1/instances/src/stop");
    await backend().crashAndRestart();
    expect((await api(backend(), "GET", "/v1/instances/l1/history")).body).toEqual(expect.objectContaining({ data: l1.body.data }));
  });

  it("keeps checkpoints when their source goes; a delete lock keeps a checkpoint until unset", async () => {
    await api(backend(), "DELETE", "/v1/instances/src");
    // Its frozen volume layers stay with the checkpoint: it still loads.
    const later = await createInstance({ checkpoint: { name: "cp1" }, name: "l-later", image: undefined });
    expect(later.volumes).toEqual([expect.objectContaining({ at: "/data", inline: true })]);
    await api(backend(), "DELETE", "/v1/instances/l-later");
    await api(backend(), "PATCH", "/v1/instances/checkpoints/cp1", [{ prop: "delete_lock", op: "set", value: true }]);
    expectError(await raw(backend(), "DELETE", "/v1/instances/checkpoints/cp1"), 409, "DELETE_LOCKED", "Checkpoint 'cp1' has a delete lock; unset it with PATCH delete_lock first");
    const res = await raw(backend(), "PATCH", "/v1/instances/checkpoints", { body: [{ name: "cp1", prop: "delete_lock", op: "set", value: false, id: "u" }, { name: "cp1", prop: "size_mb", op: "set", value: 1 }] });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("partial_success");
    expect(res.body.data.instances[0]).toMatchObject({ status: "success", name: "cp1", id: "u", delete_lock: false });
    expect(res.body.data.instances[1]).toMatchObject({ status: "error", name: "cp1", error: 400 });
  });

  it("deletes an idle checkpoint once its autokill period passed since its last load", async () => {
    await createCheckpoint({ from: { name: "l1" }, name: "short", autokill: { time_ms: 300 } });
    await until("short autokilled", async () => (await raw(backend(), "GET", "/v1/instances/checkpoints/short")).status === 404);
  });

  it("deleting every instance and checkpoint leaves no disk behind", async () => {
    const res = await raw(backend(), "DELETE", "/v1/instances/checkpoints", { body: [{ name: "cp1" }, { name: "cp2" }] });
    expect(res.body.data.instances.map((c: Instance) => [c.name, c.state])).toEqual([["cp1", "deleted"], ["cp2", "deleted"]]);
    await api(backend(), "DELETE", "/v1/instances/l1");
    const seen = await observe(backend());
    expect([seen.instances, seen.instanceTemplates, seen.volumes, seen.volumeTemplates]).toEqual([[], [], [], []]);
    // The frozen layers the checkpoints held went with the last of them.
    expect(seen.files.disks).toEqual([]);
  });
});

describe("instance templates: update and bulk delete", () => {
  it("PATCHes tags, delete lock and autokill, per template and in bulk; deletes in bulk", async () => {
    await createInstance({ name: "tpl-a" });
    const conv = await raw(backend(), "POST", "/v1/instances/templates", { body: [{ name: "tpl-a", autokill: { time_ms: 60_000 } }] });
    expect(conv.status).toBe(201);
    expect(conv.body.data.instances[0]).toMatchObject({ status: "success", state: "template", template_autokill: { time_ms: 60_000 } });
    const patched = instanceOf(await api(backend(), "PATCH", "/v1/instances/templates/tpl-a", [{ prop: "tags", op: "set", value: ["g"] }, { prop: "delete_lock", op: "set", value: true }]));
    expect(patched).toMatchObject({ tags: ["g"], delete_lock: true });
    expectError(await raw(backend(), "PATCH", "/v1/instances/templates/tpl-a", { body: [{ prop: "memory_mb", op: "set", value: 1 }] }), 400, "VALIDATION_FAILED");
    const bulk = await raw(backend(), "PATCH", "/v1/instances/templates", { body: [{ name: "tpl-a", prop: "delete_lock", op: "set", value: false }] });
    expect(bulk.body.status).toBe("success");
    const del = await raw(backend(), "DELETE", "/v1/instances/templates", { body: [{ name: "tpl-a" }, { name: "nope" }] });
    expect(del.status).toBe(200);
    expect(del.body.data.instances.map((t: { status: string; name?: string }) => [t.status, t.name])).toEqual([["success", "tpl-a"], ["error", "nope"]]);
  });
});

describe("bulk instance actions answer item by item", () => {
  beforeAll(async () => {
    await createInstance({ name: "b1" });
    await createInstance({ name: "b2" });
  });

  it("PATCH /v1/instances applies one operation per item and echoes its id", async () => {
    const res = await raw(backend(), "PATCH", "/v1/instances", { body: [{ name: "b1", prop: "tags", op: "add", value: "x", id: "1" }, { uuid: "nope", prop: "tags", op: "add", value: "x" }] });
    expect(res.body.status).toBe("partial_success");
    expect(res.body.data.instances[0]).toMatchObject({ status: "success", name: "b1", tags: ["x"], id: "1" });
    expect(res.body.data.instances[1]).toMatchObject({ status: "error", uuid: "nope", error: 400 });
  });

  it("PUT /v1/instances/stop and /suspend answer each item with its state, previous state or refusal", async () => {
    const stop = await raw(backend(), "PUT", "/v1/instances/stop", { body: [{ name: "b1", ifstate: "stopped" }, { name: "b2", ifstate: "running" }, { name: "b2", dump: true }] });
    expect(stop.body.data.instances).toEqual([
      expect.objectContaining({ status: "success", name: "b1", state: "stopped", previous_state: "stopped" }),
      { status: "error", name: "b2", message: "Instance 'b2' is in state 'stopped', not 'running' (ifstate): not stopped", error: 409 },
      { status: "error", name: "b2", message: expect.stringContaining("'dump' is not supported"), error: 400 },
    ]);
    const suspend = await raw(backend(), "PUT", "/v1/instances/suspend", { body: [{ name: "b1" }] });
    expectError(suspend, 409, "INVALID_STATE", "Cannot suspend instance 'b1' in state 'stopped'");
  });

  it("refuses a bulk body that is not a list of objects, and bulk reads without ids", async () => {
    expectError(await raw(backend(), "PUT", "/v1/instances/start", { body: ["b1"] }), 400, "VALIDATION_FAILED");
    expectError(await raw(backend(), "GET", "/v1/instances/wait"), 400, "VALIDATION_FAILED", "Name the instances with 'uuid' or 'name' query parameters");
    expectError(await raw(backend(), "PUT", "/v1/instances/checkpoints"), 405, "METHOD_NOT_ALLOWED");
    expectError(await raw(backend(), "POST", "/v1/instances", { body: { name: "history", image: "base", autostart: false } }), 400, "VALIDATION_FAILED");
  });

  it("GET /v1/instances/log reads several consoles; GET /v1/instances/metrics reports zeros without a VM", async () => {
    const logs = await raw(backend(), "GET", "/v1/instances/log?name=b1&name=b2&offset=-10");
    expect(logs.body.data.instances.map((l: { name: string; range: object }) => [l.name, l.range])).toEqual([["b1", { start: 0, end: 0 }], ["b2", { start: 0, end: 0 }]]);
    const m = await api(backend(), "GET", "/v1/instances/metrics?name=b1");
    expect(m.body.data.instances[0]).toMatchObject({ name: "b1", state: "stopped", rss_bytes: 0, cpu_time_ms: 0, rx_bytes: 0, tx_bytes: 0, volumes: [] });
  });

  it("DELETE /v1/instances deletes each item, keeping a locked one", async () => {
    await api(backend(), "PATCH", "/v1/instances/b2", [{ prop: "delete_lock", op: "set", value: true }]);
    const res = await raw(backend(), "DELETE", "/v1/instances", { body: [{ name: "b1" }, { name: "b2" }] });
    expect(res.body.data.instances.map((i: { status: string; name: string; previous_state?: string }) => [i.status, i.name, i.previous_state ?? null])).toEqual([["success", "b1", "stopped"], ["error", "b2", null]]);
    await api(backend(), "PATCH", "/v1/instances/b2", [{ prop: "delete_lock", op: "set", value: false }]);
    await api(backend(), "DELETE", "/v1/instances/b2");
  });
});

describe("bulk and by-id volume actions", () => {
  it("attaches, detaches, PATCHes, clones by id and deletes item by item", async () => {
    await createInstance({ name: "vhost" });
    for (const name of ["va", "vb"]) await api(backend(), "POST", "/v1/volumes", { name, size_mb: 8 });
    const att = await raw(backend(), "PUT", "/v1/volumes/attach", { body: [{ name: "va", attach_to: { name: "vhost" }, at: "/a" }, { name: "vb", attach_to: { name: "vhost" }, at: "/a" }] });
    expect(att.body.status).toBe("partial_success");
    expect(att.body.data.volumes.map((v: { status: string }) => v.status)).toEqual(["success", "error"]);
    const det = await raw(backend(), "PUT", "/v1/volumes/detach", { body: [{ name: "va", from: { name: "vhost" } }] });
    expect(det.body.data.volumes[0]).toMatchObject({ status: "success", name: "va", attached_to: [] });
    const patch = await raw(backend(), "PATCH", "/v1/volumes", { body: [{ name: "va", prop: "size_mb", op: "set", value: 16, id: "g" }] });
    expect(patch.body.data.volumes[0]).toMatchObject({ status: "success", size_mb: 16, id: "g" });
    const clone = await raw(backend(), "POST", "/v1/volumes/va/clone", { body: { vol_name: "va-copy", tags: ["c"] } });
    expect(clone.status).toBe(201);
    expect(clone.body.data.volumes).toEqual([{ status: "success", uuid: expect.any(String), name: "va-copy", state: "pending" }]);
    await until("va-copy available", async () => volumeOf(await api(backend(), "GET", "/v1/volumes/va-copy")).state === "available");
    expectError(await raw(backend(), "POST", "/v1/volumes/nope/clone", { body: {} }), 404, "VOLUME_NOT_FOUND");
    const del = await raw(backend(), "DELETE", "/v1/volumes", { body: [{ name: "va-copy" }, { name: "va" }, { name: "vb" }] });
    expect(del.body.data.volumes.map((v: { status: string }) => v.status)).toEqual(["success", "success", "success"]);
    await api(backend(), "DELETE", "/v1/instances/vhost");
  });
});
