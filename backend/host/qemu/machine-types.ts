/**
 * The versioned machine type VMs are pinned to, and whether a memory snapshot can be restored by
 * the installed QEMU. A RAM image and device state only load into the machine type that wrote
 * them, and the unversioned `pc` is an alias that moves with every QEMU release: a snapshot made as
 * `pc` on QEMU 10.0 would be loaded as `pc-i440fx-10.1` after an upgrade. So every VM runs as the
 * versioned type `pc` stands for when it is launched (read from `-machine help`), every snapshot
 * records it with the QEMU version, and a restore is refused when this QEMU cannot honour both.
 */
import { run } from "../util/exec";
import { probeQemuVersion, type QemuVersion } from "./qemu-version";
import { qemuBinary } from "./vm-launch";

/** The unversioned i440fx alias (command-line.ts says why i440fx). */
export const MACHINE_ALIAS = "pc";

/** The installed QEMU as far as restoring snapshots is concerned. */
export interface QemuMachine {
  /** The versioned machine type new VMs are launched with, e.g. `pc-i440fx-10.0`. */
  type: string;
  /** Every machine type this QEMU offers. */
  available: string[];
  /** This QEMU's version, `major.minor.micro`. */
  qemuVersion: string;
}

/** What a memory snapshot records about the QEMU that wrote it. */
export interface RecordedMachine {
  machineType: string;
  qemuVersion: string;
}

/**
 * Parses `-machine help`: every machine type, and the versioned type the `pc` alias stands for
 * (else the newest `pc-i440fx-X.Y` listed). Null when the output names no i440fx type.
 */
export function parseMachineHelp(output: string): { type: string; available: string[] } | null {
  const available: string[] = [];
  let aliased: string | null = null;
  for (const line of output.split("\n")) {
    const m = /^(\S+)\s/.exec(line);
    if (!m || line.startsWith("Supported machines")) continue;
    available.push(m[1]!);
    const alias = /\(alias of ([^)\s]+)\)/.exec(line);
    if (m[1] === MACHINE_ALIAS && alias) aliased = alias[1]!;
  }
  const versioned = available
    .map((t) => ({ t, v: /^pc-i440fx-(\d+)\.(\d+)$/.exec(t) }))
    .filter((x): x is { t: string; v: RegExpExecArray } => x.v !== null)
    .sort((a, b) => Number(b.v[1]) - Number(a.v[1]) || Number(b.v[2]) - Number(a.v[2]));
  const type = aliased && available.includes(aliased) ? aliased : versioned[0]?.t;
  return type ? { type, available } : null;
}

/** Runs `<qemu> -machine help` and `--version`; throws when QEMU is missing or offers no i440fx type. */
export async function probeQemuMachine(binary?: string): Promise<QemuMachine> {
  const [help, version] = await Promise.all([run(qemuBinary(binary), ["-machine", "help"], { timeoutMs: 10_000 }), probeQemuVersion(binary)]);
  const parsed = parseMachineHelp(help);
  if (!parsed) throw new Error(`this QEMU offers no versioned i440fx machine type: ${help.trim().slice(0, 200)}`);
  return { ...parsed, qemuVersion: versionString(version) };
}

/** `major.minor.micro` of a probed version. */
export function versionString(v: QemuVersion): string {
  return `${v.major}.${v.minor}.${v.micro}`;
}

function majorMinor(v: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/**
 * Why this QEMU cannot restore a memory snapshot made as `recorded`, or null when it can. QEMU
 * loads state from its own and older releases in the same versioned machine type, never from a
 * newer release: the type must be offered here and the recording QEMU no newer (major.minor).
 */
export function restoreRefusal(recorded: RecordedMachine, here: QemuMachine): string | null {
  if (!here.available.includes(recorded.machineType))
    return `it was taken with machine type '${recorded.machineType}' (QEMU ${recorded.qemuVersion}), which this QEMU (${here.qemuVersion}) does not offer`;
  const then = majorMinor(recorded.qemuVersion);
  const now = majorMinor(here.qemuVersion);
  if (!then || !now) return `it records QEMU version '${recorded.qemuVersion}', which cannot be compared with this QEMU (${here.qemuVersion})`;
  if (then[0] > now[0] || (then[0] === now[0] && then[1] > now[1]))
    return `it was taken by QEMU ${recorded.qemuVersion}, newer than this QEMU (${here.qemuVersion}), which cannot load its state`;
  return null;
}
