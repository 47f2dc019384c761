// Branching running and resting instances through the real API with real guests (issue 4):
// state continues in the branch, later writes diverge, identity is renewed, concurrent requests
// follow the reference's pending-snapshot rule, branches of one shared snapshot never see each
// other's writes, and nothing is left behind.
// Each test runs alone (`-t`): the running source and its first branch are a fixture the tests of
// their block only read (branching the source again leaves it running as it was); a test that
// suspends, stops or deletes a source boots its own.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import type { Instance, VmbranchClient } from "../../sdk";
import { startBackend, type TestBackend } from "../helpers/backend";
import { storeSql } from "../helpers/store-sql";
import { raw, withRawCopy } from "../backend/support";
import { counterProgram, parseTicks, waitForConsole, type Tick } from "../helpers/guest-programs";

jest.setTimeout(240_000);

let backend: TestBackend;
let client: VmbranchClient;

beforeAll(async () => {
  backend = await startBackend();
  client = backend.client;
});
afterAll(async () => {
  await backend?.stop();
});

async function ticks(name: string): Promise<Tick[]> {
  const log = await client.instances.log(name, { limit: 4 * 1024 * 1024 });
  return parseTicks(log.output);
}

async function waitTicks(name: string, pred: (t: Tick[]) => boolean, timeoutMs = 60_000): Promise<Tick[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = await ticks(name);
    if (pred(t)) return t;
    if (Date.now() > deadline) throw new Error(`${name}: condition not met; last ticks ${JSON.stringify(t.slice(-3))}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function running(name: string): Promise<Instance> {
  return client.instances.waitFor(name, "running", { timeoutMs: 120_000 });
}

/** Boot a counter with a 16 MiB volume at /data and wait until it has written `lines` lines. */
async function bootCounter(name: string, lines: number): Promise<Tick[]> {
  await client.instances.create({ name, image: "base", args: counterProgram(), volumes: [{ size_mb: 16, at: "/data" }] });
  await running(name);
  return waitTicks(name, (t) => t.length >= lines);
}

/** Delete the instances of `names` that exist, in that order (a fixture's teardown, also after a failed test). */
async function deleteAll(...names: string[]): Promise<void> {
  const present = new Set((await client.instances.list()).map((i) => i.name));
  for (const n of names) if (present.has(n)) await client.instances.delete(n);
}

describe("branching a running instance", () => {
  // The source, running with three lines written, and its first branch, running: read-only for the tests below.
  let b1Created: Instance;

  beforeAll(async () => {
    await client.instances.create({
      name: "src", image: "base", memory_mb: 256, args: counterProgram(), tags: ["db", "prod", "secret-x"],
      annotations: { "team/owner": "data", "secret/key": "k" }, volumes: [{ name: "src-data", size_mb: 16, at: "/data" }],
      ports: [{ guest_port: 8080 }],
    });
    await running("src");
    await waitTicks("src", (t) => t.length >= 3);
    b1Created = await client.instances.create({ name: "b1", branch_from: { name: "src" }, tag_filters: ["*", "!secret*"], annotation_filters: ["team/*"] });
    await running("b1");
  });
  afterAll(async () => {
    await deleteAll("b1", "src");
  });

  /** The branch's first ticks once it wrote two lines of its own; the first says what the snapshot held. */
  const b1Start = () => waitTicks("b1", (t) => t.some((x) => x.f1 >= 2));

  it("starts the branch from the source's memory and disk, with its own identity and ports", async () => {
    const created = b1Created;
    expect(created.branch).toMatchObject({ source: { name: "src" }, from_memory: true });
    expect(created.branch!.source_pause_ms).toBeGreaterThan(0);
    expect(created.branch!.snapshot_at).not.toBeNull();
    expect(created.tags).toEqual(["db", "prod"]);
    expect(created.annotations).toEqual({ "team/owner": "data" });
    const b1 = await running("b1");
    expect(b1.branch!.phase).toBe("Succeeded");
    const src = await client.instances.get("src");
    expect(b1.ports[0]!.guest_port).toBe(8080);
    expect(b1.ports[0]!.host_port).not.toBe(src.ports[0]!.host_port);
    expect(b1.volumes).toHaveLength(1);
    expect(b1.volumes[0]!.uuid).not.toBe(src.volumes[0]!.uuid);
    expect(b1.volumes[0]!.inline).toBe(true);

    const ticks = await b1Start();
    const first = ticks[0]!;
    // The counter continues (RAM came along), and the file holds the source's lines up to the snapshot.
    expect(first.tick).toBeGreaterThan(3);
    // The guest learns of the fork from the VM generation ID's ACPI notification, handled just after
    // the restore: the first tick can race it and still count 0. Seen once, it is never seen twice.
    expect(first.fork).toBeLessThanOrEqual(1);
    expect(ticks.find((t) => t.fork > 0)?.fork).toBe(1);
    expect(ticks.every((t) => t.fork <= 1)).toBe(true);
    expect(first.f0).toBeGreaterThanOrEqual(3);
    expect(first.tick).toBeGreaterThanOrEqual(first.f0);
  });

  it("keeps later writes of each side invisible to the other", async () => {
    const snapshotTicks = (await b1Start())[0]!.f0;
    const bt = await waitTicks("b1", (t) => t.filter((x) => x.f1 > 0).length >= 3);
    // The branch never sees the source's lines written after the snapshot.
    expect(new Set(bt.filter((x) => x.fork === 1).map((x) => x.f0))).toEqual(new Set([snapshotTicks]));
    const st = await waitTicks("src", (t) => t.at(-1)!.f0 > snapshotTicks + 3);
    // The source never sees the branch's lines, and was never told it forked.
    expect(st.every((x) => x.f1 === 0 && x.fork === 0)).toBe(true);
    expect(st.at(-1)!.tick).toBe(st.at(-1)!.f0);
  });

  it("refuses a second branch while a snapshot is pending, with the reference's message", async () => {
    const [a, b] = await Promise.all([
      backend.http("POST", "/v1/instances", { name: "p1", branch_from: { name: "src" } }),
      backend.http("POST", "/v1/instances", { name: "p2", branch_from: { name: "src" } }),
    ]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([201, 409]);
    const refused = a.status === 409 ? a : b;
    expect(refused.body.errors[0]).toMatchObject({ status: 409, code: "BRANCH_PENDING_SNAPSHOT", message: "Cannot branch from VM with pending snapshot" });
    const made = a.status === 201 ? "p1" : "p2";
    await running(made);
    await client.instances.delete(made);
    expect((await client.instances.list()).map((i) => i.name)).not.toContain(refused === a ? "p1" : "p2");
  });

  it("says in the pending-snapshot 409 when the snapshot's copy should be done (retry-after-ms, Retry-After)", async () => {
    // Asked right after the first branch's answer, while its RAM copy runs; a copy that finished
    // first (a fast host) gives a 201 instead, so a few rounds are tried.
    const hints: { ms: number; seconds: number }[] = [];
    for (let round = 0; round < 5 && hints.length === 0; round++) {
      const first = await raw(backend, "POST", "/v1/instances", { body: { name: `h${round}a`, branch_from: { name: "src" } } });
      expect(first.status).toBe(201);
      const second = await raw(backend, "POST", "/v1/instances", { body: { name: `h${round}b`, branch_from: { name: "src" } } });
      if (second.status === 409 && second.headers.get("retry-after-ms") !== null)
        hints.push({ ms: Number(second.headers.get("retry-after-ms")), seconds: Number(second.headers.get("retry-after")) });
      for (const n of [`h${round}a`, `h${round}b`]) {
        if ((await client.instances.list()).some((i) => i.name === n)) {
          await running(n);
          await client.instances.delete(n);
        }
      }
    }
    expect(hints).toHaveLength(1);
    const [{ ms, seconds }] = hints as [{ ms: number; seconds: number }];
    expect(Number.isInteger(ms) && ms >= 10 && ms <= 2000).toBe(true);
    expect(seconds).toBe(Math.ceil(ms / 1000));
  });

  it("lets five parallel branches through the SDK all succeed (it retries the pending-snapshot 409)", async () => {
    const names = ["q1", "q2", "q3", "q4", "q5"];
    const made = await Promise.all(names.map((name) => client.instances.create({ name, branch_from: { name: "src" } })));
    expect(made.map((m) => m.name).sort()).toEqual(names);
    for (const n of names) await running(n);
    const pauses = (await Promise.all(names.map((n) => client.instances.get(n)))).map((i) => i.branch!.source_pause_ms!);
    expect(pauses.every((p) => p > 0)).toBe(true);
    for (const n of names) await client.instances.delete(n);
  });

  it("makes several branches of one snapshot in one request: one pause, one instant, each its own identity", async () => {
    const made = await client.instances.createMany({ branch_from: { name: "src" }, name: "many", count: 3 });
    expect(made.map((m) => m.name)).toEqual(["many-1", "many-2", "many-3"]);
    const snap = made[0]!.branch!.snapshot_uuid!;
    expect(made.map((m) => [m.branch!.snapshot_uuid, m.branch!.source_pause_ms])).toEqual(made.map(() => [snap, made[0]!.branch!.source_pause_ms]));
    for (const m of made) await running(m.name);
    const t = await Promise.all(made.map((m) => waitTicks(m.name, (x) => x.length >= 2 && x.some((y) => y.fork === 1))));
    // One instant: the same next tick in every branch's memory, and the same lines on its disk
    // (less the first iteration's own line when that iteration wrote it after the restore).
    expect(new Set(t.map((x) => x[0]!.tick)).size).toBe(1);
    expect(new Set(t.map((x) => x[0]!.f0 - (x[0]!.fork === 0 ? 1 : 0))).size).toBe(1);
    // Each its own identity: a new VM generation ID each, so each kernel reseeded differently.
    expect(new Set(t.map((x) => x.find((y) => y.fork === 1)!.rnd)).size).toBe(3);
    // The snapshot's RAM image goes once the last of them runs from it.
    const deadline = Date.now() + 30_000;
    while (readdirSync(backend.ramDir()!).some((f) => f.startsWith(snap))) {
      if (Date.now() > deadline) throw new Error(`the RAM image of snapshot ${snap} was kept after its branches ran`);
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const m of made) await client.instances.delete(m.name);
  });

  it("refuses volumes on a branch that starts from memory, and takes the request's own ports", async () => {
    const res = await backend.http("POST", "/v1/instances", { branch_from: { name: "src" }, volumes: [{ size_mb: 8, at: "/extra" }] });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].message).toBe("Cannot add volumes to a branch of 'src': it starts from a memory snapshot whose devices are fixed");
    const p = await client.instances.create({ name: "ports-1", branch_from: { name: "src" }, ports: [{ guest_port: 9090 }] });
    expect(p.ports.map((x) => x.guest_port)).toEqual([9090]);
    await running("ports-1");
    await client.instances.delete("ports-1");
  });

  it("refuses a source that is still booting", async () => {
    await client.instances.create({ name: "young", image: "base", args: ["sleep", "600"] });
    const res = await backend.http("POST", "/v1/instances", { branch_from: { name: "young" } });
    expect(res.status).toBe(409);
    expect(res.body.errors[0].message).toBe("Cannot branch from VM in state 'starting'");
    await client.instances.delete("young");
  });
});

describe("branching resting instances", () => {
  it("branches a standby source from its memory snapshot: branches share it and get fresh entropy", async () => {
    await bootCounter("sleeper", 3);
    const before = await ticks("sleeper");
    await client.instances.suspend("sleeper");
    expect((await client.instances.get("sleeper")).state).toBe("standby");
    const [c1, c2] = [
      await client.instances.create({ name: "c1", branch_from: { name: "sleeper" } }),
      await client.instances.create({ name: "c2", branch_from: { name: "sleeper" } }),
    ];
    expect(c1.branch).toMatchObject({ from_memory: true, source_pause_ms: 0 });
    expect(c2.branch!.snapshot_uuid).toBe(c1.branch!.snapshot_uuid);
    await running("c1");
    await running("c2");
    // The kernel logs the vmgenid change a moment after the resume, so a tick or two can precede it.
    const forked = (t: Tick[]) => t.length >= 2 && t.some((x) => x.fork === 1);
    const t1 = await waitTicks("c1", forked);
    const t2 = await waitTicks("c2", forked);
    // Same memory: the same tick comes next in both; vmgenid: the kernel reseeded, so the bytes differ.
    expect(t1[0]!.tick).toBe(t2[0]!.tick);
    expect(t1[0]!.tick).toBeGreaterThan(before.at(-1)!.tick - 1);
    expect(t1.find((x) => x.fork === 1)!.rnd).not.toBe(t2.find((x) => x.fork === 1)!.rnd);
    // The source resumes where it was suspended: its console shows one unbroken count.
    await client.instances.start("sleeper");
    expect((await client.instances.get("sleeper")).state).toBe("running");
    const resumed = await waitTicks("sleeper", (t) => t.length > before.length + 2);
    expect(resumed.map((x) => x.tick)).toEqual(resumed.map((_, i) => i + 1));
    await deleteAll("c1", "c2", "sleeper");
  });

  it("never shows a branch of a shared snapshot another branch's writes, to memory or disk", async () => {
    await bootCounter("shared", 3);
    await client.instances.suspend("shared");
    const first = await client.instances.create({ name: "s1", branch_from: { name: "shared" } });
    const image = `${backend.ramDir()!}/${first.branch!.snapshot_uuid}.ram`;
    const digest = () => createHash("sha256").update(readFileSync(image)).digest("hex");
    const frozen = digest();
    await running("s1");
    // s1 runs on: its counter (memory) and its log lines (disk) move past the snapshot's.
    const t1 = await waitTicks("s1", (t) => t.length >= 4 && t.at(-1)!.f1 >= 3);
    const s2 = await client.instances.create({ name: "s2", branch_from: { name: "shared" } });
    expect(s2.branch!.snapshot_uuid).toBe(first.branch!.snapshot_uuid);
    await running("s2");
    const t2 = await waitTicks("s2", (t) => t.length >= 2);
    // s2 starts from the snapshot, not from where s1 got to: the same next tick as s1's first, and
    // on its disk at most its own first line of a branch (s1 had written three or more).
    expect(t2[0]!.tick).toBe(t1[0]!.tick);
    expect(t2[0]!.tick).toBeLessThan(t1.at(-1)!.tick);
    expect(t2[0]!.f1).toBeLessThanOrEqual(1);
    // Both wrote their own memory through private mappings: the snapshot's image is unchanged.
    expect(digest()).toBe(frozen);
    // Nor does the source see either: resumed, it counts on from its own last tick, and its log has no branch's line.
    const before = await ticks("shared");
    await client.instances.start("shared");
    const resumed = await waitTicks("shared", (t) => t.length >= before.length + 2);
    expect(resumed.map((x) => x.tick)).toEqual(resumed.map((_, i) => i + 1));
    expect(resumed.every((x) => x.f1 === 0)).toBe(true);
    await deleteAll("s1", "s2", "shared");
  });

  it("branches a stopped source by a cold boot from its disks, with a new MAC and SMBIOS serial", async () => {
    await bootCounter("resting", 2);
    const src = await client.instances.stop("resting");
    expect(src.state).toBe("stopped");
    const lines = (await ticks("resting")).at(-1)!.f0;
    const d = await client.instances.create({ name: "d1", branch_from: { name: "resting" }, new_smbios_serial: "serial-d1" });
    expect(d.branch).toMatchObject({ from_memory: false, snapshot_uuid: null });
    expect(d.network_interfaces[0]!.mac).not.toBe(src.network_interfaces[0]!.mac);
    expect(d.smbios_serial).toBe("serial-d1");
    await running("d1");
    const t = await waitTicks("d1", (x) => x.length >= 1);
    // A fresh boot: the counter starts over, the volume has the source's lines.
    expect(t[0]!.tick).toBe(1);
    expect(t[0]!.f0).toBeGreaterThanOrEqual(lines);
    await deleteAll("d1", "resting");
  });
});

describe("cleanup", () => {
  it("deleting the source and its branch leaves no VM, disk or snapshot", async () => {
    // What other tests' instances hold stays; what this test made must all go.
    const held = () => ({
      vms: backend.vmPids(),
      disks: readdirSync(`${backend.dataDir}/disks`),
      snapshots: readdirSync(`${backend.dataDir}/snapshots`),
      ram: readdirSync(backend.ramDir()!),
    });
    const before = held();
    await bootCounter("doomed", 1);
    const branch = await client.instances.create({ name: "doomed-b", branch_from: { name: "doomed" } });
    await running("doomed-b");
    const volumes = [...(await client.instances.get("doomed")).volumes, ...branch.volumes].map((v) => v.uuid);
    const made = (h: ReturnType<typeof held>) => ({
      vms: h.vms.filter((p) => !before.vms.includes(p)),
      disks: h.disks.filter((f) => !before.disks.includes(f)),
      snapshots: h.snapshots.filter((f) => !before.snapshots.includes(f)),
      ram: h.ram.filter((f) => !before.ram.includes(f)),
    });
    // Two VMs and their disks (the source's frozen layer among them): what the deletes must remove.
    const during = made(held());
    expect(during.vms).toHaveLength(2);
    expect(during.disks.length).toBeGreaterThanOrEqual(3);

    await client.instances.delete("doomed-b");
    await client.instances.delete("doomed");
    expect((await client.instances.list()).map((i) => i.name).filter((n) => n.startsWith("doomed"))).toEqual([]);
    expect((await client.volumes.list()).map((v) => v.uuid).filter((u) => volumes.includes(u))).toEqual([]);
    for (let i = 0; i < 40 && made(held()).vms.length > 0; i++) await new Promise((r) => setTimeout(r, 250));
    expect(made(held())).toEqual({ vms: [], disks: [], snapshots: [], ram: [] });
  });
});

describe("lifetimes", () => {
  it("deleting the source never breaks a live branch: it keeps running, and boots again from its own disk", async () => {
    await client.instances.create({ name: "parent", image: "base", args: counterProgram(), volumes: [{ size_mb: 16, at: "/data" }] });
    await running("parent");
    await waitTicks("parent", (t) => t.length >= 3);
    await client.instances.create({ name: "child", branch_from: { name: "parent" } });
    await running("child");
    const before = await waitTicks("child", (t) => t.some((x) => x.fork === 1));
    const inherited = before.find((x) => x.fork === 1)!.f0;
    await client.instances.delete("parent");
    const after = await waitTicks("child", (t) => t.length >= before.length + 3);
    expect(after.at(-1)!.tick).toBeGreaterThan(before.at(-1)!.tick);
    // A cold boot reads the child's disk through the source's frozen layers, which outlived the source.
    await client.instances.stop("child");
    await client.instances.start("child");
    await running("child");
    const rebooted = await waitTicks("child", (t) => t.some((x, i) => i > 0 && x.tick === 1));
    const first = rebooted[rebooted.findIndex((x, i) => i > 0 && x.tick === 1)]!;
    // The inherited lines and the child's own are there (the vmgenid notice can trail the resume by a tick).
    expect(first.f0).toBeGreaterThanOrEqual(inherited);
    expect(first.f1).toBeGreaterThanOrEqual(after.at(-1)!.f1);
    await client.instances.delete("child");
  });
});

describe("backing chains", () => {
  it("stay bounded: a source branched again and again is flattened in the background, its data intact", async () => {
    // First boot: 1 MiB of random bytes and their digest on the volume. Later boots: the guest checks the digest.
    const program = ["sh", "-c", [
      "cd /data",
      "if [ -f blob ]; then [ \"$(sha256sum blob | cut -d' ' -f1)\" = \"$(cat blob.sum)\" ] && echo DIGEST-OK || echo DIGEST-BAD",
      "else head -c 1048576 /dev/urandom > blob && sha256sum blob | cut -d' ' -f1 > blob.sum && sync && echo BLOB-WRITTEN; fi",
      "while :; do sleep 60; done",
    ].join("\n")];
    await client.instances.create({ name: "deep", image: "base", memory_mb: 96, args: program, volumes: [{ name: "deep-data", size_mb: 16, at: "/data" }] });
    await waitForConsole(client, "deep", (log) => log.includes("BLOB-WRITTEN"), "the blob");
    await client.instances.stop("deep");
    await client.instances.waitFor("deep", "stopped", { timeoutMs: 60_000 });
    const digest = createHash("sha256").update(fileOf(await headOf("deep-data"), "/blob")).digest("hex");
    expect(fileOf(await headOf("deep-data"), "/blob.sum").toString("utf8").trim()).toBe(digest);
    // Each branch of the stopped source freezes its disk once more (offline, no boot needed): ten
    // freezes make a chain of 11 files unless it is flattened once past the bound (8).
    for (let i = 0; i < 10; i++) await client.instances.create({ name: `deep-${i}`, branch_from: { name: "deep" }, autostart: false });
    const deadline = Date.now() + 60_000;
    let depth = (await client.volumes.get("deep-data")).chain_depth!;
    while (depth > 8 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      depth = (await client.volumes.get("deep-data")).chain_depth!;
    }
    expect(depth).toBeLessThanOrEqual(8);
    // The files agree with the store: the chain qemu-img reads really is that short.
    const head = await headOf("deep-data");
    expect(chainOf(head)).toHaveLength(depth + 1);
    expect(chainOf(head).length).toBeLessThan(11);
    // Flattening changes where data lives, not what it is: the same bytes, read on the host and by the guest.
    expect(createHash("sha256").update(fileOf(head, "/blob")).digest("hex")).toBe(digest);
    await client.instances.start("deep");
    const log = await waitForConsole(client, "deep", (l) => /DIGEST-(OK|BAD)/.test(l), "the digest check");
    expect(log).toContain("DIGEST-OK");
    for (let i = 0; i < 10; i++) await client.instances.delete(`deep-${i}`);
    await client.instances.delete("deep");
  });
});

/** Path of the head disk of volume `name`, from the store (either engine). */
async function headOf(name: string): Promise<string> {
  const rows = await storeSql<{ path: string }>(backend, "SELECT d.path FROM volumes v JOIN disks d ON d.id = v.head_disk WHERE v.name = ?", [name]);
  if (rows.length !== 1) throw new Error(`volume ${name}: ${rows.length} head disks in the store`);
  return rows[0]!.path;
}

/** The files of `path`'s backing chain, top first, as qemu-img reads them. */
function chainOf(path: string): string[] {
  return (JSON.parse(execFileSync("qemu-img", ["info", "-U", "--backing-chain", "--output=json", path], { encoding: "utf8" })) as { filename: string }[]).map((i) => i.filename);
}

/** The bytes of file `name` in the ext filesystem of qcow2 `path` (debugfs on a raw copy). */
function fileOf(path: string, name: string): Buffer {
  return withRawCopy(path, (rawFile) => {
    execFileSync("debugfs", ["-R", `dump ${name} ${rawFile}.out`, rawFile], { stdio: "ignore" });
    return readFileSync(`${rawFile}.out`);
  });
}
