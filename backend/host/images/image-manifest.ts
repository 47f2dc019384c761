/**
 * The image manifest (`<image>/manifest.json`) and the build cache key. The manifest records what
 * an image is (kernel and initrd hashes, kernel version, features, command line) and what it was
 * built from (`inputs`); a build whose inputs hash equals the manifest's is a no-op. Owns the
 * format and its validation; writing the image files is the builder's.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { PackagePin } from "./debian-packages";
import type { ModuleGroupPlan, ModuleGroupSpec } from "./module-plan";

/** Manifest file name inside an image directory. */
export const MANIFEST_FILE = "manifest.json";
/** Version of the manifest layout; readers ignore manifests of another format. */
export const MANIFEST_FORMAT = 1;

/** Everything that determines a build's output; its hash is the cache key. */
export interface BuildInputs {
  builder_version: number;
  packages: PackagePin[];
  guest_files_sha256: string;
  module_groups: ModuleGroupSpec[];
  kernel_cmdline: string;
}

/** A file of the image with its size and hash. */
export interface ImageFileRecord {
  file: string;
  sha256: string;
  size: number;
}

/** Contents of manifest.json. */
export interface ImageManifest {
  format: typeof MANIFEST_FORMAT;
  name: string;
  /** `sha256:<hex>` over kernel, initrd and command line: identifies what boots. */
  digest: string;
  kernel: ImageFileRecord & { version: string; boot: "pvh" };
  initrd: ImageFileRecord & { format: "newc" };
  kernel_cmdline: string;
  packages: PackagePin[];
  features: string[];
  modules: ModuleGroupPlan[];
  inputs: BuildInputs;
  inputs_hash: string;
  builder_version: number;
  created_at: string;
}

/** JSON with object keys sorted at every level, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** The build cache key: sha256 of the canonical JSON of `inputs` (package order does not matter). */
export function inputsHash(inputs: BuildInputs): string {
  const packages = [...inputs.packages].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return createHash("sha256").update(canonicalJson({ ...inputs, packages })).digest("hex");
}

/** The image digest from the kernel and initrd hashes and the command line. */
export function imageDigest(kernelSha256: string, initrdSha256: string, cmdline: string): string {
  return "sha256:" + createHash("sha256").update(`${kernelSha256}\n${initrdSha256}\n${cmdline}\n`).digest("hex");
}

/** Thrown when a manifest is unreadable or does not describe a usable image. */
export class ManifestError extends Error {
  override name = "ManifestError";
}

/** Checks the shape of parsed manifest JSON; throws ManifestError. */
export function validateManifest(value: unknown): ImageManifest {
  const m = value as Partial<ImageManifest> | null;
  if (!m || typeof m !== "object") throw new ManifestError("manifest is not an object");
  if (m.format !== MANIFEST_FORMAT) throw new ManifestError(`unsupported manifest format ${String(m.format)}`);
  const isRecord = (r: unknown): r is ImageFileRecord =>
    !!r && typeof r === "object" && typeof (r as ImageFileRecord).file === "string" && /^[0-9a-f]{64}$/.test((r as ImageFileRecord).sha256) && Number.isInteger((r as ImageFileRecord).size);
  if (typeof m.name !== "string" || typeof m.digest !== "string" || typeof m.inputs_hash !== "string") throw new ManifestError("manifest lacks name, digest or inputs_hash");
  if (!isRecord(m.kernel) || typeof m.kernel.version !== "string" || !isRecord(m.initrd)) throw new ManifestError("manifest lacks kernel or initrd");
  if (typeof m.kernel_cmdline !== "string" || !Array.isArray(m.features) || typeof m.created_at !== "string") throw new ManifestError("manifest lacks kernel_cmdline, features or created_at");
  // Image files live inside the image directory; a manifest must not point elsewhere.
  for (const f of [m.kernel.file, m.initrd.file]) if (f.includes("/") || f.startsWith(".")) throw new ManifestError(`bad file name '${f}' in manifest`);
  return m as ImageManifest;
}

/** Reads `<dir>/manifest.json`; undefined when absent, ManifestError when present but invalid. */
export function readManifest(dir: string): ImageManifest | undefined {
  const file = path.join(dir, MANIFEST_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return validateManifest(JSON.parse(readFileSync(file, "utf8")));
  } catch (e) {
    if (e instanceof ManifestError) throw e;
    throw new ManifestError(`${file}: ${(e as Error).message}`);
  }
}

/** True when the image in `dir` was built from inputs hashing to `hash` and its files are intact (by size). */
export function isBuildCurrent(dir: string, hash: string): boolean {
  let m: ImageManifest | undefined;
  try {
    m = readManifest(dir);
  } catch {
    return false; // an unreadable manifest means: rebuild
  }
  if (!m || m.inputs_hash !== hash) return false;
  return [m.kernel, m.initrd].every((r) => {
    const p = path.join(dir, r.file);
    return existsSync(p) && statSync(p).size === r.size;
  });
}
