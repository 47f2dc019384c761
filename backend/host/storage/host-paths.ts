/**
 * Checks for managed volumes (host directories shared into guests): the path must be an
 * existing directory, its real path must equal the given one (no symlink escapes), and it must
 * lie under a root the operator allowed with `--allow-host-path` (none by default).
 */
import { realpath, stat } from "node:fs/promises";
import { sep } from "node:path";

/** Why a host path was refused, or null when it is fine. Syntax (absolute, normalised) is checked earlier by the schema. */
export async function hostPathProblem(path: string, allowedRoots: readonly string[]): Promise<string | null> {
  if (allowedRoots.length === 0)
    return `host_path '${path}' is not allowed: this server allows no host paths (start it with --allow-host-path DIR)`;
  const inside = allowedRoots.some((root) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep));
  if (!inside) return `host_path '${path}' is outside the allowed roots: ${allowedRoots.join(", ")}`;
  let st;
  try {
    st = await stat(path);
  } catch {
    return `host_path '${path}' does not exist`;
  }
  if (!st.isDirectory()) return `host_path '${path}' is not a directory`;
  const real = await realpath(path);
  if (real !== path) return `host_path '${path}' resolves to '${real}' through a symbolic link; give the real path`;
  return null;
}
