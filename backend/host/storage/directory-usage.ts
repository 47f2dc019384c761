/**
 * How much a directory tree holds: files and the bytes allocated to them (what a tmpfs such as the
 * RAM directory really costs in memory, which sparse RAM images make smaller than their length).
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

/** Files and allocated bytes under `dir` (0 when it does not exist); links are not followed. */
export async function directoryUsage(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (err) {
      // A snapshot released while we walk takes its files with it.
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const st = await lstat(p).catch(() => null);
        if (!st) continue;
        files += 1;
        bytes += st.blocks * 512;
      }
    }
  };
  await walk(dir);
  return { files, bytes };
}
