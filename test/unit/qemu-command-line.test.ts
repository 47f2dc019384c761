// The pure QEMU command-line builder: every spec field lands in the right argument, deterministically.
import { buildQemuArgs, memoryBackendObject, qemuOptValue } from "../../backend/host/qemu/command-line";
import { diskBlockdev, diskDevice, hostfwdRemoveRule, hostfwdRule } from "../../backend/host/qemu/vm-devices";
import { vmPaths } from "../../backend/host/qemu/vm-paths";
import { VmSpecError, type VmSpec } from "../../backend/host/qemu/vm-spec";

const UUID = "0b6a3c1e-5d2f-4b8a-9c7e-1f2a3b4c5d6e";
const GUID = "aa0f6c3e-1111-4222-8333-444455556666";
const paths = vmPaths("/var/lib/vmbranch/instances/x/run");

function spec(over: Partial<VmSpec> = {}): VmSpec {
  return {
    uuid: UUID,
    smbiosSerial: "vmb-serial-1",
    vmgenid: GUID,
    accel: "tcg",
    machineType: "pc-i440fx-10.0",
    vcpus: 1,
    memoryMb: 256,
    memory: { kind: "anonymous" },
    kernel: "/img/base/vmlinux",
    initrd: "/img/base/initrd",
    cmdline: "console=ttyS0 quiet panic=-1",
    disks: [],
    shares: [],
    nic: null,
    incoming: "none",
    startPaused: false,
    ...over,
  };
}

/** The value following each occurrence of `flag`. */
function values(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1] as string] : []));
}
const json = (args: string[], flag: string) => values(args, flag).map((v) => JSON.parse(v) as Record<string, unknown>);

test("identity, process name and the fixed set of options", () => {
  const a = buildQemuArgs(spec(), paths);
  expect(a.slice(0, 4)).toEqual(["-name", `vmbranch-${UUID}`, "-uuid", UUID]);
  expect(a).toEqual(expect.arrayContaining(["-nodefaults", "-no-user-config", "-no-reboot"]));
  // QEMU never forks itself: its seccomp filter forbids that (vm-launch.ts starts it in its own session).
  expect(a).not.toContain("-daemonize");
  expect(values(a, "-display")).toEqual(["none"]);
  expect(values(a, "-machine")).toEqual(["pc-i440fx-10.0,memory-backend=ram0"]);
  expect(values(a, "-smbios")).toEqual(["type=1,serial=vmb-serial-1"]);
  expect(json(a, "-device")).toContainEqual({ driver: "vmgenid", id: "vmgenid0", guid: GUID });
  expect(json(a, "-device")).toContainEqual({ driver: "virtio-rng-pci", id: "rng0", bus: "pci.0", addr: "0x3" });
  expect(values(a, "-smp")).toEqual(["1"]);
  expect(values(a, "-m")).toEqual(["256M"]);
});

test("runtime files come from VmPaths", () => {
  const a = buildQemuArgs(spec(), paths);
  expect(values(a, "-qmp")).toEqual([`unix:${paths.qmpSocket},server=on,wait=off`]);
  expect(values(a, "-pidfile")).toEqual([paths.pidFile]);
  expect(values(a, "-chardev")).toEqual([`file,id=serial0,path=${paths.serialLog},append=on`]);
  expect(values(a, "-serial")).toEqual(["chardev:serial0"]);
  // stdout and stderr are the log file, opened by the launcher.
  expect(values(a, "-D")).toEqual([]);
  expect(values(a, "-fw_cfg")).toEqual([`name=opt/vmbranch/config,file=${paths.guestConfig}`]);
});

test("the guest agent's port: ttyS1 on a socket beside QMP, on nothing for a loader, absent for VMs from before it", () => {
  const agent = buildQemuArgs(spec({ agentChannel: "socket" }), paths);
  expect(values(agent, "-chardev")).toEqual([`file,id=serial0,path=${paths.serialLog},append=on`, `socket,id=agent0,path=${paths.agentSocket},server=on,wait=off`]);
  // Order gives the guest's names: the console stays ttyS0, the agent is ttyS1.
  expect(values(agent, "-serial")).toEqual(["chardev:serial0", "chardev:agent0"]);
  expect(paths.agentSocket).toBe(`${paths.runDir}/ga.sock`);
  const loader = buildQemuArgs(spec({ agentChannel: "null" }), paths);
  expect(values(loader, "-chardev")).toContain("null,id=agent0");
  expect(values(loader, "-serial")).toEqual(["chardev:serial0", "chardev:agent0"]);
  for (const old of [buildQemuArgs(spec({ agentChannel: "none" }), paths), buildQemuArgs(spec(), paths)]) {
    expect(values(old, "-serial")).toEqual(["chardev:serial0"]);
    expect(old.join(" ")).not.toContain("agent0");
  }
});

test("kernel, initrd and command line are separate arguments (no shell, no escaping)", () => {
  const a = buildQemuArgs(spec({ cmdline: "console=ttyS0 a=b,c 'x y'" }), paths);
  expect(values(a, "-kernel")).toEqual(["/img/base/vmlinux"]);
  expect(values(a, "-initrd")).toEqual(["/img/base/initrd"]);
  expect(values(a, "-append")).toEqual(["console=ttyS0 a=b,c 'x y'"]);
});

test("accelerators: kvm uses the host CPU, tcg a bounded translation cache", () => {
  const kvm = buildQemuArgs(spec({ accel: "kvm" }), paths);
  expect(values(kvm, "-accel")).toEqual(["kvm"]);
  expect(values(kvm, "-cpu")).toEqual(["host"]);
  const tcg = buildQemuArgs(spec(), paths);
  expect(values(tcg, "-accel")).toEqual(["tcg,tb-size=32"]);
  expect(values(tcg, "-cpu")).toEqual(["max"]);
  expect(values(buildQemuArgs(spec({ tcgTbSizeMb: 64 }), paths), "-accel")).toEqual(["tcg,tb-size=64"]);
});

test("memory backends: 2 MiB huge pages from the host's pool, for whole pages only", () => {
  expect(json(buildQemuArgs(spec({ memory: { kind: "huge-pages" } }), paths), "-object")).toEqual([
    { "qom-type": "memory-backend-memfd", id: "ram0", size: 256 << 20, hugetlb: true, hugetlbsize: 2 << 20, prealloc: true },
  ]);
  expect(() => buildQemuArgs(spec({ memory: { kind: "huge-pages" }, memoryMb: 129 }), paths)).toThrow("memoryMb must be a whole number of huge pages for huge-page memory, got 129");
});

test("memory backends: anonymous, shared file, private read-only file", () => {
  expect(json(buildQemuArgs(spec(), paths), "-object")).toEqual([{ "qom-type": "memory-backend-ram", id: "ram0", size: 256 << 20 }]);
  expect(memoryBackendObject({ kind: "shared-file", path: "/dev/shm/s/ram" }, 512)).toEqual({
    "qom-type": "memory-backend-file",
    id: "ram0",
    size: 512 << 20,
    "mem-path": "/dev/shm/s/ram",
    share: true,
  });
  expect(json(buildQemuArgs(spec({ memory: { kind: "private-file", path: "/snap/ram" } }), paths), "-object")).toEqual([
    { "qom-type": "memory-backend-file", id: "ram0", size: 256 << 20, "mem-path": "/snap/ram", share: false, readonly: true, rom: "off" },
  ]);
});

test("disks: qcow2 over file blockdevs with stable node names and virtio-blk devices in fixed slots", () => {
  const a = buildQemuArgs(
    spec({
      disks: [
        { id: "data", file: "/vols/data.qcow2", readonly: false, serial: "vol-data" },
        { id: "tpl", file: "/vols/t.qcow2", readonly: true, serial: "vol-tpl" },
      ],
    }),
    paths,
  );
  expect(json(a, "-blockdev")).toEqual([
    {
      driver: "qcow2",
      "node-name": "drv-data",
      "read-only": false,
      discard: "unmap",
      file: { driver: "file", "node-name": "drv-data-f", filename: "/vols/data.qcow2", "read-only": false, discard: "unmap" },
    },
    {
      driver: "qcow2",
      "node-name": "drv-tpl",
      "read-only": true,
      discard: "unmap",
      file: { driver: "file", "node-name": "drv-tpl-f", filename: "/vols/t.qcow2", "read-only": true, discard: "unmap" },
    },
  ]);
  const devs = json(a, "-device").filter((d) => d.driver === "virtio-blk-pci");
  expect(devs).toEqual([
    { driver: "virtio-blk-pci", id: "vd-data", drive: "drv-data", serial: "vol-data", bus: "pci.0", addr: "0x4" },
    { driver: "virtio-blk-pci", id: "vd-tpl", drive: "drv-tpl", serial: "vol-tpl", bus: "pci.0", addr: "0x5" },
  ]);
  // A disk hot-plugged at run time is built by the same functions.
  expect(diskDevice({ id: "data", file: "/vols/data.qcow2", readonly: false, serial: "vol-data" }, 4)).toEqual(devs[0]);
  expect(diskBlockdev({ id: "data", file: "/vols/data.qcow2", readonly: false, serial: "vol-data" })).toEqual(json(a, "-blockdev")[0]);
});

test("explicit PCI slots are kept and the rest fill the gaps deterministically", () => {
  const a = buildQemuArgs(
    spec({
      disks: [
        { id: "a", file: "/a.qcow2", readonly: false, serial: "a", pciSlot: 4 },
        { id: "c", file: "/c.qcow2", readonly: false, serial: "c", pciSlot: 6 },
        { id: "d", file: "/d.qcow2", readonly: false, serial: "d" },
      ],
      shares: [{ id: "s", path: "/srv/s", tag: "s", readonly: false }],
    }),
    paths,
  );
  const addrs = json(a, "-device").filter((d) => d.addr).map((d) => `${String(d.id)}@${String(d.addr)}`);
  expect(addrs).toEqual(["rng0@0x3", "vd-a@0x4", "vd-c@0x6", "vd-d@0x5", "9p-s@0x7"]);
});

test("long disk ids are hashed into node names QEMU accepts (≤ 31 chars)", () => {
  const id = "3f1e2d4c-aaaa-bbbb-cccc-0123456789ab";
  const a = buildQemuArgs(spec({ disks: [{ id, file: "/v.qcow2", readonly: false, serial: "v" }] }), paths);
  const [bd] = json(a, "-blockdev") as [{ "node-name": string; file: { "node-name": string } }];
  expect(bd["node-name"]).toMatch(/^drv-h\.[0-9a-f]{16}$/);
  expect(bd.file["node-name"].length).toBeLessThanOrEqual(31);
  expect(buildQemuArgs(spec({ disks: [{ id, file: "/v.qcow2", readonly: false, serial: "v" }] }), paths)).toEqual(a);
});

test("shares: fsdev keeping guest ownership in xattrs (never host setuid or device files) and optional readonly, virtio-9p device", () => {
  const a = buildQemuArgs(spec({ shares: [{ id: "web", path: "/srv/www", tag: "www", readonly: true }] }), paths);
  expect(values(a, "-fsdev")).toEqual(["local,id=fs-web,path=/srv/www,security_model=mapped-xattr,fmode=0660,dmode=0770,readonly=on"]);
  expect(json(a, "-device")).toContainEqual({ driver: "virtio-9p-pci", id: "9p-web", fsdev: "fs-web", mount_tag: "www", bus: "pci.0", addr: "0x4" });
  const rw = buildQemuArgs(spec({ shares: [{ id: "web", path: "/srv/www", tag: "www", readonly: false }] }), paths);
  expect(values(rw, "-fsdev")).toEqual(["local,id=fs-web,path=/srv/www,security_model=mapped-xattr,fmode=0660,dmode=0770"]);
});

test("network: one user-mode NIC eth0 with tcp and udp host forwards", () => {
  const a = buildQemuArgs(
    spec({
      nic: {
        mac: "52:54:00:AB:CD:EF",
        forwards: [
          { protocol: "tcp", hostPort: 18080, guestPort: 80 },
          { protocol: "udp", hostPort: 15353, guestPort: 53, hostAddress: "127.0.0.2" },
        ],
      },
    }),
    paths,
  );
  expect(values(a, "-netdev")).toEqual(["user,id=net0,hostfwd=tcp:127.0.0.1:18080-:80,hostfwd=udp:127.0.0.2:15353-:53"]);
  expect(json(a, "-device")).toContainEqual({
    driver: "virtio-net-pci",
    id: "eth0",
    netdev: "net0",
    mac: "52:54:00:ab:cd:ef",
    bus: "pci.0",
    addr: "0x2",
    romfile: "",
  });
  expect(values(buildQemuArgs(spec(), paths), "-netdev")).toEqual([]);
});

test("forward rules for HMP hostfwd_add/hostfwd_remove match the -netdev syntax", () => {
  expect(hostfwdRule({ protocol: "udp", hostPort: 5353, guestPort: 53 })).toBe("udp:127.0.0.1:5353-:53");
  expect(hostfwdRemoveRule({ protocol: "tcp", hostPort: 8080 })).toBe("tcp:127.0.0.1:8080");
  expect(hostfwdRemoveRule({ protocol: "tcp", hostPort: 8080, hostAddress: "127.0.0.2" })).toBe("tcp:127.0.0.2:8080");
});

test("incoming defer and start paused, for branches and restores", () => {
  const cold = buildQemuArgs(spec(), paths);
  expect(cold).not.toContain("-incoming");
  expect(cold).not.toContain("-S");
  const branch = buildQemuArgs(spec({ incoming: "defer", startPaused: true, memory: { kind: "private-file", path: "/snap/ram" } }), paths);
  expect(values(branch, "-incoming")).toEqual(["defer"]);
  expect(branch).toContain("-S");
});

test("a source and its branch differ only in identity, memory file, forwards and start mode", () => {
  const disks = [{ id: "data", file: "/vols/data.qcow2", readonly: false, serial: "vol-data" }];
  const src = buildQemuArgs(spec({ disks, memory: { kind: "shared-file", path: "/snap/ram" } }), paths);
  const br = buildQemuArgs(
    spec({ uuid: "11111111-2222-4333-8444-555555555555", vmgenid: "99999999-2222-4333-8444-555555555555", disks, memory: { kind: "private-file", path: "/snap/ram" }, incoming: "defer", startPaused: true }),
    vmPaths("/var/lib/vmbranch/instances/y/run"),
  );
  const devicesOf = (a: string[]) => json(a, "-device").filter((d) => d.driver !== "vmgenid");
  expect(devicesOf(br)).toEqual(devicesOf(src));
  expect(values(br, "-machine")).toEqual(values(src, "-machine"));
});

test("commas in paths are doubled in option strings; JSON arguments need no escaping", () => {
  expect(qemuOptValue("/a,b/c")).toBe("/a,,b/c");
  const p = vmPaths("/data,dir/run");
  const a = buildQemuArgs(spec({ shares: [{ id: "s", path: "/srv/a,b", tag: "s", readonly: false }], disks: [{ id: "d", file: "/v,1.qcow2", readonly: false, serial: "d" }] }), p);
  expect(values(a, "-chardev")).toEqual(["file,id=serial0,path=/data,,dir/run/serial.log,append=on"]);
  expect(values(a, "-qmp")).toEqual(["unix:/data,,dir/run/qmp.sock,server=on,wait=off"]);
  expect(values(a, "-fsdev")[0]).toContain("path=/srv/a,,b,");
  expect(json(a, "-blockdev")[0]).toMatchObject({ file: { filename: "/v,1.qcow2" } });
  expect(values(a, "-pidfile")).toEqual(["/data,dir/run/qemu.pid"]);
});

test("the same spec always gives the same arguments", () => {
  const s = spec({ disks: [{ id: "x", file: "/x.qcow2", readonly: false, serial: "x" }], nic: { mac: "52:54:00:00:00:01", forwards: [] } });
  expect(buildQemuArgs(s, paths)).toEqual(buildQemuArgs(structuredClone(s), paths));
});

test.each<[string, Partial<VmSpec>, RegExp]>([
  ["bad uuid", { uuid: "nope" }, /uuid is not a UUID/],
  ["bad vmgenid", { vmgenid: "x" }, /vmgenid is not a GUID/],
  ["relative kernel", { kernel: "vmlinux" }, /kernel must be an absolute path/],
  ["relative memory file", { memory: { kind: "private-file", path: "ram" } }, /memory.path must be an absolute path/],
  ["zero vcpus", { vcpus: 0 }, /vcpus must be an integer/],
  ["fractional memory", { memoryMb: 100.5 }, /memoryMb must be an integer/],
  ["serial too long", { disks: [{ id: "d", file: "/d", readonly: false, serial: "x".repeat(21) }] }, /serial must be 1..20/],
  ["serial with a comma", { disks: [{ id: "d", file: "/d", readonly: false, serial: "a,b" }] }, /serial must be/],
  [
    "duplicate disk id",
    { disks: [{ id: "d", file: "/d", readonly: false, serial: "a" }, { id: "d", file: "/e", readonly: false, serial: "b" }] },
    /duplicate device id 'd'/,
  ],
  [
    "duplicate serial",
    { disks: [{ id: "d", file: "/d", readonly: false, serial: "a" }, { id: "e", file: "/e", readonly: false, serial: "a" }] },
    /duplicate disk serial/,
  ],
  ["slot taken by the NIC", { disks: [{ id: "d", file: "/d", readonly: false, serial: "a", pciSlot: 2 }] }, /pciSlot must be an integer in 4..31/],
  ["tag too long", { shares: [{ id: "s", path: "/s", tag: "t".repeat(32), readonly: false }] }, /tag must be 1..31/],
  ["multicast mac", { nic: { mac: "01:00:5e:00:00:01", forwards: [] } }, /unicast/],
  ["bad mac", { nic: { mac: "52:54:00:00:00", forwards: [] } }, /not a MAC/],
  ["port out of range", { nic: { mac: "52:54:00:00:00:01", forwards: [{ protocol: "tcp", hostPort: 70000, guestPort: 80 }] } }, /hostPort/],
  [
    "same host port twice",
    {
      nic: {
        mac: "52:54:00:00:00:01",
        forwards: [
          { protocol: "tcp", hostPort: 8080, guestPort: 80 },
          { protocol: "tcp", hostPort: 8080, guestPort: 81 },
        ],
      },
    },
    /forwarded twice/,
  ],
])("rejects %s", (_name, over, message) => {
  expect(() => buildQemuArgs(spec(over), paths)).toThrow(VmSpecError);
  expect(() => buildQemuArgs(spec(over), paths)).toThrow(message);
});

test("runs out of PCI slots with a clear error", () => {
  const disks = Array.from({ length: 29 }, (_, i) => ({ id: `d${i}`, file: `/d${i}`, readonly: false, serial: `s${i}` }));
  expect(() => buildQemuArgs(spec({ disks }), paths)).toThrow(/no free PCI slot/);
});
