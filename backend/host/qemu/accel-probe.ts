/**
 * Which accelerator to run guests with (docs/architecture.md, "The platform"): `kvm` only where a
 * guest really boots under it, otherwise `tcg`, with the reason logged. A /dev/kvm that opens is
 * not enough: on PVM hosts (`kvm_pvm`) a stock kernel hangs while decompressing. So `auto` boots
 * the real image under KVM with a short deadline and falls back to TCG. The verdict is cached in a
 * file keyed by host kernel release, QEMU version and image digest, so `serve` pays the probe once
 * per combination. `VMBRANCH_ACCEL=kvm|tcg|auto` overrides. Where the cache file lives is the
 * caller's choice.
 */
import { randomUUID } from "node:crypto";
import { constants } from "node:fs";
import { access, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { release, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { READY_MARKER } from "../images/guest-protocol";
import { MACHINE_ALIAS } from "./machine-types";
import { probeQemuVersion } from "./qemu-version";
import { VmProcess } from "./vm-process";
import { removeVmPaths, vmPaths } from "./vm-paths";
import type { Accelerator, VmSpec } from "./vm-spec";

/** The accelerator decision and why it was made. */
export interface AccelVerdict {
  accel: Accelerator;
  reason: string;
  /** True when read from the cache file rather than probed now. */
  cached: boolean;
}

/** Inputs of `detectAccelerator`. */
export interface AccelProbeOptions {
  /** The image to boot under KVM (normally `base`); its digest is part of the cache key. */
  image: { kernel: string; initrd: string; cmdline: string; digest: string };
  /** Cache file, e.g. `<data-dir>/cache/accelerator.json`; null disables caching. */
  cacheFile: string | null;
  /** `kvm`, `tcg` or `auto`; default `$VMBRANCH_ACCEL`, else `auto`. */
  override?: string;
  /** How long a KVM boot may take to reach the ready marker (default 5 s; it takes < 1 s where KVM works). */
  deadlineMs?: number;
  qemuBinary?: string;
  /** Where the probe VM's files go (default the temp dir). */
  workDir?: string;
  /** Where the verdict and its reason are logged (default stderr). */
  log?: (message: string) => void;
  /** Path of the KVM device (tests point it elsewhere). */
  kvmDevice?: string;
}

/** Environment variable that forces the accelerator. */
export const ACCEL_ENV = "VMBRANCH_ACCEL";
const DEFAULT_DEADLINE_MS = 5_000;

interface CacheEntry {
  key: string;
  accel: Accelerator;
  reason: string;
  probedAt: string;
}

/** Decides the accelerator; throws only on an invalid override. Never leaves a probe VM behind. */
export async function detectAccelerator(opts: AccelProbeOptions): Promise<AccelVerdict> {
  // The reason must reach the operator: stderr unless the caller has a logger.
  const log = opts.log ?? ((m: string) => process.stderr.write(`vmbranch: ${m}\n`));
  const choice = (opts.override ?? process.env[ACCEL_ENV] ?? "auto").trim() || "auto";
  if (choice !== "kvm" && choice !== "tcg" && choice !== "auto") {
    throw new Error(`${ACCEL_ENV} must be kvm, tcg or auto, got '${choice}'`);
  }
  const decide = (accel: Accelerator, reason: string, cached = false): AccelVerdict => {
    log(`accelerator: ${accel} (${reason}${cached ? ", cached" : ""})`);
    return { accel, reason, cached };
  };
  if (choice !== "auto") return decide(choice, `forced by ${ACCEL_ENV}=${choice}`);

  const kvmDevice = opts.kvmDevice ?? "/dev/kvm";
  try {
    await access(kvmDevice, constants.R_OK | constants.W_OK);
  } catch (err) {
    return decide("tcg", `no usable ${kvmDevice} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }

  const version = await probeQemuVersion(opts.qemuBinary);
  const key = `${release()}|qemu ${version.major}.${version.minor}.${version.micro}|${opts.image.digest}`;
  const hit = opts.cacheFile ? await readCache(opts.cacheFile) : null;
  if (hit && hit.key === key) return decide(hit.accel, hit.reason, true);

  const deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const { accel, reason } = await bootUnderKvm(opts, deadlineMs);
  if (opts.cacheFile) await writeCache(opts.cacheFile, { key, accel, reason, probedAt: new Date().toISOString() });
  return decide(accel, reason);
}

/** Boots the image under KVM and waits for the ready marker; always kills the probe VM. */
async function bootUnderKvm(opts: AccelProbeOptions, deadlineMs: number): Promise<{ accel: Accelerator; reason: string }> {
  const workDir = await mkdtemp(join(opts.workDir ?? tmpdir(), "vmb-accel-"));
  const paths = vmPaths(join(workDir, "run"));
  const spec: VmSpec = {
    uuid: randomUUID(),
    smbiosSerial: "vmbranch-accel-probe",
    vmgenid: randomUUID(),
    accel: "kvm",
    // A throwaway boot that nothing restores: the alias is enough.
    machineType: MACHINE_ALIAS,
    vcpus: 1,
    memoryMb: 256,
    memory: { kind: "anonymous" },
    kernel: opts.image.kernel,
    initrd: opts.image.initrd,
    cmdline: opts.image.cmdline,
    disks: [],
    shares: [],
    nic: null,
    incoming: "none",
    startPaused: false,
  };
  let vm: VmProcess | null = null;
  const t0 = Date.now();
  try {
    await mkdir(paths.runDir, { recursive: true });
    // An empty configuration: the init idles after printing the ready marker.
    await writeFile(paths.guestConfig, "");
    vm = await VmProcess.launch(spec, paths, { qemuBinary: opts.qemuBinary, startTimeoutMs: deadlineMs });
    await vm.waitForSerial(READY_MARKER, { timeoutMs: Math.max(deadlineMs - (Date.now() - t0), 1) });
    return { accel: "kvm", reason: `a guest booted under KVM in ${Date.now() - t0} ms` };
  } catch (err) {
    const what = err instanceof Error && err.name === "VmStartError" ? `QEMU could not start under KVM: ${err.message}` : null;
    return { accel: "tcg", reason: what ?? `KVM present but the guest did not boot within ${Math.round(deadlineMs / 1000)}s (PVM host?)` };
  } finally {
    await vm?.kill();
    await removeVmPaths(paths).catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  }
}

async function readCache(file: string): Promise<CacheEntry | null> {
  try {
    const e = JSON.parse(await readFile(file, "utf8")) as CacheEntry;
    return (e.accel === "kvm" || e.accel === "tcg") && typeof e.key === "string" ? e : null;
  } catch {
    return null;
  }
}

async function writeCache(file: string, entry: CacheEntry): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  // Write then rename: a concurrent reader never sees half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(entry, null, 2) + "\n");
  await rename(tmp, file);
}
