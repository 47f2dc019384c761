/**
 * What the installed QEMU can do: its version (`--version`) and the migration capabilities the
 * snapshot strategies depend on (asked over QMP of a throwaway `-M none` process, which starts in
 * well under 100 ms and runs no guest). Picking a strategy from the answer is the caller's. The
 * version and accelerator probes live in qemu-version.ts and accel-probe.ts and are re-exported
 * here, so callers have one entry point for every probe.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processName } from "./command-line";
import { QmpCommands } from "./qmp/commands";
import { QmpMonitor } from "./qmp/monitor";
import { probeQemuVersion, type QemuVersion } from "./qemu-version";
import { qemuBinary } from "./vm-launch";

export { ACCEL_ENV, detectAccelerator, type AccelProbeOptions, type AccelVerdict } from "./accel-probe";
export { parseQemuVersion, probeQemuVersion, type QemuVersion } from "./qemu-version";

/** What the snapshot and branch pipelines may rely on. */
export interface QemuCapabilities {
  version: QemuVersion;
  /** `background-snapshot`: copy-on-write RAM snapshot of a running VM (userfaultfd write-protect). */
  backgroundSnapshot: boolean;
  /** `x-ignore-shared`: RAM in a shared file is not copied into the migration stream. */
  xIgnoreShared: boolean;
  /** `mapped-ram`: RAM written at fixed offsets of a `file:` migration. */
  mappedRam: boolean;
}

/** Reads the migration capabilities from a throwaway `-M none` QEMU (killed before returning). */
export async function probeQemuCapabilities(opts: { qemuBinary?: string; timeoutMs?: number } = {}): Promise<QemuCapabilities> {
  const version = await probeQemuVersion(opts.qemuBinary);
  const dir = await mkdtemp(join(tmpdir(), "vmb-probe-"));
  const socket = join(dir, "qmp.sock");
  const args = ["-name", processName(randomUUID()), "-M", "none", "-nodefaults", "-no-user-config", "-display", "none"];
  args.push("-qmp", `unix:${socket},server=on,wait=off`);
  // Not daemonized: a child of ours, so it dies with this probe whatever happens.
  const child = spawn(qemuBinary(opts.qemuBinary), args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => (stderr += d));
  const gone = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const diedEarly = gone.then(() => {
    throw new Error(`QEMU exited during the capability probe: ${stderr.trim()}`);
  });
  diedEarly.catch(() => undefined); // it also settles after the kill below; nobody waits then
  let monitor: QmpMonitor | null = null;
  try {
    monitor = await Promise.race([QmpMonitor.connect(socket, { timeoutMs: opts.timeoutMs ?? 10_000, retry: true }), diedEarly]);
    const caps = await new QmpCommands(monitor).queryMigrateCapabilities();
    const has = (name: string) => caps.some((c) => c.capability === name);
    return { version, backgroundSnapshot: has("background-snapshot"), xIgnoreShared: has("x-ignore-shared"), mappedRam: has("mapped-ram") };
  } finally {
    monitor?.close();
    child.kill("SIGKILL");
    await gone;
    await rm(dir, { recursive: true, force: true });
  }
}
