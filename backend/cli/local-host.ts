/**
 * The machine serve or an agent runs VMs on, opened once at start: its QEMU (version and pinned
 * machine type), what it offers for confining QEMU, the firewall rule for guests' outbound
 * traffic, the accelerator probe, and the QEMU and storage drivers built on them.
 */
import { join } from "node:path";
import type { Logger as PinoLogger } from "pino";
import { BASE_IMAGE_NAME, openImage } from "../host/images";
import { closeConfinement, probeConfinement } from "../host/confinement/confinement";
import { TOOL_UID } from "../host/confinement/vm-identity";
import { installFirewall } from "../host/net/firewall";
import { ephemeralLow, publishedWindow, type PortRange } from "../host/net/ports";
import { detectAccelerator } from "../host/qemu/accel-probe";
import { probeQemuMachine, type QemuMachine } from "../host/qemu/machine-types";
import { qemuBinary } from "../host/qemu/vm-launch";
import { LocalStorage } from "../host/storage/local-storage";
import { QemuDriver } from "../host/vm/qemu-driver";

/** This machine's drivers and what they were built from. */
export interface LocalHost {
  qemu: QemuMachine;
  vm: QemuDriver;
  storage: LocalStorage;
  /** Why guests cannot have outbound network access here, or null. */
  outboundNetworkUnavailable: string | null;
  /** The accelerator new VMs use (probed on first use). */
  accelerator: () => Promise<"kvm" | "tcg">;
  /** Undo what confinement set up (VMs keep running). */
  close(): Promise<void>;
}

/** What opening the local host needs. */
export interface LocalHostOptions {
  dataDir: string;
  imageDir: string;
  /** Scratch space of the accelerator probe. */
  tmpDir: string;
  consoleLogMaxBytes: number;
  /** Where published ports are picked; null: the window just below the ephemeral range. */
  publishedPorts: PortRange | null;
  log: PinoLogger;
  /** Asked before a new disk file is made; throws ENOSPC when there is no room to give (LocalStorage). */
  roomForDisks?: () => void;
}

/** Probe this machine and build its drivers. */
export async function openLocalHost(o: LocalHostOptions): Promise<LocalHost> {
  const { log } = o;
  const qemu = await probeQemuMachine();
  log.info(`QEMU ${qemu.qemuVersion}: VMs run as machine type ${qemu.type}`);
  const confinement = await probeConfinement({ userfaultfdNode: join(o.dataDir, "userfaultfd"), qemuBinary: qemuBinary() });
  const firewall = await installFirewall();
  for (const line of confinement.report) {
    if (line.startsWith("UNAVAILABLE")) log.warn(line);
    else log.info(line);
  }
  const ephemeral = ephemeralLow();
  const ports = o.publishedPorts ?? publishedWindow(ephemeral);
  if (!ports) log.warn(`published ports are picked from the ephemeral range: it starts at ${ephemeral}, leaving no room below it (--published-ports names a range)`);
  else if (ports.high >= ephemeral) log.warn(`published ports ${ports.low}-${ports.high} overlap the ephemeral range (from ${ephemeral}): any outgoing connection may take a port a stopped instance keeps`);
  else if (o.publishedPorts) log.info(`published ports are picked from ${ports.low}-${ports.high}, never outside it`);
  else log.info(`published ports are picked from ${ports.low}-${ports.high} (from the ephemeral range once it is full)`);
  if (firewall) log.warn(`UNAVAILABLE: outbound network access for guests (the host firewall rule is not in place: ${firewall}); guests stay isolated`);
  else log.info("host firewall: guests with outbound access cannot open connections to this host");
  let accel: Promise<"kvm" | "tcg"> | null = null;
  // Probed on the first launch, not at start-up: it may boot a VM and needs the image.
  const accelerator = () =>
    (accel ??= (async () => {
      const base = openImage(o.imageDir, BASE_IMAGE_NAME);
      const verdict = await detectAccelerator({
        image: { kernel: base.kernel, initrd: base.initrd, cmdline: base.cmdline, digest: base.manifest.digest },
        // Next to the image: the verdict is keyed by its digest and shared by every data dir using it.
        cacheFile: join(o.imageDir, ".accelerator.json"),
        log: (m) => log.info(m),
        workDir: o.tmpDir,
      });
      return verdict.accel;
    })().catch((err) => {
      accel = null;
      throw err;
    }));
  return {
    qemu,
    vm: new QemuDriver({ consoleLogMaxBytes: o.consoleLogMaxBytes, confinement, qemu, publishedPorts: ports, publishedPortsNamed: o.publishedPorts !== null }),
    // Tools that parse what a guest wrote (resize2fs) run as an unprivileged user where there is one.
    storage: new LocalStorage(confinement.identities ? { uid: TOOL_UID, gid: confinement.identities.gid } : null, o.roomForDisks),
    outboundNetworkUnavailable: firewall,
    accelerator,
    close: () => closeConfinement(confinement),
  };
}
