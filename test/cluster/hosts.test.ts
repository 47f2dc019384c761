// Many hosts (issue 15; docs/cluster.md): one control plane on a real PostgreSQL drives three
// agents over HTTPS, each running a host of its own (a mount, pid and network namespace with its
// own directory at the data dir's path, its own /dev/shm and a link on the cluster's bridge;
// test/helpers/cluster.ts). Instances spread over the hosts and each VM runs in its host; a
// branch runs beside its source, or on another host asked for, its snapshot and the disk layers
// that host lacks sent there (sending.test.ts has the rest of what is sent); a crashed host goes offline
// within the threshold while the others run on, and when it boots again its instances are
// reported as they are; an agent killed alone leaves its VMs running and they are reattached; a
// partitioned host's VMs keep running there and nothing starts them elsewhere; a control plane
// killed and started again finds every host's VMs. Every scenario ends with the doctor finding
// nothing wrong on any host.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { Instance } from "../../sdk";
import { api, expectError, instanceOf } from "../backend/support";
import type { TestBackend } from "../helpers/backend";
import { startCluster, type TestCluster } from "../helpers/cluster";
import { counterProgram, waitTicks } from "../helpers/guest-programs";
import { doctorReport, waitWriting } from "../helpers/serve-checks";

jest.setTimeout(300_000);

const NAMES = ["box-1", "box-2", "box-3"];
/** Heartbeats stop counting after this long (the 60 s default would make the test wait). */
const OFFLINE_AFTER_S = 8;

let cluster: TestCluster;
let b: TestBackend;

beforeAll(async () => {
  cluster = await startCluster(NAMES, { env: { VMBRANCH_HOST_OFFLINE_AFTER_S: String(OFFLINE_AFTER_S) } });
  b = cluster.b;
}, 180_000);
afterAll(() => cluster?.stop(), 120_000);

async function doctorClean(): Promise<void> {
  expect((await doctorReport(b)).findings).toEqual([]);
}

async function hostState(name: string): Promise<string> {
  return (await b.client.hosts.get(name)).state;
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const instance = async (name: string): Promise<Instance> => instanceOf(await api(b, "GET", `/v1/instances/${name}`));

/** The instance of the spread that runs on `host`. */
const workerOn = async (host: string): Promise<string> => (await b.client.instances.list()).find((i) => i.name.startsWith("w") && i.host === host)!.name;

test("the agents' hosts join the control plane under their own names and heartbeat", async () => {
  const hosts = await b.client.hosts.list();
  expect(hosts.map((h) => [h.name, h.state])).toEqual(NAMES.map((n) => [n, "online"]));
  for (const h of hosts) expect(h.memory_free_mib).toBeGreaterThan(0);
});

test("instances spread over the hosts, each VM runs in its host, and inline volumes live beside their instance", async () => {
  for (const name of ["w1", "w2", "w3"]) {
    await b.client.instances.create({ name, image: "base", memory_mb: 128, args: counterProgram(), volumes: [{ size_mb: 16, at: "/data" }] });
    await b.client.instances.waitFor(name, "running", { timeoutMs: 120_000 });
  }
  const placed = await Promise.all(["w1", "w2", "w3"].map(instance));
  expect(placed.map((i) => i.host).sort()).toEqual(NAMES);
  for (const i of placed) {
    expect(cluster.host(i.host!).vmPids()).toHaveLength(1);
    expect((await b.client.volumes.get(i.volumes[0]!.uuid)).host).toBe(i.host);
    await waitWriting(b, i.name);
  }
  expect((await b.client.hosts.list()).map((h) => h.instances)).toEqual([1, 1, 1]);
  await doctorClean();
});

/** The disk and memory files each host holds, by host. */
const filesByHost = () => cluster.hosts.map((h) => [h.name, readdirSync(join(h.dir, "disks")).sort(), readdirSync(h.inside(b.ramDir()!)).sort()]);

test("a branch runs beside its source, continuing its counter with a new identity, and nothing is sent to another host", async () => {
  const src = await workerOn("box-2");
  const elsewhere = filesByHost().filter(([name]) => name !== "box-2");
  const before = await waitTicks(b.client, src, (t) => t.length >= 2);
  await b.client.instances.create({ name: "br", branch_from: { name: src } });
  await b.client.instances.waitFor("br", "running", { timeoutMs: 120_000 });
  expect((await instance("br")).host).toBe("box-2");
  const ticks = await waitTicks(b.client, "br", (t) => t.some((k) => k.fork === 1));
  expect(ticks[0]!.tick).toBeGreaterThanOrEqual(before.at(-1)!.tick);
  expect(cluster.host("box-2").vmPids()).toHaveLength(2);
  expect(cluster.host("box-1").vmPids()).toHaveLength(1);
  expect(cluster.host("box-3").vmPids()).toHaveLength(1);
  // Zero bytes moved: the other hosts hold the files they held.
  expect(filesByHost().filter(([name]) => name !== "box-2")).toEqual(elsewhere);
  await waitWriting(b, src);
  await b.client.instances.delete("br");
  await doctorClean();
});

test("a running source branched to another host: its snapshot is sent there, the branch continues the counter with a new identity, the source runs on", async () => {
  const src = await workerOn("box-2");
  const h3 = cluster.host("box-3");
  const before = await waitTicks(b.client, src, (t) => t.length >= 2);
  for (const name of ["far", "far-again"]) {
    await b.client.instances.create({ name, branch_from: { name: src }, host: "box-3" });
    await b.client.instances.waitFor(name, "running", { timeoutMs: 180_000 });
    const far = await instance(name);
    expect(far.host).toBe("box-3");
    expect((await b.client.volumes.get(far.volumes[0]!.uuid)).host).toBe("box-3");
    // The guest's memory came along (its counter goes on from the source's) and it knows it was forked.
    const ticks = await waitTicks(b.client, name, (t) => t.some((k) => k.fork === 1));
    expect(ticks[0]!.tick).toBeGreaterThanOrEqual(before.at(-1)!.tick);
    await waitWriting(b, name);
  }
  expect(h3.vmPids()).toHaveLength(3);
  expect(cluster.host("box-2").vmPids()).toHaveLength(1);
  await waitWriting(b, src);
  await doctorClean();
  for (const name of ["far", "far-again"]) await b.client.instances.delete(name);
  expect(h3.vmPids()).toHaveLength(1);
  await doctorClean();
});

test("a crashed host goes offline within the threshold while the others run on; booted again, its instances are as they are", async () => {
  const h3 = cluster.host("box-3");
  const lost = await workerOn("box-3");
  await h3.crash();
  // Marked by the first heartbeat after the threshold.
  await until("box-3 to go offline", async () => (await hostState("box-3")) === "offline", (OFFLINE_AFTER_S + 30) * 1000);
  // Its instance says so beside its state as last recorded; acting on it is refused and changes nothing.
  expect(await instance(lost)).toMatchObject({ host: "box-3", host_state: "offline" });
  expectError(
    await api(b, "PUT", `/v1/instances/${lost}/stop`, {}),
    409, "HOST_OFFLINE", `Instance '${lost}' is on host 'box-3', which is offline: nothing can act on it until the host heartbeats again`,
  );
  // The others are unaffected, and new work goes to them.
  expect(await hostState("box-1")).toBe("online");
  expect(await hostState("box-2")).toBe("online");
  for (const h of ["box-1", "box-2"]) await waitWriting(b, await workerOn(h));
  const extra = instanceOf(await api(b, "POST", "/v1/instances", { name: "extra", image: "base", memory_mb: 128, autostart: false }));
  expect(["box-1", "box-2"]).toContain(extra.host);
  await b.client.instances.delete("extra");

  await h3.boot();
  await until("box-3 to heartbeat again", async () => (await hostState("box-3")) === "online");
  // Its VM ended with the host: reported stopped, never running twice.
  await until(`${lost} to be reported stopped`, async () => (await instance(lost)).state === "stopped");
  expect(h3.vmPids()).toEqual([]);
  // Its disk was on the host's own directory: it starts again there and writes on.
  await b.client.instances.start(lost);
  await b.client.instances.waitFor(lost, "running", { timeoutMs: 120_000 });
  expect((await instance(lost)).host).toBe("box-3");
  expect(h3.vmPids()).toHaveLength(1);
  await waitWriting(b, lost);
  await doctorClean();
});

test("an agent killed alone leaves its VMs running; started again, they are reattached and work on", async () => {
  const h1 = cluster.host("box-1");
  const name = await workerOn("box-1");
  const pids = h1.vmPids();
  await h1.killAgent();
  expect(h1.vmPids()).toEqual(pids);
  await h1.startAgent();
  // Killed for longer than OFFLINE_AFTER_S (a loaded machine), the host went offline; actions on
  // it answer HOST_OFFLINE until the new agent's first heartbeat.
  await until("box-1 to heartbeat again", async () => (await hostState("box-1")) === "online");
  await waitWriting(b, name);
  // The reattached VM takes a live snapshot through the new agent: a branch of it runs there.
  await b.client.instances.create({ name: "br1", branch_from: { name } });
  await b.client.instances.waitFor("br1", "running", { timeoutMs: 120_000 });
  expect((await instance("br1")).host).toBe("box-1");
  expect(h1.vmPids()).toEqual(expect.arrayContaining(pids));
  await b.client.instances.delete("br1");
  await doctorClean();
});

test("a partitioned host goes offline while its VMs run on there and nowhere else; healed, it is online with the same VMs", async () => {
  const h2 = cluster.host("box-2");
  const name = await workerOn("box-2");
  const pids = h2.vmPids();
  const all = b.vmPids().sort();
  h2.partition();
  try {
    await until("box-2 to go offline", async () => (await hostState("box-2")) === "offline", (OFFLINE_AFTER_S + 40) * 1000);
    expect(await instance(name)).toMatchObject({ state: "running", host_state: "offline" });
    expect(h2.vmPids()).toEqual(pids);
    // Nothing was started anywhere to stand in for it.
    expect(b.vmPids().sort()).toEqual(all);
  } finally {
    h2.heal();
  }
  await until("box-2 to heartbeat again", async () => (await hostState("box-2")) === "online");
  expect(await instance(name)).toMatchObject({ state: "running", host_state: "online" });
  expect(h2.vmPids()).toEqual(pids);
  await waitWriting(b, name);
  await doctorClean();
});

test("a control plane killed and started again finds every host's VMs through their agents", async () => {
  const all = b.vmPids().sort();
  await b.relaunch({});
  for (const name of ["w1", "w2", "w3"]) {
    expect((await instance(name)).state).toBe("running");
    await waitWriting(b, name);
  }
  expect(b.vmPids().sort()).toEqual(all);
  await doctorClean();
  for (const i of await b.client.instances.list()) await b.client.instances.delete(i.name);
  for (const h of cluster.hosts) expect(h.vmPids()).toEqual([]);
  // Every disk file went, the layers sent to other hosts with their own.
  for (const h of cluster.hosts) expect(readdirSync(join(h.dir, "disks"))).toEqual([]);
  await doctorClean();
});
