/**
 * The guard against starting on a data dir whose state database is gone while the files it
 * described are still there. Opening the store creates an empty state, and the start-up sweep then
 * takes every disk and snapshot no process holds open for debris and deletes it: a lost or
 * misplaced `vmbranch.db` must stop serve instead, before anything in the data dir changes.
 */
import { existsSync, readdirSync } from "node:fs";

/** Where a data dir keeps what its state describes. */
export interface StateDirs {
  disksDir: string;
  snapshotsDir: string;
  runDir: string;
}

/** The state database is missing but the files it described are not. */
export class StateMissing extends Error {
  override name = "StateMissing";
}

/** Entries of `dir` (none when it does not exist yet). */
function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Throws StateMissing when `dbFile` does not exist while `dirs` hold disks, snapshots or VM run directories. */
export function refuseLostState(dbFile: string, dirs: StateDirs): void {
  if (!existsSync(dbFile)) refuseEmptyState(`the state database ${dbFile} is missing`, dirs);
}

/** Throws StateMissing, saying `what` about the state, when `dirs` hold disks, snapshots or VM run directories. */
export function refuseEmptyState(what: string, dirs: StateDirs): void {
  const disks = entries(dirs.disksDir).filter((f) => f.endsWith(".qcow2")).length;
  const snapshots = entries(dirs.snapshotsDir).length;
  const vms = entries(dirs.runDir).length;
  if (disks + snapshots + vms === 0) return;
  const held = [[disks, "disk file"], [snapshots, "snapshot file"], [vms, "VM run directory"]]
    .filter(([n]) => (n as number) > 0)
    .map(([n, thing]) => `${n} ${thing}${n === 1 ? "" : "s"}`)
    .join(", ");
  throw new StateMissing(
    `${what}, but its data dir still holds ${held}: ` +
      "starting would record an empty state and delete them as debris. Put the database back " +
      "(docs/operations.md, \"Losing the state\"), or move disks/, snapshots/ and run/ away to start empty; nothing in the data dir was changed",
  );
}
