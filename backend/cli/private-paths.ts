/**
 * The private files of `vmbranch serve` and the checks that keep them private: directories 0700
 * and files 0600, owned by the service's user, never reached through a symbolic link, and fixed at
 * every start (a directory an earlier `vmbranch image build` created 0755 is tightened). Also
 * where RAM images live: a directory under /dev/shm made with mkdtemp (a name nobody can
 * predict or pre-create) whose path is recorded in the data dir, and re-verified at each start.
 */
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync, type Stats } from "node:fs";
import { join } from "node:path";

/** A private path exists but is not what the service created (wrong kind, owner or a symlink). */
export class PrivatePathError extends Error {
  override name = "PrivatePathError";
}

function ourUid(): number | undefined {
  return process.getuid?.();
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** Why `st` is not a private entry of kind `kind` owned by us, or null when it is. */
function problem(path: string, st: Stats, kind: "directory" | "file"): string | null {
  if (st.isSymbolicLink()) return `'${path}' is a symbolic link`;
  if (kind === "directory" ? !st.isDirectory() : !st.isFile()) return `'${path}' is not a ${kind}`;
  const uid = ourUid();
  if (uid !== undefined && st.uid !== uid) return `'${path}' belongs to uid ${st.uid}, not to this service (uid ${uid})`;
  return null;
}

/** Creates `dir` (0700) or checks an existing one (ours, a real directory) and sets its mode to 0700. */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const why = problem(dir, lstatSync(dir), "directory");
  if (why) throw new PrivatePathError(`${why}; vmbranch keeps its state only in directories it owns`);
  chmodSync(dir, 0o700);
}

/** Sets an existing private file to 0600 after checking it is ours and not a link; a missing file is fine. */
export function privateFile(path: string): void {
  const st = lstatOrNull(path);
  if (!st) return;
  const why = problem(path, st, "file");
  if (why) throw new PrivatePathError(`${why}; refusing to use it`);
  chmodSync(path, 0o600);
}

/** Reads a private file (checked as privateFile), or null when it does not exist. */
export function readPrivateFile(path: string): string | null {
  if (!lstatOrNull(path)) return null;
  privateFile(path);
  return readFileSync(path, "utf8");
}

/** Writes a private file atomically (0600, through a temporary name in the same directory). */
export function writePrivateFile(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600, flag: "w" });
  renameSync(tmp, path);
}

/** True when `dir` is a directory we own with no access for group or others (and not a symlink). */
function isOurPrivateDir(dir: string): boolean {
  const st = lstatOrNull(dir);
  return st !== null && problem(dir, st, "directory") === null && (st.mode & 0o077) === 0;
}

/**
 * The RAM directory of `dataDir`: the one recorded in `<dataDir>/ram-dir` while it is still ours
 * (0700, not a link), else a new mkdtemp one under `tmpfsRoot` (recorded), else `<dataDir>/ram`
 * when `tmpfsRoot` is not usable. `log` hears about a replaced directory.
 */
export function resolveRamDir(dataDir: string, tmpfsRoot: string | null, log: (msg: string) => void = () => {}): string {
  const record = join(dataDir, "ram-dir");
  const recorded = readPrivateFile(record)?.trim();
  if (recorded && isOurPrivateDir(recorded)) return recorded;
  if (recorded) log(`RAM directory '${recorded}' is gone or no longer private; memory snapshots recorded in it are lost`);
  if (tmpfsRoot !== null) {
    try {
      const dir = mkdtempSync(join(tmpfsRoot, "vmbranch-"));
      chmodSync(dir, 0o700);
      writePrivateFile(record, dir + "\n");
      return dir;
    } catch {
      /* tmpfs not writable: fall through to the data dir */
    }
  }
  const dir = join(dataDir, "ram");
  privateDir(dir);
  writePrivateFile(record, dir + "\n");
  return dir;
}
