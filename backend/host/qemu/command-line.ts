/**
 * Turns a VmSpec and its VmPaths into the QEMU argument array: pure, no I/O, deterministic (the
 * same spec always gives the same arguments, so a branch has its source's exact device set).
 * Owns machine and device choices; launching the process is vm-process.ts, validating the spec
 * is vm-spec.ts (called here), and choosing the spec's values is the caller's.
 *
 * Why `-M pc` (i440fx) and not q35: volumes are hot-plugged into running instances with QMP
 * device_add. On pc, ACPI PCI hot-plug works on the root bus (28 free slots) with nothing extra;
 * q35 needs one pcie-root-port per hot-pluggable slot, created up front, which caps hot-plugs and
 * is one more thing a branch must reproduce exactly. Measured here (QEMU 10.0.2, TCG, 2 cores,
 * `base` image, launch to ready marker, median of 5 interleaved runs): pc 2.85 s, q35 with four
 * root ports 2.99 s. We need no PCIe-only feature, so pc wins on both counts. The spec names the
 * versioned type (`pc-i440fx-X.Y`, machine-types.ts), never the alias, so snapshots survive upgrades.
 */
import { GUEST_CONFIG_FW_CFG_NAME } from "../images/guest-protocol";
import { assignPciSlots, diskBlockdev, diskDevice, hostfwdRule, NETDEV_ID, nicDevice, RAM_BACKEND_ID, rngDevice, shareDevice, shareNames, trafficDumpObjects } from "./vm-devices";
import type { VmPaths } from "./vm-paths";
import { DEFAULT_TCG_TB_SIZE_MB, HUGE_PAGE_BYTES, validateVmSpec, type MemoryBackendSpec, type VmSpec } from "./vm-spec";

/**
 * How a 9p share stores what the guest asks for: owners, modes and device files live in extended
 * attributes (user.virtfs.*), never in the host's own metadata, so a guest (root inside) can
 * create neither a setuid-root file nor a device node on the host. Host files are created for
 * the VM group (0660, directories 0770), so what one VM writes the next one can read, attributes
 * included (reading them needs read access to the file, not ownership). QEMU reaches attributes
 * through /proc/self/fd: a jailed QEMU with shares gets a /proc of its own (vm-launch.ts).
 */
export const SHARE_SECURITY = "security_model=mapped-xattr,fmode=0660,dmode=0770";
/** Chardev id of the guest agent's serial port. */
export const AGENT_CHARDEV_ID = "agent0";
/** Process name prefix: `-name vmbranch-<uuid>` is how our processes (and leftovers) are found. */
export const PROCESS_NAME_PREFIX = "vmbranch-";

/** The `-name` value of the VM with `uuid`. */
export function processName(uuid: string): string {
  return `${PROCESS_NAME_PREFIX}${uuid}`;
}

/** Escapes a value for a QEMU `key=value,…` option string (a comma is written twice). */
export function qemuOptValue(value: string): string {
  return value.replace(/,/g, ",,");
}

/** The `-object` JSON of the RAM backend; source and branch must agree on everything but the path. */
export function memoryBackendObject(memory: MemoryBackendSpec, memoryMb: number): Record<string, unknown> {
  const size = memoryMb * 1024 * 1024;
  switch (memory.kind) {
    case "anonymous":
      return { "qom-type": "memory-backend-ram", id: RAM_BACKEND_ID, size };
    case "huge-pages":
      // 2 MiB pages from the host's reserved pool: a snapshot write-protects and copies 512 times
      // fewer pages, so the capture's pause and the copy are shorter (docs/benchmarks.md). All of
      // them at the start (prealloc): the pool holds them for the guest anyway, and a page still
      // untouched at the first snapshot would be zeroed inside that snapshot's pause (510 ms seen).
      return { "qom-type": "memory-backend-memfd", id: RAM_BACKEND_ID, size, hugetlb: true, hugetlbsize: HUGE_PAGE_BYTES, prealloc: true };
    case "shared-file":
      // share=on: guest writes land in the file, which is what a snapshot of this VM reads.
      return { "qom-type": "memory-backend-file", id: RAM_BACKEND_ID, size, "mem-path": memory.path, share: true };
    case "private-file":
      // MAP_PRIVATE of a file opened read-only: pages are shared with every other branch until
      // written, and the frozen file itself can never be modified (rom=off keeps it guest-writable RAM).
      return { "qom-type": "memory-backend-file", id: RAM_BACKEND_ID, size, "mem-path": memory.path, share: false, readonly: true, rom: "off" };
  }
}

/**
 * QEMU's seccomp filter. Obsolete system calls, spawning processes and changing scheduling or
 * resource limits are refused. Changing ids is refused too, except when QEMU must drop to an
 * unprivileged user itself: QEMU installs the filter before that drop (setgid and setuid would
 * kill it), and once dropped all its ids are the unprivileged one, it holds no capability and the
 * filter set no_new_privs, so set*id can then only "change" to ids it already has.
 */
export function sandboxOption(dropsPrivileges: boolean): string {
  return `on,obsolete=deny,elevateprivileges=${dropsPrivileges ? "allow" : "deny"},spawn=deny,resourcecontrol=deny`;
}

/** Builds the full QEMU argument list (without the binary). Throws VmSpecError on an invalid spec. */
export function buildQemuArgs(spec: VmSpec, paths: VmPaths): string[] {
  validateVmSpec(spec);
  const args: string[] = [];
  const add = (...a: string[]) => args.push(...a);

  add("-name", processName(spec.uuid), "-uuid", spec.uuid);
  add("-nodefaults", "-no-user-config", "-display", "none");
  add("-machine", `${spec.machineType},memory-backend=${RAM_BACKEND_ID}`);
  // MIGRATION events on every state change: snapshot, save and restore waits wake on them.
  add("-global", "migration.x-events=on");
  if (spec.accel === "kvm") add("-accel", "kvm", "-cpu", "host");
  // A bounded translation cache: QEMU's default reserves 1 GiB and fills it as the guest runs new
  // code. Measured with `base`: 32 MiB gives 227 vs 247 MB RSS at ready and 231 vs 258 MB after
  // 45 s of busy guest work, for ~80 ms more boot (2.85 vs 2.77 s); 16 MiB costs +0.6 s.
  else add("-accel", `tcg,tb-size=${spec.tcgTbSizeMb ?? DEFAULT_TCG_TB_SIZE_MB}`, "-cpu", "max");
  add("-smp", String(spec.vcpus), "-m", `${spec.memoryMb}M`);
  add("-object", JSON.stringify(memoryBackendObject(spec.memory, spec.memoryMb)));

  add("-smbios", `type=1,serial=${qemuOptValue(spec.smbiosSerial)}`);
  add("-device", JSON.stringify({ driver: "vmgenid", id: "vmgenid0", guid: spec.vmgenid }));
  add("-device", JSON.stringify(rngDevice()));

  add("-kernel", spec.kernel, "-initrd", spec.initrd, "-append", spec.cmdline);
  add("-fw_cfg", `name=${GUEST_CONFIG_FW_CFG_NAME},file=${qemuOptValue(paths.guestConfig)}`);

  if (spec.nic) {
    const fwds = spec.nic.forwards.map((f) => `,hostfwd=${hostfwdRule(f)}`).join("");
    add("-netdev", `user,id=${NETDEV_ID}${spec.nic.restrict ? ",restrict=on" : ""}${fwds}`);
    add("-device", JSON.stringify(nicDevice(spec.nic)));
    for (const o of spec.nic.trafficDumps ? trafficDumpObjects(spec.nic.trafficDumps) : []) add("-object", JSON.stringify(o));
  }

  const slots = assignPciSlots(spec);
  for (const disk of spec.disks) {
    add("-blockdev", JSON.stringify(diskBlockdev(disk)));
    add("-device", JSON.stringify(diskDevice(disk, slots.get(disk.id) as number)));
  }
  for (const share of spec.shares) {
    const n = shareNames(share.id);
    const ro = share.readonly ? ",readonly=on" : "";
    add("-fsdev", `local,id=${n.fsdev},path=${qemuOptValue(share.path)},${SHARE_SECURITY}${ro}`);
    add("-device", JSON.stringify(shareDevice(share, slots.get(share.id) as number)));
  }

  add("-chardev", `file,id=serial0,path=${qemuOptValue(paths.serialLog)},append=on`, "-serial", "chardev:serial0");
  // The agent's port is ttyS1 (0x2f8, IRQ 3). Only the host connects to its socket, one at a time;
  // while nobody is connected QEMU drops what the guest writes there.
  const agent = spec.agentChannel ?? "none";
  if (agent === "socket") add("-chardev", `socket,id=${AGENT_CHARDEV_ID},path=${qemuOptValue(paths.agentSocket)},server=on,wait=off`);
  if (agent === "null") add("-chardev", `null,id=${AGENT_CHARDEV_ID}`);
  if (agent !== "none") add("-serial", `chardev:${AGENT_CHARDEV_ID}`);
  add("-qmp", `unix:${qemuOptValue(paths.qmpSocket)},server=on,wait=off`);
  add("-pidfile", paths.pidFile);
  // QEMU's stderr is its log file (vm-launch.ts); it does not -daemonize (see there).
  add("-msg", "timestamp=on");
  // A guest reboot or power-off ends the process: the supervisor sees the exit, core decides.
  add("-no-reboot");
  if (spec.incoming !== "none") add("-incoming", "defer");
  if (spec.startPaused) add("-S");
  if (spec.sandbox) add("-sandbox", sandboxOption(spec.confine !== undefined && spec.confine !== null));
  if (spec.confine) add("-run-with", `user=${spec.confine.uid}:${spec.confine.gid},chroot=${qemuOptValue(spec.confine.chroot)}`);
  return args;
}
