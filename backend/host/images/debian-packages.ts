/**
 * The Debian side of the image build: which package versions the host's apt would pick
 * (`apt-cache depends` / `apt-cache policy`: the candidate, i.e. what `apt-get download` fetches),
 * downloading them into a cache and unpacking them. Owns parsing apt's output; which packages an
 * image needs is base-image-spec.ts.
 */
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, existsSync, unlinkSync } from "node:fs";
import path from "node:path";
import { run } from "../util/exec";

/** A package at an exact version. */
export interface PackagePin {
  name: string;
  version: string;
}

/** Thrown when apt cannot tell or fetch what the build needs (missing lists, unknown package). */
export class PackageResolveError extends Error {
  override name = "PackageResolveError";
}

// apt's messages are localised; we parse them, so force the C locale.
const aptEnv = () => ({ ...process.env, LC_ALL: "C", LANG: "C" });

/** Parses `apt-cache policy A B…` into package → candidate version (packages without one are left out). */
export function parseAptPolicy(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split("\n")) {
    const head = /^(\S+):$/.exec(line);
    if (head) {
      current = head[1];
      continue;
    }
    const cand = /^\s+Candidate:\s+(\S+)/.exec(line);
    if (cand && current && cand[1] !== "(none)") out.set(current, cand[1]!);
  }
  return out;
}

/** Parses `apt-cache depends PKG` into the names PKG depends on (first alternative of each). */
export function parseAptDepends(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s+\|?(?:Pre)?Depends:\s+(\S+)/.exec(line);
    // "<virtual>" entries name no real package.
    if (m && !m[1]!.startsWith("<")) out.push(m[1]!);
  }
  return out;
}

/** Candidate versions of `names`; throws PackageResolveError naming those apt does not know. */
export async function candidateVersions(names: string[]): Promise<PackagePin[]> {
  const policy = parseAptPolicy(await run("apt-cache", ["policy", ...names], { env: aptEnv() }));
  const missing = names.filter((n) => !policy.has(n));
  if (missing.length > 0) {
    throw new PackageResolveError(`apt has no candidate for ${missing.join(", ")} (run apt-get update?)`);
  }
  return names.map((name) => ({ name, version: policy.get(name)! }));
}

/** The versioned package a meta package (e.g. linux-image-amd64) currently depends on, matching `pattern`. */
export async function resolveMetaPackage(meta: string, pattern: RegExp): Promise<string> {
  let text: string;
  try {
    text = await run("apt-cache", ["depends", meta], { env: aptEnv() });
  } catch (e) {
    throw new PackageResolveError(`cannot resolve ${meta}: ${(e as Error).message}`);
  }
  const dep = parseAptDepends(text).find((d) => pattern.test(d));
  if (!dep) throw new PackageResolveError(`${meta} depends on no package matching ${pattern} (run apt-get update?)`);
  return dep;
}

/** File name of a pinned package in the download cache (`:` of epochs is not portable). */
export function debFileName(pin: PackagePin): string {
  return `${pin.name}_${pin.version.replace(/:/g, "%3a")}_amd64.deb`;
}

/** Downloads `pin` into `cacheDir` unless it is already there; returns the .deb path. */
export async function downloadPackage(pin: PackagePin, cacheDir: string): Promise<string> {
  const target = path.join(cacheDir, debFileName(pin));
  if (existsSync(target)) return target;
  mkdirSync(cacheDir, { recursive: true });
  // Download into a private directory and rename: an interrupted download never looks cached.
  const tmp = mkdtempSync(path.join(cacheDir, ".download-"));
  try {
    // As root apt drops to the _apt user, which cannot write our directory; stay root instead.
    const sandbox = process.getuid?.() === 0 ? ["-o", "APT::Sandbox::User=root"] : [];
    await run("apt-get", [...sandbox, "-q", "download", `${pin.name}=${pin.version}`], { cwd: tmp, env: aptEnv() });
    const debs = readdirSync(tmp).filter((f) => f.endsWith(".deb"));
    if (debs.length !== 1) throw new PackageResolveError(`apt-get download ${pin.name}=${pin.version} produced ${debs.length} files`);
    renameSync(path.join(tmp, debs[0]!), target);
    return target;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Removes cached .debs that are not in `keep` (old kernels are ~70 MB each). */
export function pruneDownloads(cacheDir: string, keep: PackagePin[]): void {
  if (!existsSync(cacheDir)) return;
  const wanted = new Set(keep.map(debFileName));
  for (const f of readdirSync(cacheDir)) {
    if (f.endsWith(".deb") && !wanted.has(f)) unlinkSync(path.join(cacheDir, f));
  }
}

/** Unpacks the data of a .deb into `dir` (created if needed). */
export async function extractPackage(deb: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await run("dpkg-deb", ["-x", deb, dir]);
}
