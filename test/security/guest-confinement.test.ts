// A guest gets nothing of its host, through a real `vmbranch serve` and real guests. Inside, a
// guest probes vmbranch's own API and a second loopback listener the test starts (both through
// 10.0.2.2, QEMU's name for the host's loopback) and the host's network address: an isolated guest
// (the default) and one allowed outbound connections both get no answer and the listeners see no
// connection, while the host still reaches each guest through its published port. Every QEMU
// process, a branch's snapshot loader included, runs as a uid of its own in group vmbranch-qemu,
// chrooted into its jail, with the seccomp filter on, no capabilities, and cgroup limits — read
// from /proc/<pid>/status, its command line, root link and cgroup files.
import { readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import type { Instance } from "../../sdk";
import { startBackend, type TestBackend } from "../helpers/backend";
import { consoleWhen, probeResults, prober, type Probe } from "./support/guests";

jest.setTimeout(240_000);
const BOOT_MS = 180_000;
const VM_UID_BASE = 2_100_000_000;
const VM_UID_END = VM_UID_BASE + 65_536;

let b: TestBackend;
const listeners: { server: Server; connections: number }[] = [];

/** A TCP listener that answers "LISTENER" and counts who connected. */
async function listener(host: string): Promise<{ port: number; connections: () => number }> {
  const entry = { server: createServer((s) => {
    entry.connections++;
    s.end("HTTP/1.0 200 OK\r\n\r\nLISTENER\n");
  }), connections: 0 };
  listeners.push(entry);
  await new Promise<void>((r) => entry.server.listen(0, host, () => r()));
  return { port: (entry.server.address() as AddressInfo).port, connections: () => entry.connections };
}

function hostAddress(): string {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  throw new Error("this host has no non-loopback IPv4 address to probe");
}

/** /proc/<pid>/status fields. */
function status(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
}

function vmGid(): number {
  const line = readFileSync("/etc/group", "utf8").split("\n").find((l) => l.startsWith("vmbranch-qemu:"));
  if (!line) throw new Error("group vmbranch-qemu does not exist");
  return Number(line.split(":")[2]);
}

/** The QEMU process of instance `uuid` (by its -name), or undefined. */
function pidOf(uuid: string): number | undefined {
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (cmdline(Number(e)).includes(`vmbranch-${uuid}`)) return Number(e);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

/** Asserts everything confinement promises about QEMU process `pid` of a VM whose run dir is `runDir`; returns its uid. */
function expectConfined(pid: number, jail: string): number {
  const st = status(pid);
  const uids = st.Uid!.split(/\s+/).map(Number);
  const gids = st.Gid!.split(/\s+/).map(Number);
  expect(new Set(uids).size).toBe(1);
  expect(uids[0]).toBeGreaterThanOrEqual(VM_UID_BASE);
  expect(uids[0]).toBeLessThan(VM_UID_END);
  expect(gids).toEqual([vmGid(), vmGid(), vmGid(), vmGid()]);
  expect(st.Groups).toBe(String(vmGid()));
  expect({ CapEff: st.CapEff, CapPrm: st.CapPrm, NoNewPrivs: st.NoNewPrivs, Seccomp: st.Seccomp }).toEqual({
    CapEff: "0000000000000000", CapPrm: "0000000000000000", NoNewPrivs: "1", Seccomp: "2",
  });
  const args = cmdline(pid);
  expect(args[args.indexOf("-sandbox") + 1]).toBe("on,obsolete=deny,elevateprivileges=allow,spawn=deny,resourcecontrol=deny");
  expect(args[args.indexOf("-run-with") + 1]).toBe(`user=${uids[0]}:${vmGid()},chroot=${jail}`);
  expect(args).not.toContain("-daemonize");
  expect(readlinkSync(`/proc/${pid}/root`)).toBe(jail);
  return uids[0]!;
}

/** The cgroup directories of `pid` that vmbranch made, per controller. */
function cgroupsOf(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n")) {
    const m = /^\d+:([^:]*):(.*\/vmbranch\/vm-[^/]+)$/.exec(line);
    if (m) out[m[1] || "unified"] = join("/sys/fs/cgroup", m[1] ?? "", m[2]!);
  }
  return out;
}

let loopback: { port: number; connections: () => number };
let wide: { port: number; connections: () => number };
let iso: Instance;
let out: Instance;
let probes: Probe[];

beforeAll(async () => {
  b = await startBackend();
  loopback = await listener("127.0.0.1");
  wide = await listener("0.0.0.0");
  probes = [
    { name: "self", host: "127.0.0.1", port: 8080 },
    { name: "serve", host: "10.0.2.2", port: Number(new URL(b.url).port) },
    { name: "loopback-listener", host: "10.0.2.2", port: loopback.port },
    { name: "host-address", host: hostAddress(), port: wide.port },
  ];
  [iso, out] = await Promise.all([
    b.client.instances.create({ name: "iso", image: "base", memory_mb: 128, args: prober(probes), ports: [{ guest_port: 8080 }], volumes: [{ size_mb: 16, at: "/data" }] }),
    b.client.instances.create({ name: "out", image: "base", memory_mb: 128, args: prober(probes), ports: [{ guest_port: 8080 }], outbound_network: true }),
  ]);
}, BOOT_MS);

afterAll(async () => {
  await b?.stop();
  for (const l of listeners) await new Promise((r) => l.server.close(r));
});

describe("network", () => {
  it("defaults to isolated; outbound access is a per-instance choice the API reports", () => {
    expect([iso.outbound_network, out.outbound_network]).toEqual([false, true]);
  });

  it.each([["iso"], ["out"]])("guest %s reaches nothing on the host, while its published port works", async (name) => {
    const text = await consoleWhen(b.client, name, /^probes done$/m, BOOT_MS);
    // nc and the guest's network work: the guest's own server answers it.
    expect(probeResults(text)).toEqual({ self: expect.stringMatching(/^answered: /), serve: "silent", "loopback-listener": "silent", "host-address": "silent" });
    expect([loopback.connections(), wide.connections()]).toEqual([0, 0]);
    const inst = name === "iso" ? iso : out;
    const res = await fetch(`http://127.0.0.1:${inst.ports[0]!.host_port}/`);
    expect(await res.text()).toBe("published-ok\n");
  });

  it("tells QEMU so: an isolated guest's network is restricted, an outbound one's is not", () => {
    const netdev = (uuid: string) => { const a = cmdline(pidOf(uuid)!); return a[a.indexOf("-netdev") + 1]!; };
    expect(netdev(iso.uuid)).toMatch(/^user,id=net0,restrict=on,hostfwd=/);
    expect(netdev(out.uuid)).not.toContain("restrict=on");
  });
});

describe("room on the host", () => {
  it("refuses a branch whose memory snapshot the RAM directory cannot hold with 507 naming it, and the source runs on", async () => {
    // The VMs outlive the restart; the new serve keeps (almost) everything in reserve.
    await b.restart(["--host-reserve-mb", String(1024 * 1024)]);
    const res = await fetch(`${b.url}/v1/instances`, {
      method: "POST",
      headers: { authorization: `Bearer ${b.token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "no-room", branch_from: { name: "out" } }),
    });
    const body = (await res.json()) as { errors: { code: string; message: string }[] };
    expect([res.status, body.errors[0]!.code]).toEqual([507, "INSUFFICIENT_STORAGE"]);
    expect(body.errors[0]!.message).toMatch(/^Not enough space in the RAM directory \/dev\/shm\/vmbranch-\w+ to snapshot the memory of instance 'out': needs 128 MiB, \d+ MiB free and 1048576 MiB kept in reserve$/);
    await b.restart([]);
    expect((await b.client.instances.list()).map((i) => [i.name, i.state])).toEqual([["iso", "running"], ["out", "running"]]);
  });
});

describe("QEMU processes", () => {
  it("run as distinct VM uids in group vmbranch-qemu, jailed, sandboxed, without capabilities, within cgroup limits", () => {
    const uids = [iso, out].map((i) => expectConfined(pidOf(i.uuid)!, join(b.dataDir, "run", i.uuid, "jail")));
    expect(uids[0]).not.toBe(uids[1]);
    // Where the host has no usable cgroups, serve says so in its log instead.
    const unavailable = /UNAVAILABLE: per-VM memory and task limits/.test(b.serveLog());
    for (const i of [iso, out]) {
      const groups = cgroupsOf(pidOf(i.uuid)!);
      expect(Object.values(groups).length > 0).toBe(!unavailable);
      if (groups.memory) expect(readFileSync(join(groups.memory, "memory.limit_in_bytes"), "utf8").trim()).toBe(String((128 + 256) * 1024 * 1024));
      if (groups.pids) expect(readFileSync(join(groups.pids, "pids.max"), "utf8").trim()).toBe("256");
      if (groups.unified) expect(readFileSync(join(groups.unified, "memory.max"), "utf8").trim()).toBe(String((128 + 256) * 1024 * 1024));
    }
  });

  it("lends a VM its own writable disk in a jail it cannot change, and nothing else", async () => {
    const jail = join(b.dataDir, "run", iso.uuid, "jail");
    const st = statSync(jail);
    expect([st.uid, st.mode & 0o777]).toEqual([0, 0o711]);
    const node = statSync(join(jail, "dev", "userfaultfd"));
    expect([node.isCharacterDevice(), node.uid, node.gid, node.mode & 0o777]).toEqual([true, 0, vmGid(), 0o660]);
    const uid = Number(status(pidOf(iso.uuid)!).Uid!.split(/\s+/)[0]);
    const disks = join(b.dataDir, "disks");
    const lent = readdirSync(join(jail, disks));
    expect(lent).toHaveLength(1);
    expect(statSync(join(disks, lent[0]!)).uid).toBe(uid);
    expect(statSync(join(jail, disks)).uid).toBe(0);
    // Everything else in the data dir stays the service's, out of the jail (proc: an empty mount point).
    expect(readdirSync(jail).sort()).toEqual(["dev", "proc", disks.split("/")[1]!].sort());
  });

  it("runs a branch's snapshot loader as its source, in a jail inside the source's, and the branch as a uid of its own", async () => {
    const srcPid = pidOf(iso.uuid)!;
    const srcUid = Number(status(srcPid).Uid!.split(/\s+/)[0]);
    const srcJail = join(b.dataDir, "run", iso.uuid, "jail");
    // Watch /proc for this serve's loader (its run dir is beside the VMs') while the branch is made
    // (it lives about half a second); other test files' serves may be branching meanwhile.
    const loaderDir = join(b.dataDir, "run", ".loader-");
    let loader: { uid: number; root: string; seccomp: string } | null = null;
    let watching = true;
    const watch = (async () => {
      while (watching && !loader) {
        for (const e of readdirSync("/proc")) {
          if (!/^\d+$/.test(e)) continue;
          try {
            const a = cmdline(Number(e));
            if (!a.includes("-incoming") || !a.some((x) => x.includes(loaderDir))) continue;
            const s = status(Number(e));
            const uid = Number(s.Uid!.split(/\s+/)[0]);
            // Caught while still initialising (as root, before its drop): look again.
            if (uid !== 0) loader = { uid, root: readlinkSync(`/proc/${e}/root`), seccomp: s.Seccomp! };
          } catch {
            /* gone */
          }
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const branch = await b.client.instances.create({ name: "iso-branch", branch_from: { name: "iso" } });
    await b.client.instances.waitFor("iso-branch", "running", { timeoutMs: BOOT_MS });
    watching = false;
    await watch;
    expect(loader).not.toBeNull();
    expect(loader!.uid).toBe(srcUid);
    expect(loader!.root.startsWith(`${srcJail}/loader-`)).toBe(true);
    expect(loader!.seccomp).toBe("2");
    const branchUid = expectConfined(pidOf(branch.uuid)!, join(b.dataDir, "run", branch.uuid, "jail"));
    expect(branchUid).not.toBe(srcUid);
    // The branch answers on its own published port, from the source's memory.
    const got = await b.client.instances.get("iso-branch");
    expect(await (await fetch(`http://127.0.0.1:${got.ports[0]!.host_port}/`)).text()).toBe("published-ok\n");
  });

  it("gives disks back to the service and removes the cgroups when a VM ends", async () => {
    const groups = Object.values(cgroupsOf(pidOf(iso.uuid)!));
    // Its first disk and the overlay the branch's snapshot switched it to.
    const lent = JSON.parse(readFileSync(join(b.dataDir, "run", iso.uuid, "jail.lent"), "utf8")) as string[];
    expect(lent).toHaveLength(2);
    await b.client.instances.stop("iso", { force: true });
    const exists = (p: string) => { try { statSync(p); return true; } catch { return false; } };
    expect(groups.filter(exists)).toEqual([]);
    for (const f of lent) expect({ f, uid: statSync(f).uid }).toEqual({ f, uid: 0 });
    expect(exists(join(b.dataDir, "run", iso.uuid, "jail.lent"))).toBe(false);
    expect(readdirSync(join(b.dataDir, "run", iso.uuid, "jail")).sort()).toEqual(["dev", "proc"]);
    for (const name of ["iso-branch", "iso", "out"]) await b.client.instances.delete(name);
  });
});
