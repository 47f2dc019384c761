/**
 * The version of the installed QEMU, from `<qemu> --version`. Used by the machine-type probe and as
 * part of the accelerator cache key; comparing versions is the caller's.
 */
import { run } from "../util/exec";
import { qemuBinary } from "./vm-launch";

/** A QEMU version. */
export interface QemuVersion {
  major: number;
  minor: number;
  micro: number;
  /** As printed, e.g. `10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)`. */
  text: string;
}

/** Parses the first line of `qemu-system-x86_64 --version`; null when it is not one. */
export function parseQemuVersion(output: string): QemuVersion | null {
  const m = /QEMU emulator version (\d+)\.(\d+)\.(\d+)([^\n]*)/.exec(output);
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), micro: Number(m[3]), text: `${m[1]}.${m[2]}.${m[3]}${m[4] ?? ""}`.trim() };
}

/** Runs `<qemu> --version`; throws HostCommandError when QEMU is missing, Error when unparseable. */
export async function probeQemuVersion(binary?: string): Promise<QemuVersion> {
  const out = await run(qemuBinary(binary), ["--version"], { timeoutMs: 10_000 });
  const v = parseQemuVersion(out);
  if (!v) throw new Error(`cannot parse the QEMU version from: ${out.trim().slice(0, 200)}`);
  return v;
}

