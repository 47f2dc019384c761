/**
 * Which paths the agent's file routes (a layer or a memory snapshot sent to or from another host)
 * may read or write: a disk, RAM or device-state file directly inside a directory the control
 * plane had the agent prepare. The token stays the boundary; this keeps a caller that has it
 * (or a bug in core) from reading or replacing anything else the agent's user can reach.
 */
import { basename, dirname, resolve } from "node:path";

/** The suffixes of the files hosts send each other: disk layers, RAM images, device state. */
export const TRANSFER_SUFFIXES = [".qcow2", ".ram", ".devstate"] as const;

/** Why the file routes refuse `path` given the prepared directories `dirs`, or null when they accept it. */
export function filePathProblem(path: string, dirs: readonly string[]): string | null {
  // Only a path already in normal form: what is checked is then exactly what is opened (no `..`,
  // `.`, doubled or trailing slash to read one way here and another in the filesystem).
  const normal = path.startsWith("/") && resolve(path) === path;
  const name = basename(path);
  const dataFile = TRANSFER_SUFFIXES.some((s) => name.endsWith(s) && name.length > s.length);
  const prepared = dirs.some((d) => resolve(d) === dirname(path));
  if (normal && dataFile && prepared) return null;
  return `file path '${path}' is not a disk, RAM or device-state file in a directory this agent keeps for its control plane`;
}
