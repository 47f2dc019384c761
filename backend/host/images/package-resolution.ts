/**
 * Which Debian package versions the `base` image is built from, asked from apt only when apt's
 * state changed. `apt-cache` needs about half a second of CPU per call (more on a busy host), which
 * would dominate a no-op `vmbranch image build`; its answer cannot change while the package lists
 * and apt's configuration are unchanged, so it is remembered under a fingerprint of those files.
 * Owns the fingerprint and the remembered answer; asking apt is debian-packages.ts.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { candidateVersions, resolveMetaPackage, type PackagePin } from "./debian-packages";

/** apt files whose changes can change a candidate version (relative to the file-system root). */
const APT_STATE_PATHS = ["var/lib/apt/lists", "etc/apt/sources.list", "etc/apt/sources.list.d", "etc/apt/preferences", "etc/apt/preferences.d", "etc/apt/apt.conf", "etc/apt/apt.conf.d"];

/**
 * A fingerprint of apt's package lists and configuration (names, sizes, mtimes) under `root`;
 * undefined when there are no package lists at all (then apt is always asked).
 */
export function aptStateFingerprint(root = "/"): string | undefined {
  if (!existsSync(path.join(root, "var/lib/apt/lists"))) return undefined;
  const h = createHash("sha256");
  const add = (rel: string) => {
    const p = path.join(root, rel);
    let st;
    try {
      st = statSync(p);
    } catch {
      h.update(`${rel}\0absent\n`);
      return;
    }
    if (st.isDirectory()) {
      // `partial` holds downloads in progress, `lock` changes on every apt run: neither is state.
      for (const f of readdirSync(p).sort()) if (f !== "partial" && f !== "lock") add(path.join(rel, f));
    } else {
      h.update(`${rel}\0${st.size}\0${st.mtimeMs}\n`);
    }
  };
  for (const rel of APT_STATE_PATHS) add(rel);
  return h.digest("hex");
}

/** What base needs from apt: the kernel package the meta package points at, and busybox. */
export interface PackageQuery {
  metaPackage: string;
  metaPattern: RegExp;
  /** Packages resolved by name, in addition to the kernel. */
  others: string[];
}

/** Asks apt: the versioned kernel package behind the meta package, then candidate versions. */
export async function askApt(query: PackageQuery): Promise<PackagePin[]> {
  const kernel = await resolveMetaPackage(query.metaPackage, query.metaPattern);
  return candidateVersions([kernel, ...query.others]);
}

interface RememberedResolution {
  fingerprint: string;
  query: string;
  packages: PackagePin[];
}

const queryKey = (q: PackageQuery) => JSON.stringify([q.metaPackage, q.metaPattern.source, q.others]);

/**
 * The pinned packages for `query`: the answer remembered in `cacheFile` when apt's fingerprint
 * and the query are unchanged, otherwise `ask()`'s (which is then remembered).
 */
export async function resolvePackages(
  query: PackageQuery,
  cacheFile: string,
  opts: { fingerprint?: string | undefined; ask?: (q: PackageQuery) => Promise<PackagePin[]> } = {},
): Promise<PackagePin[]> {
  const fingerprint = "fingerprint" in opts ? opts.fingerprint : aptStateFingerprint();
  const ask = opts.ask ?? askApt;
  if (fingerprint !== undefined) {
    try {
      const r = JSON.parse(readFileSync(cacheFile, "utf8")) as RememberedResolution;
      if (r.fingerprint === fingerprint && r.query === queryKey(query) && Array.isArray(r.packages)) return r.packages;
    } catch {
      // Absent or unreadable: ask apt.
    }
  }
  const packages = await ask(query);
  if (fingerprint !== undefined) {
    mkdirSync(path.dirname(cacheFile), { recursive: true });
    // Write and rename, so a concurrent reader never sees half a file.
    const tmp = `${cacheFile}.${randomBytes(4).toString("hex")}`;
    writeFileSync(tmp, JSON.stringify({ fingerprint, query: queryKey(query), packages } satisfies RememberedResolution, null, 2) + "\n");
    renameSync(tmp, cacheFile);
  }
  return packages;
}
