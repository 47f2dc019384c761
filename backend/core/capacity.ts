/**
 * Room checks before work that needs memory: a VM start needs host memory for its guest RAM (a
 * warm start maps a snapshot's RAM image and needs only QEMU's own; a boot under `--huge-pages`
 * takes its RAM from the host's huge-page pool), and a memory snapshot needs
 * space for a RAM image in the RAM directory, which is tmpfs and so host memory too. Refusing up
 * front with a 507 that names what is short beats a QEMU killed by SIGBUS or the OOM killer
 * halfway through. The operator's reserve (`--host-reserve-mb`) is kept free for the host.
 */
import type { HostCapacity } from "../host/vm-driver";
import { on, type CoreContext } from "./context";
import { ApiError } from "./errors";

/** Memory a QEMU process needs beyond guest RAM (translation cache, device models, buffers), in MiB. */
export const QEMU_OVERHEAD_MB = 64;

/** What a piece of work needs, in MiB. */
export interface CapacityNeed {
  /** Host memory. */
  memoryMb: number;
  /** RAM directory space (a memory snapshot's image). */
  ramDirMb: number;
  /** Free huge pages of the host's pool (a boot under `--huge-pages`). */
  hugePagesMb?: number;
}

/**
 * The need of starting a VM of `memoryMb`: all of it for a cold boot, from the host's huge-page
 * pool for a boot in huge pages, and QEMU's own beside either, or only QEMU's own for a warm start.
 */
export function startNeed(memoryMb: number, start: "cold" | "huge-pages" | "warm"): CapacityNeed {
  return { memoryMb: (start === "cold" ? memoryMb : 0) + QEMU_OVERHEAD_MB, ramDirMb: 0, ...(start === "huge-pages" ? { hugePagesMb: memoryMb } : {}) };
}

/** The need of a memory snapshot of a VM of `memoryMb`: its RAM image, in tmpfs, plus a loader process. */
export function snapshotNeed(memoryMb: number): CapacityNeed {
  return { memoryMb: memoryMb + QEMU_OVERHEAD_MB, ramDirMb: memoryMb };
}

/**
 * Host memory, in MiB, `count` instances of `memoryMb` made from one source need beside the source
 * or on another host, by how they start: from a live snapshot taken now (beside, the snapshot's RAM
 * image becomes their memory, with the loader writing it and a QEMU each; away, the image is sent
 * and the source's host keeps it only until then), from an existing memory snapshot (beside, the
 * image is there already; away, one copy is sent for all of them), or each by a boot.
 */
export function placeNeed(memoryMb: number, start: "live" | "memory" | "boot", count = 1): { beside: number; away: number } {
  const qemus = count * QEMU_OVERHEAD_MB;
  if (start === "boot") return { beside: count * memoryMb + qemus, away: count * memoryMb + qemus };
  const away = memoryMb + qemus;
  if (start === "live") return { beside: memoryMb + QEMU_OVERHEAD_MB + qemus, away };
  return { beside: qemus, away };
}

/** The refusal for `need` given `free` and `reserveMb`, or null when it fits. Unknown figures pass. */
export function capacityProblem(need: CapacityNeed, free: HostCapacity, reserveMb: number, what: string, ramDir: string): ApiError | null {
  if (need.ramDirMb > 0 && free.ramDirFreeMb !== null && free.ramDirFreeMb - reserveMb < need.ramDirMb)
    return new ApiError(
      "INSUFFICIENT_STORAGE",
      `Not enough space in the RAM directory ${ramDir} to ${what}: needs ${need.ramDirMb} MiB, ${free.ramDirFreeMb} MiB free and ${reserveMb} MiB kept in reserve`,
    );
  // The pool is the operator's reservation for guests: nothing of it is kept back for the host.
  const pool = free.hugePagesFreeMb ?? null;
  if (need.hugePagesMb && pool !== null && pool < need.hugePagesMb)
    return new ApiError(
      "INSUFFICIENT_MEMORY",
      `Not enough free huge pages to ${what}: needs ${need.hugePagesMb} MiB of 2 MiB pages, ${pool} MiB free in the host's pool (vm.nr_hugepages)`,
    );
  if (free.memoryAvailableMb !== null && free.memoryAvailableMb - reserveMb < need.memoryMb)
    return new ApiError(
      "INSUFFICIENT_MEMORY",
      `Not enough host memory to ${what}: needs ${need.memoryMb} MiB, ${free.memoryAvailableMb} MiB available and ${reserveMb} MiB kept in reserve`,
    );
  return null;
}

/** Throws INSUFFICIENT_MEMORY or INSUFFICIENT_STORAGE unless host `host` has room for `need` now. */
export async function requireCapacity(ctx: CoreContext, host: string | null | undefined, need: CapacityNeed, what: string): Promise<void> {
  const free = await on(ctx, host).vm.capacity(ctx.config.ramDir);
  const problem = capacityProblem(need, free, ctx.config.hostReserveMb, what, ctx.config.ramDir);
  if (problem) throw problem;
}
