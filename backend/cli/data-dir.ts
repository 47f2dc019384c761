/**
 * Where vmbranch keeps its state on this host: `--data-dir DIR`, else `$VMBRANCH_DATA_DIR`, else
 * `~/.vmbranch` (README.md, "Where state lives"). Shared by every subcommand (image, serve, …);
 * creating the directory is left to whoever writes into it.
 */
import os from "node:os";
import path from "node:path";

/** Environment variable naming the data directory. */
export const DATA_DIR_ENV = "VMBRANCH_DATA_DIR";

/** The data directory (absolute) from the `--data-dir` flag, the environment or the default. */
export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined && flag.length > 0) return path.resolve(flag);
  const fromEnv = env[DATA_DIR_ENV];
  if (fromEnv !== undefined && fromEnv.length > 0) return path.resolve(fromEnv);
  return path.join(env.HOME && env.HOME.length > 0 ? env.HOME : os.homedir(), ".vmbranch");
}
