// Unikraft Cloud's official SDK (`InstancesApi`) drives `vmbranch serve` with real guests through
// every method of the client: create, list and read, logs, waits, PATCH, metrics, checkpoints
// (live from a running guest, from standby memory, from a stopped instance's volumes; loaded twice,
// each continuing the guest's counter on its own disk), histories kept across a restart of the
// service, templates, bulk lifecycle actions and deletes. Each call's documented effect is asserted.
import { connect } from "node:net";
import { InstancesApi, type models } from "@unikraft/cloud/api/platform";
import { counterProgram, parseTicks, type Tick } from "../helpers/guest-programs";
import { consoleOf, eventually, itemsOf, methodsOf, oneOf, refusal, startUkc, waitConsole, type Ukc } from "./support";

jest.setTimeout(180_000);

let u: Ukc;
let I: Ukc["instances"];

beforeAll(async () => {
  u = await startUkc();
  I = u.instances;
}, 60_000);
afterAll(async () => {
  await u?.backend.stop();
});

/** vmbranch's own fields on top of the SDK's instance model. */
type Inst = models.Instance & {
  ports: { guest_port: number; host_port: number }[];
  checkpoint: { has_memory: boolean; loads: number; last_loaded_at: string | null; source: { name: string } } | null;
  from_checkpoint: { name: string } | null;
  previous_state?: string;
};
type History = models.GetCheckpointHistoryResponseInstanceHistory & { transitions?: { from: string | null; to: string; reason: string; at: string }[] };

// The counter guest also serves a 200 000-byte file over HTTP on guest port 8080.
const BLOB_BYTES = 200_000;
const COUNTER = ["sh", "-c", `mkdir -p /www && head -c ${BLOB_BYTES} /dev/zero > /www/blob && echo hi > /www/index.html && httpd -p 8080 -h /www\n${counterProgram("/data", 0.5)[2]}`];

async function ticks(name: string): Promise<Tick[]> {
  return parseTicks(await consoleOf(I, name));
}

async function lastTick(name: string): Promise<number> {
  return Math.max(0, ...(await ticks(name)).map((t) => t.tick));
}

async function instance(id: string): Promise<Inst> {
  return oneOf<Inst>(await I.getInstanceByUuid(id), "instances");
}

async function checkpoint(id: string): Promise<Inst> {
  return oneOf<Inst>(await I.getCheckpointInstanceByUuid(id), "instances");
}

/** Wait until the checkpoint is ready (polling its GET, with a deadline). */
function ready(id: string): Promise<Inst> {
  return eventually(`checkpoint ${id} ready`, async () => {
    const c = await checkpoint(id);
    return c.state === "checkpoint" ? c : undefined;
  });
}

describe("instances", () => {
  let ctrHostPort = 0;

  it("createInstance boots an image and, with timeout_s, answers once it runs", async () => {
    const res = await I.createInstance({
      body: {
        name: "ctr", image: "base", args: COUNTER, tags: ["ukc", "counter"], timeout_s: 120,
        volumes: [{ name: "ctr-data", size_mb: 16, at: "/data" }], ports: [{ guest_port: 8080 }],
      } as models.CreateInstanceRequest,
    });
    const ctr = oneOf<Inst>(res, "instances");
    expect(res.status).toBe("success");
    expect(ctr).toMatchObject({ name: "ctr", state: "running", image: "base", memory_mb: 128, vcpus: 1, tags: ["ukc", "counter"] });
    expect(ctr.volumes).toEqual([expect.objectContaining({ name: "ctr-data", at: "/data", readonly: false })]);
    ctrHostPort = ctr.ports[0]!.host_port;
    await waitConsole(I, "ctr", /tick=3 /);
    const idle = oneOf<Inst>(await I.createInstance({ body: { name: "idle", image: "base", autostart: false, tags: ["ukc", "idle"] } }), "instances");
    expect(idle.state).toBe("stopped");
  });

  it("getInstanceByUuid finds an instance by name or uuid; getInstances filters, orders and pages", async () => {
    const byName = await instance("ctr");
    expect((await instance(byName.uuid)).name).toBe("ctr");
    expect((await refusal(I.getInstanceByUuid("nope"))).status).toBe(404);

    const all = itemsOf<Inst>(await I.getInstances(), "instances");
    expect(all.map((i) => i.name)).toEqual(["ctr", "idle"]);
    expect(itemsOf<Inst>(await I.getInstances({ tags: ["ukc", "idle"] }), "instances").map((i) => i.name)).toEqual(["idle"]);
    const newest = itemsOf<Inst>(await I.getInstances({ order: "desc", count: 1, details: false }), "instances");
    expect(newest).toEqual([{ status: "success", uuid: all[1]!.uuid, name: "idle" }]);
    expect(itemsOf<Inst>(await I.getInstances({ from: all[1]!.uuid }), "instances").map((i) => i.name)).toEqual(["idle"]);
    const some = await I.getInstances({ name: ["ctr", "nope"] });
    expect(some.status).toBe("partial_success");
    expect(some.data!.instances!.map((i) => [i.status ?? "success", i.name ?? null])).toEqual([["success", "ctr"], ["error", "nope"]]);
    expect(some.errors).toEqual([expect.objectContaining({ status: 404 })]);
  });

  it("getInstanceLogsByUuid and getInstanceLogs answer the console base64 with the ranges read and available", async () => {
    const whole = oneOf<models.GetInstancesLogsResponseLoggedInstance>(await I.getInstanceLogsByUuid("ctr"), "instances");
    const text = Buffer.from(whole.output, "base64").toString("utf8");
    expect(text).toContain("VMBRANCH-READY");
    expect(text).toMatch(/tick=1 /);
    expect(whole.range).toEqual({ start: 0, end: Buffer.byteLength(text) });
    expect(whole.available.end).toBeGreaterThanOrEqual(whole.range.end);
    expect(whole.state).toBe("running");
    const tail = oneOf<models.GetInstancesLogsResponseLoggedInstance>(await I.getInstanceLogs({ name: ["ctr"], offset: [-64], limit: [32] }), "instances");
    expect(tail.range.end - tail.range.start).toBe(32);
    expect(tail.range.start).toBe(tail.available.end - 64);
    expect(Buffer.from(tail.output, "base64")).toHaveLength(32);
  });

  it("waitInstanceByUuid waits for running by default; waitInstances answers each instance, or the timeout", async () => {
    expect(oneOf<Inst>(await I.waitInstanceByUuid("ctr"), "instances").state).toBe("running");
    const both = itemsOf<Inst>(await I.waitInstances({ name: ["ctr", "idle"], state: ["running", "stopped"], timeout_s: [5] }), "instances");
    expect(both.map((i) => [i.name, i.state])).toEqual([["ctr", "running"], ["idle", "stopped"]]);
    const late = await refusal(I.waitInstances({ name: ["idle"], state: ["running"], timeout_s: [0] }));
    expect(late).toMatchObject({ status: 408, code: "WAIT_TIMEOUT" });
  });

  it("updateInstanceByUuid applies one operation; updateInstances one per item, echoing each id", async () => {
    const one = oneOf<Inst>(await I.updateInstanceByUuid("ctr", { body: { prop: "tags", op: "add", value: ["blue"] } }), "instances");
    expect(one.tags).toEqual(["ukc", "counter", "blue"]);
    const res = await I.updateInstances({
      body: [
        { name: "ctr", prop: "annotations", op: "add", value: { "team/owner": "ops" }, id: "op-1" },
        { name: "idle", prop: "delete_lock", op: "set", value: true, id: "op-2" },
        { name: "nope", prop: "tags", op: "add", value: ["x"], id: "op-3" },
      ],
    });
    expect(res.status).toBe("partial_success");
    expect(res.data!.instances!.map((i) => [i.status, i.name ?? null, i.id ?? null])).toEqual([["success", "ctr", "op-1"], ["success", "idle", "op-2"], ["error", "nope", null]]);
    expect((await instance("ctr")).annotations).toEqual({ "team/owner": "ops" });
    expect((await instance("idle")).delete_lock).toBe(true);
    await I.updateInstanceByUuid("idle", { body: { prop: "delete_lock", op: "set", value: false } });
  });

  it("getInstanceMetricsByUuid measures CPU, memory, disk and network from the host; getInstanceMetrics several", async () => {
    const before = oneOf<models.GetInstancesMetricsResponseInstanceMetrics>(await I.getInstanceMetricsByUuid("ctr"), "instances");
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`http://127.0.0.1:${ctrHostPort}/blob`);
      expect((await res.arrayBuffer()).byteLength).toBe(BLOB_BYTES);
    }
    // A connection held open into the published port is counted while it lasts.
    const held = connect(ctrHostPort, "127.0.0.1");
    await new Promise((r) => held.once("connect", r));
    const m = await eventually("the held connection counted", async () => {
      const s = oneOf<models.GetInstancesMetricsResponseInstanceMetrics & { disk_write_bytes: number; volumes: { name: string; write_bytes: number }[] }>(await I.getInstanceMetricsByUuid("ctr"), "instances");
      return s.nconns >= 1 ? s : undefined;
    });
    held.destroy();
    expect(m.tx_bytes - before.tx_bytes).toBeGreaterThanOrEqual(2 * BLOB_BYTES);
    expect(m.tx_packets).toBeGreaterThan(before.tx_packets);
    expect(m.rx_bytes).toBeGreaterThan(before.rx_bytes);
    expect(m.ntotal - before.ntotal).toBeGreaterThanOrEqual(3);
    expect(m.cpu_time_ms).toBeGreaterThan(before.cpu_time_ms - 1);
    expect(m.cpu_time_ms).toBeGreaterThan(0);
    expect(m.rss_bytes).toBeGreaterThan(32 * 1024 * 1024);
    expect(m.boot_time_us).toBeGreaterThan(0);
    // The counter appends to /data/log and syncs on every tick.
    expect(m.disk_write_bytes).toBeGreaterThan(0);
    expect(m.volumes).toEqual([expect.objectContaining({ name: "ctr-data", write_bytes: m.disk_write_bytes })]);
    const both = itemsOf<models.GetInstancesMetricsResponseInstanceMetrics>(await I.getInstanceMetrics({ name: ["ctr", "idle"] }), "instances");
    expect(both.map((x) => x.name)).toEqual(["ctr", "idle"]);
    expect(both[1]).toMatchObject({ rss_bytes: 0, cpu_time_ms: 0, rx_bytes: 0, tx_bytes: 0 });
  });
});

describe("checkpoints", () => {
  let firstLoaded = 0;

  it("createCheckpointInstances captures a running guest live: `starting`, then `checkpoint`", async () => {
    const before = await lastTick("ctr");
    const res = await I.createCheckpointInstances({ body: [{ from: { name: "ctr" }, name: "cp-run", tags: ["ukc"] }] });
    const cp = oneOf<Inst>(res, "instances");
    expect(cp).toMatchObject({ status: "success", name: "cp-run", state: "starting" });
    const after = await lastTick("ctr");
    const done = await ready("cp-run");
    expect(done.checkpoint).toMatchObject({ has_memory: true, source: { name: "ctr" }, loads: 0 });
    // Loaded twice: each continues the counter from the captured instant, on its own disk.
    for (const name of ["l1", "l2"]) {
      const l = oneOf<Inst>(await I.createInstance({ body: { name, checkpoint: { name: "cp-run" } } }), "instances");
      expect(l).toMatchObject({ state: "running", from_checkpoint: { name: "cp-run" } });
    }
    const l1 = await eventually("l1 ticks on its own", async () => ((await ticks("l1")).filter((t) => t.fork === 1).length >= 3 ? ticks("l1") : undefined));
    const l2 = await eventually("l2 ticks on its own", async () => ((await ticks("l2")).filter((t) => t.fork === 1).length >= 3 ? ticks("l2") : undefined));
    firstLoaded = l1[0]!.tick;
    expect(firstLoaded).toBeGreaterThan(before);
    expect(firstLoaded).toBeLessThanOrEqual(after + 1);
    expect(l2[0]!.tick).toBe(firstLoaded);
    for (const [name, t] of [["l1", l1], ["l2", l2]] as const) {
      // No boot: the guest went on where it was.
      expect(await consoleOf(I, name)).not.toContain("VMBRANCH-READY");
      // Every tick appends one line to /data/log, so a disk of its own holds exactly as many lines
      // as the counter's value; two loads sharing one would hold more.
      for (const x of t) expect(x.f0 + x.f1).toBe(x.tick);
    }
    expect((await instance("l1")).volumes![0]!.uuid).not.toBe((await instance("l2")).volumes![0]!.uuid);
    expect((await checkpoint("cp-run")).checkpoint).toMatchObject({ loads: 2, last_loaded_at: expect.any(String) });
  });

  it("captures a standby instance with its memory, and a stopped one with its volumes only", async () => {
    const suspended = oneOf<Inst>(await I.suspendInstanceByUuid("ctr", { body: {} }), "instances");
    expect(suspended).toMatchObject({ state: "standby", previous_state: "running" });
    const last = await lastTick("ctr");
    const cp = oneOf<Inst>(await I.createCheckpointInstances({ body: [{ from: { name: "ctr" }, name: "cp-standby", timeout_s: 30 }] }), "instances");
    expect(cp).toMatchObject({ state: "checkpoint", checkpoint: { has_memory: true } });
    await I.createInstance({ body: { name: "l3", checkpoint: { name: "cp-standby" }, timeout_s: 30 } });
    expect(Number((await waitConsole(I, "l3", /tick=(\d+) /))[1])).toBe(last + 1);
    const resumed = oneOf<Inst>(await I.startInstanceByUuid("ctr", { body: { timeout_s: 30 } }), "instances");
    expect(resumed).toMatchObject({ state: "running", previous_state: "standby" });
    await waitConsole(I, "ctr", new RegExp(`tick=${last + 1} `));

    const once = "if [ -f /v/m ]; then echo found=$(cat /v/m); else head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \\n' > /v/m; sync; echo wrote=$(cat /v/m); fi; exec sleep 600";
    await I.createInstance({ body: { name: "cold", image: "base", args: ["sh", "-c", once], volumes: [{ size_mb: 16, at: "/v" }], timeout_s: 120 } });
    const wrote = (await waitConsole(I, "cold", /wrote=([0-9a-f]{8})/))[1];
    const stopped = oneOf<Inst>(await I.stopInstanceByUuid("cold", { body: { drain_timeout_ms: 5000 } }), "instances");
    expect(stopped).toMatchObject({ state: "stopped", previous_state: "running" });
    const coldCp = oneOf<Inst>(await I.createCheckpointInstances({ body: [{ from: { name: "cold" }, name: "cp-cold" }] }), "instances");
    expect(coldCp).toMatchObject({ state: "checkpoint", checkpoint: { has_memory: false } });
    await I.createInstance({ body: { name: "l-cold", checkpoint: { name: "cp-cold" } } });
    await waitConsole(I, "l-cold", new RegExp(`found=${wrote}`));
    expect(await consoleOf(I, "l-cold")).toContain("VMBRANCH-READY");
  });

  it("getCheckpointInstances lists and filters; getCheckpointInstanceByUuid reads one; a missing one is a 404", async () => {
    expect(itemsOf<Inst>(await I.getCheckpointInstances(), "instances").map((c) => c.name)).toEqual(["cp-run", "cp-standby", "cp-cold"]);
    expect(itemsOf<Inst>(await I.getCheckpointInstances({ tags: ["ukc"] }), "instances").map((c) => c.name)).toEqual(["cp-run"]);
    const byUuid = await checkpoint((await checkpoint("cp-cold")).uuid);
    expect(byUuid.name).toBe("cp-cold");
    expect(await refusal(I.getCheckpointInstanceByUuid("ctr"))).toMatchObject({ status: 404, code: "CHECKPOINT_NOT_FOUND" });
    // Checkpoints are not instances.
    expect(itemsOf<Inst>(await I.getInstances(), "instances").map((i) => i.name)).not.toContain("cp-run");
  });

  it("updateCheckpointInstanceByUuid and updateCheckpointInstances change tags, delete lock and autokill", async () => {
    const locked = oneOf<Inst>(await I.updateCheckpointInstanceByUuid("cp-run", { body: { prop: "delete_lock", op: "set", value: true } }), "instances");
    expect(locked.delete_lock).toBe(true);
    expect(await refusal(I.deleteCheckpointInstanceByUuid("cp-run"))).toMatchObject({ status: 409, code: "DELETE_LOCKED" });
    const res = await I.updateCheckpointInstances({
      body: [
        { name: "cp-run", prop: "delete_lock", op: "set", value: false, id: "a" },
        { name: "cp-standby", prop: "tags", op: "set", value: ["kept"], id: "b" },
      ],
    });
    expect(res.data!.instances!.map((c) => [c.status, c.name, c.id])).toEqual([["success", "cp-run", "a"], ["success", "cp-standby", "b"]]);
    expect((await checkpoint("cp-standby")).tags).toEqual(["kept"]);
    // Autokill: a second after its last load, an idle checkpoint is deleted.
    const set = oneOf<Inst>(await I.updateCheckpointInstanceByUuid("cp-cold", { body: { prop: "autokill", op: "set", value: { time_ms: 1000 } } }), "instances");
    expect(set.checkpoint_autokill).toEqual({ time_ms: 1000 });
    await eventually("cp-cold autokilled", async () => ((await I.getCheckpointInstances({ name: ["cp-cold"] }).catch(() => null)) === null ? true : undefined));
    // The instance loaded from it stays.
    expect((await instance("l-cold")).from_checkpoint).toMatchObject({ name: "cp-cold" });
  });

  it("histories: an instance's and a checkpoint's checkpoint lineage, and the instance's state transitions", async () => {
    await I.createCheckpointInstances({ body: [{ from: { name: "l1" }, name: "cp-l1", timeout_s: 60 }] });
    const lineage = oneOf<History>(await I.getCheckpointHistoryByUuid("cp-l1"), "instances");
    expect(lineage.history!.map((h) => h.name)).toEqual(["cp-l1", "cp-run"]);
    const l1 = oneOf<History>(await I.getInstanceHistoryByUuid("l1"), "instances");
    expect(l1.history!.map((h) => h.name)).toEqual(["cp-l1", "cp-run"]);
    expect(l1.transitions!.map((t) => [t.from, t.to])).toEqual([[null, "stopped"], ["stopped", "starting"], ["starting", "running"]]);
    expect(l1.transitions![2]!.reason).toBe("running from a memory snapshot");
    const several = itemsOf<History>(await I.getCheckpointHistory({ name: ["cp-l1", "cp-standby"] }), "instances");
    expect(several.map((h) => [h.name, h.history!.map((x) => x.name)])).toEqual([["cp-l1", ["cp-l1", "cp-run"]], ["cp-standby", ["cp-standby", "cp-run"]]]);
    const both = itemsOf<History>(await I.getInstanceHistory({ name: ["ctr", "l1"] }), "instances");
    const ctr = both[0]!;
    expect(ctr.history!.map((h) => h.name)).toEqual(["cp-standby", "cp-run"]);
    const path = ctr.transitions!.map((t) => t.to);
    expect(path).toEqual(["stopped", "starting", "running", "stopping", "standby", "starting", "running"]);
    expect(ctr.transitions!.find((t) => t.to === "standby")!.reason).toBe("suspended");
    expect(ctr.transitions![2]!.reason).toMatch(/^the guest is ready \(booted in \d+ ms\)$/);

    // Kept across a restart of the service, which the running VMs outlive.
    await u.backend.crashAndRestart();
    const again = oneOf<History>(await I.getInstanceHistoryByUuid("ctr"), "instances");
    expect(again.transitions).toEqual(ctr.transitions);
    expect((await instance("ctr")).state).toBe("running");
  });
});

describe("instance templates", () => {
  it("createTemplateInstances converts a stopped instance; getTemplateInstances and getTemplateInstanceByUuid read them", async () => {
    const stopped = await I.stopInstances({ body: [{ name: "l-cold", force: true }] });
    expect(oneOf<Inst>(stopped, "instances")).toMatchObject({ status: "success", state: "stopped", previous_state: "running" });
    const res = await I.createTemplateInstances({ body: [{ name: "l-cold", autokill: { time_ms: 600_000 } }] });
    const tpl = oneOf<Inst>(res, "instances");
    expect(tpl).toMatchObject({ name: "l-cold", state: "template", template_autokill: { time_ms: 600_000 } });
    expect(itemsOf<Inst>(await I.getTemplateInstances(), "instances").map((t) => t.name)).toEqual(["l-cold"]);
    expect(oneOf<Inst>(await I.getTemplateInstanceByUuid(tpl.uuid), "instances").name).toBe("l-cold");
    expect(itemsOf<Inst>(await I.getInstances(), "instances").map((i) => i.name)).not.toContain("l-cold");
  });

  it("updateTemplateInstanceByUuid and updateTemplateInstances change tags, delete lock and autokill; the deletes follow the lock", async () => {
    const tagged = oneOf<Inst>(await I.updateTemplateInstanceByUuid("l-cold", { body: { prop: "tags", op: "add", value: ["golden"] } }), "instances");
    expect(tagged.tags).toContain("golden");
    await I.updateTemplateInstances({ body: [{ name: "l-cold", prop: "delete_lock", op: "set", value: true }] });
    expect(await refusal(I.deleteTemplateInstanceByUuid("l-cold"))).toMatchObject({ status: 409, code: "DELETE_LOCKED" });
    const res = await I.updateTemplateInstances({ body: [{ name: "l-cold", prop: "delete_lock", op: "set", value: false }, { name: "l-cold", prop: "autokill", op: "set", value: { time_ms: 0 } }] });
    expect(res.status).toBe("success");
    expect(oneOf<Inst>(await I.getTemplateInstanceByUuid("l-cold"), "instances")).toMatchObject({ delete_lock: false, template_autokill: { time_ms: 0 } });
    const gone = await I.deleteTemplateInstances({ body: [{ name: "l-cold" }] });
    expect(oneOf<Inst>(gone, "instances")).toMatchObject({ status: "success", name: "l-cold", state: "deleted" });
    await I.createInstance({ body: { name: "t2", image: "base", autostart: false } });
    await I.createTemplateInstances({ body: [{ name: "t2" }] });
    expect(oneOf<Inst>(await I.deleteTemplateInstanceByUuid("t2"), "instances").state).toBe("deleted");
    expect(itemsOf<Inst>(await I.getTemplateInstances(), "instances")).toEqual([]);
  });
});

describe("lifecycle in bulk, branching and refusals", () => {
  it("suspendInstances, startInstances and stopInstances answer each item with its previous state", async () => {
    const suspended = await I.suspendInstances({ body: [{ name: "l2" }] });
    expect(oneOf<Inst>(suspended, "instances")).toMatchObject({ status: "success", state: "standby", previous_state: "running" });
    const started = await I.startInstances({ body: [{ name: "l2", timeout_s: 30 }, { name: "nope" }] });
    expect(started.status).toBe("partial_success");
    expect(started.data!.instances!.map((i) => [i.status, i.name, i.state ?? null, i.previous_state ?? null])).toEqual([
      ["success", "l2", "running", "standby"],
      ["error", "nope", null, null],
    ]);
    const stopped = await I.stopInstances({ body: [{ name: "l2", force: true }, { name: "l3", force: true }] });
    expect(itemsOf<Inst>(stopped, "instances").map((i) => [i.name, i.state, i.previous_state])).toEqual([["l2", "stopped", "running"], ["l3", "stopped", "running"]]);
  });

  it("createInstance branches a running instance, and refuses branch_from with image or an unknown source as the reference says", async () => {
    const br = oneOf<Inst>(await I.createInstance({ body: { name: "br", branch_from: { name: "ctr" }, timeout_s: 60 } }), "instances");
    expect(br.state).toBe("running");
    expect(await refusal(I.createInstance({ body: { branch_from: { name: "ctr" }, image: "base" } }))).toEqual({
      status: 400, code: "VALIDATION_FAILED", message: "Cannot specify 'image' when 'branch_from' is set",
    });
    expect(await refusal(I.createInstance({ body: { branch_from: { name: "nope" } } }))).toMatchObject({ status: 404, code: "INSTANCE_NOT_FOUND" });
    expect(await refusal(I.createInstance({ body: { checkpoint: { name: "nope" } } }))).toMatchObject({ status: 404, code: "CHECKPOINT_NOT_FOUND" });
    expect(await refusal(I.createInstance({ body: { checkpoint: { name: "cp-run" }, image: "base" } }))).toMatchObject({
      status: 400, message: "Cannot specify 'image' when creating an instance from a checkpoint",
    });
  });

  it("deleteInstanceByUuid and deleteInstances remove instances; their checkpoints stay until deleted themselves", async () => {
    const gone = oneOf<Inst>(await I.deleteInstanceByUuid("br", { body: {} }), "instances");
    expect(gone).toMatchObject({ status: "success", name: "br", state: "deleted", previous_state: "running" });
    const res = await I.deleteInstances({ body: [{ name: "ctr" }, { name: "l1" }, { name: "l2" }, { name: "l3" }, { name: "cold" }, { name: "l-cold" }, { name: "idle" }] });
    expect(res.status).toBe("partial_success");
    expect(res.data!.instances!.map((i) => [i.name, i.status])).toEqual([
      ["ctr", "success"], ["l1", "success"], ["l2", "success"], ["l3", "success"], ["cold", "success"], ["l-cold", "error"], ["idle", "success"],
    ]);
    expect(itemsOf<Inst>(await I.getInstances(), "instances")).toEqual([]);
    expect((await checkpoint("cp-standby")).checkpoint!.source.name).toBe("ctr");
    const cps = await I.deleteCheckpointInstances({ body: [{ name: "cp-run" }, { name: "cp-standby" }] });
    expect(itemsOf<Inst>(cps, "instances").map((c) => [c.name, c.state])).toEqual([["cp-run", "deleted"], ["cp-standby", "deleted"]]);
    expect(oneOf<Inst>(await I.deleteCheckpointInstanceByUuid("cp-l1"), "instances").state).toBe("deleted");
    expect(itemsOf<Inst>(await I.getCheckpointInstances(), "instances")).toEqual([]);
    expect(u.backend.vmPids()).toEqual([]);
  });

  it("used every method of the SDK's InstancesApi", () => {
    expect([...I.called].sort()).toEqual(methodsOf(InstancesApi));
  });
});
