/**
 * Waits on a migration, shared by the snapshot pipeline and restores: on QEMU's MIGRATION events,
 * with a deadline; and how long one still has to go.
 */
import type { QmpCommands } from "../qemu/qmp/commands";
import type { QmpEvent } from "../qemu/qmp/monitor";
import type { MigrationInfo, MigrationStats } from "../qemu/qmp/types";

/** A migration ended in `failed` or `cancelled`. */
export class MigrationError extends Error {
  override name = "MigrationError";
}

/**
 * How often a migration is queried when no MIGRATION event came: a VM launched by a serve before
 * every QEMU ran with `migration.x-events=on` sends none.
 */
const QUERY_WITHOUT_EVENTS_MS = 1_000;

/**
 * Wait until `done(info)` holds for the current migration; throws MigrationError when it failed,
 * Error at the deadline. Woken by QEMU's MIGRATION events (each followed by one query-migrate, so
 * the counters are current); the listener is in place before the first query, so an event that
 * comes before the wait starts is not lost. `spin` queries without pause instead: for the
 * background snapshot's capture, which no event marks and which the guest's pause waits on.
 */
export async function waitMigration(
  qmp: QmpCommands,
  done: (info: MigrationInfo) => boolean,
  opts: { timeoutMs: number; what: string; spin?: boolean },
): Promise<MigrationInfo> {
  const deadline = Date.now() + opts.timeoutMs;
  let changed = false;
  let wake = () => {};
  const onEvent = (ev: QmpEvent) => {
    if (ev.event !== "MIGRATION") return;
    changed = true;
    wake();
  };
  qmp.monitor.on("event", onEvent);
  try {
    for (;;) {
      changed = false;
      const info = await qmp.queryMigrate();
      if (info.status === "failed" || info.status === "cancelled")
        throw new MigrationError(`${opts.what} ${info.status}${info["error-desc"] ? `: ${info["error-desc"]}` : ""}`);
      if (done(info)) return info;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${opts.what} did not finish within ${opts.timeoutMs / 1000}s (status ${info.status ?? "none"})`);
      if (opts.spin || changed) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, QUERY_WITHOUT_EVENTS_MS));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = () => {};
    }
  } finally {
    qmp.monitor.off("event", onEvent);
  }
}

/** True once a migration completed. */
export const completed = (i: MigrationInfo) => i.status === "completed";

/**
 * True once a background snapshot has captured the device state and write-protected RAM: its
 * RAM iteration (pages counted) only starts after that, inside QEMU's own pause.
 */
export const captured = (i: MigrationInfo) =>
  i.status === "completed" || (i.status === "active" && ((i.ram?.normal ?? 0) + (i.ram?.duplicate ?? 0)) > 0);

/**
 * Milliseconds a RAM copy should still take: what is left at the pace of what was done in
 * `elapsedMs`; null before anything is done. The pace mixes zero pages (cheap) and data pages
 * (dear), so it is an estimate; callers treat it as a hint.
 */
export function copyEtaMs(ram: Pick<MigrationStats, "total" | "remaining">, elapsedMs: number): number | null {
  const done = ram.total - ram.remaining;
  if (done <= 0 || elapsedMs <= 0) return null;
  return Math.ceil((ram.remaining * elapsedMs) / done);
}
