/**
 * Reads the `.modinfo` section of Linux kernel modules (.ko, ELF64 little-endian) without kmod:
 * the Debian kernel package ships no modules.dep, so the image builder derives dependencies from
 * each module's own `depends=` entry. Owns ELF section lookup and modinfo parsing; choosing and
 * ordering modules is module-plan.ts.
 */

/** What the builder needs to know about one module. */
export interface ModuleInfo {
  /** Module name as the kernel knows it (`name=`, always with underscores). */
  name: string;
  /** Names of modules that must be loaded first (`depends=`), underscores. */
  depends: string[];
}

/** Thrown when a file is not a module we can read. */
export class ModinfoError extends Error {
  override name = "ModinfoError";
}

/** Kernel module names treat `-` and `_` alike; this is the canonical (underscore) spelling. */
export function canonicalModuleName(name: string): string {
  return name.replace(/-/g, "_");
}

/** Returns the bytes of ELF64 section `wanted`, or undefined when absent. Throws on non-ELF64-LE input. */
export function elfSection(elf: Buffer, wanted: string): Buffer | undefined {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) throw new ModinfoError("not an ELF file");
  // EI_CLASS 2 = 64-bit, EI_DATA 1 = little-endian: the only layout x86-64 modules use.
  if (elf[4] !== 2 || elf[5] !== 1) throw new ModinfoError("not a 64-bit little-endian ELF file");
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  if (shentsize < 64 || shoff + shnum * shentsize > elf.length || shstrndx >= shnum) {
    throw new ModinfoError("truncated ELF section table");
  }
  const header = (i: number) => {
    const at = shoff + i * shentsize;
    const offset = Number(elf.readBigUInt64LE(at + 24));
    const size = Number(elf.readBigUInt64LE(at + 32));
    if (offset + size > elf.length) throw new ModinfoError("ELF section beyond end of file");
    return { nameOffset: elf.readUInt32LE(at), offset, size };
  };
  const strtab = header(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    const start = strtab.offset + h.nameOffset;
    const end = elf.indexOf(0, start);
    if (end < 0) continue;
    if (elf.toString("latin1", start, end) === wanted) return elf.subarray(h.offset, h.offset + h.size);
  }
  return undefined;
}

/** Parses a `.modinfo` section (NUL-separated `key=value`) into key → values, in order. */
export function parseModinfo(section: Buffer): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const entry of section.toString("latin1").split("\0")) {
    const eq = entry.indexOf("=");
    if (eq <= 0) continue; // alignment padding between entries
    const key = entry.slice(0, eq);
    const list = out.get(key) ?? [];
    list.push(entry.slice(eq + 1));
    out.set(key, list);
  }
  return out;
}

/**
 * Reads name and dependencies of a module image. `fallbackName` (usually from the file name) is
 * used when the module has no `name=` entry, which older kernels omit.
 */
export function readModuleInfo(ko: Buffer, fallbackName: string): ModuleInfo {
  const section = elfSection(ko, ".modinfo");
  if (!section) throw new ModinfoError(`${fallbackName}: no .modinfo section`);
  const info = parseModinfo(section);
  const name = canonicalModuleName(info.get("name")?.[0] ?? fallbackName);
  const depends = (info.get("depends") ?? [])
    .flatMap((d) => d.split(","))
    .map((d) => d.trim())
    .filter((d) => d.length > 0)
    .map(canonicalModuleName);
  return { name, depends: [...new Set(depends)] };
}

/** Marker the kernel's sign-file appends after a module's signature. */
const SIGNATURE_MARKER = Buffer.from("~Module signature appended~\n", "latin1");
/** sizeof(struct module_signature): algo, hash, id_type, signer_len, key_id_len, pad[3], be32 sig_len. */
const SIGNATURE_INFO_SIZE = 12;

/**
 * Returns the module without its appended signature (or unchanged when unsigned). The guest
 * kernel then skips hashing and RSA-verifying each module at insmod, which is slow under TCG; it
 * loads unsigned modules anyway (no `module.sig_enforce`), marking itself tainted ("E").
 */
export function stripModuleSignature(ko: Buffer): Buffer {
  const markerAt = ko.length - SIGNATURE_MARKER.length;
  if (markerAt < SIGNATURE_INFO_SIZE || !ko.subarray(markerAt).equals(SIGNATURE_MARKER)) return ko;
  const info = ko.subarray(markerAt - SIGNATURE_INFO_SIZE, markerAt);
  const sigLen = info.readUInt32BE(8) + info[3]! + info[4]!; // signature + signer name + key id
  const end = markerAt - SIGNATURE_INFO_SIZE - sigLen;
  if (end <= 0) throw new ModinfoError("corrupt module signature trailer");
  return ko.subarray(0, end);
}
