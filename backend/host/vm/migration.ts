/**
 * Small waits over QMP migration status, shared by the snapshot pipeline and restores.
 */
import type { QmpCommands } from "../qemu/qmp/commands";
import type { MigrationInfo } from "../qemu/qmp/types";

/** A migration ended in `failed` or `cancelled`. */
export class MigrationError extends Error {
  override name = "MigrationError";
}

/** Poll `query-migrate` until `done(info)` holds; throws MigrationError on failure, Error on timeout. */
export async function waitMigration(
  qmp: QmpCommands,
  done: (info: MigrationInfo) => boolean,
  opts: { timeoutMs: number; pollMs: number; what: string },
): Promise<MigrationInfo> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const info = await qmp.queryMigrate();
    if (info.status === "failed" || info.status === "cancelled")
      throw new MigrationError(`${opts.what} ${info.status}${info["error-desc"] ? `: ${info["error-desc"]}` : ""}`);
    if (done(info)) return info;
    if (Date.now() > deadline) throw new Error(`${opts.what} did not finish within ${opts.timeoutMs / 1000}s (status ${info.status ?? "none"})`);
    if (opts.pollMs > 0) await new Promise((r) => setTimeout(r, opts.pollMs));
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
