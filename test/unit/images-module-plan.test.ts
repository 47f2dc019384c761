// Kernel module metadata and load planning on small synthetic inputs: .modinfo parsing from a
// hand-made ELF64, dependency closure, topological levels, groups, cycles and missing modules.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { canonicalModuleName, elfSection, ModinfoError, parseModinfo, readModuleInfo, stripModuleSignature } from "../../backend/host/images/kernel-modinfo";
import { loadLevels, moduleClosure, ModulePlanError, moduleTreeLookup, planModuleGroups, renderModuleGroup, type ModuleLookup } from "../../backend/host/images/module-plan";

/** A minimal ELF64 little-endian file with the given sections (plus the null and .shstrtab ones). */
function fakeElf(sections: Record<string, Buffer>): Buffer {
  const names = ["", ...Object.keys(sections), ".shstrtab"];
  const nameOffsets: number[] = [];
  let strtab = "";
  for (const n of names) {
    nameOffsets.push(strtab.length);
    strtab += n + "\0";
  }
  const bodies = [Buffer.alloc(0), ...Object.values(sections), Buffer.from(strtab, "latin1")];
  const offsets: number[] = [];
  let at = 64;
  for (const b of bodies) {
    offsets.push(at);
    at += b.length;
  }
  const shoff = at + ((8 - (at % 8)) % 8);
  const header = Buffer.alloc(64);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = 2; // ELFCLASS64
  header[5] = 1; // little-endian
  header[6] = 1;
  header.writeUInt16LE(1, 0x10); // ET_REL, like a .ko
  header.writeUInt16LE(62, 0x12); // x86-64
  header.writeBigUInt64LE(BigInt(shoff), 0x28);
  header.writeUInt16LE(64, 0x34);
  header.writeUInt16LE(64, 0x3a);
  header.writeUInt16LE(names.length, 0x3c);
  header.writeUInt16LE(names.length - 1, 0x3e);
  const shdrs = Buffer.alloc(64 * names.length);
  names.forEach((_, i) => {
    shdrs.writeUInt32LE(nameOffsets[i]!, i * 64);
    shdrs.writeUInt32LE(i === 0 ? 0 : i === names.length - 1 ? 3 : 1, i * 64 + 4);
    shdrs.writeBigUInt64LE(BigInt(offsets[i]!), i * 64 + 24);
    shdrs.writeBigUInt64LE(BigInt(bodies[i]!.length), i * 64 + 32);
  });
  return Buffer.concat([header, ...bodies, Buffer.alloc(shoff - at), shdrs]);
}

/** A fake .ko whose .modinfo holds `entries` (NUL-separated, with padding like the real thing). */
function fakeModule(entries: string[]): Buffer {
  return fakeElf({ ".text": Buffer.from([0xc3]), ".modinfo": Buffer.from(entries.join("\0") + "\0\0\0", "latin1") });
}

function lookupOf(graph: Record<string, string[]>): ModuleLookup {
  return (name) => (graph[name] ? { name, depends: graph[name]!, file: `/x/${name}.ko` } : undefined);
}

describe("kernel-modinfo", () => {
  it("finds a section by name and parses NUL-separated key=value entries", () => {
    const ko = fakeModule(["license=GPL", "depends=virtio_ring,virtio", "name=virtio_pci", "alias=pci:v00001AF4d*", "alias=second"]);
    const info = parseModinfo(elfSection(ko, ".modinfo")!);
    expect(info.get("depends")).toEqual(["virtio_ring,virtio"]);
    expect(info.get("alias")).toEqual(["pci:v00001AF4d*", "second"]);
    expect(elfSection(ko, ".missing")).toBeUndefined();
  });

  it("reads name and dependencies, canonicalising dashes and dropping empty entries", () => {
    expect(readModuleInfo(fakeModule(["depends=crc-16,mbcache,,jbd2,mbcache", "name=ext4"]), "x")).toEqual({ name: "ext4", depends: ["crc_16", "mbcache", "jbd2"] });
    expect(readModuleInfo(fakeModule(["depends="]), "virtio-rng")).toEqual({ name: "virtio_rng", depends: [] });
  });

  it("rejects files that are not 64-bit little-endian ELF or lack .modinfo", () => {
    expect(() => elfSection(Buffer.from("not an elf at all, not at all, not at all, not at all, not at all"), ".modinfo")).toThrow(ModinfoError);
    const be = fakeModule(["name=a"]);
    be[5] = 2;
    expect(() => elfSection(be, ".modinfo")).toThrow(/little-endian/);
    expect(() => readModuleInfo(fakeElf({ ".text": Buffer.from([0]) }), "a")).toThrow(/no .modinfo/);
    expect(() => elfSection(fakeModule(["name=a"]).subarray(0, 100), ".modinfo")).toThrow(ModinfoError);
  });

  it("strips an appended module signature and leaves unsigned modules alone", () => {
    const ko = fakeModule(["name=a"]);
    const sig = Buffer.alloc(300, 0xab);
    const info = Buffer.alloc(12);
    info[2] = 2; // PKEY_ID_PKCS7
    info.writeUInt32BE(sig.length, 8);
    const signed = Buffer.concat([ko, sig, info, Buffer.from("~Module signature appended~\n")]);
    expect(stripModuleSignature(signed).equals(ko)).toBe(true);
    expect(stripModuleSignature(ko)).toBe(ko);
    const bogus = Buffer.concat([Buffer.alloc(12), Buffer.from("~Module signature appended~\n")]);
    bogus.writeUInt32BE(1000, 8);
    expect(() => stripModuleSignature(bogus)).toThrow(/corrupt/);
  });

  it("canonical names use underscores", () => {
    expect(canonicalModuleName("virtio-rng")).toBe("virtio_rng");
  });
});

describe("module-plan", () => {
  // Shaped like the real virtio/ext4 graph of the Debian 6.1 kernel.
  const graph = {
    virtio_ring: [],
    virtio: ["virtio_ring"],
    virtio_pci_modern_dev: [],
    virtio_pci_legacy_dev: [],
    virtio_pci: ["virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev"],
    virtio_blk: ["virtio", "virtio_ring"],
    failover: [],
    net_failover: ["failover"],
    virtio_net: ["virtio", "virtio_ring", "net_failover"],
    crc16: [],
    mbcache: [],
    jbd2: [],
    ext4: ["mbcache", "jbd2", "crc16"],
    crc32c_generic: [],
    button: [],
  };
  const lookup = lookupOf(graph);

  it("computes the dependency closure", () => {
    expect([...moduleClosure(["virtio_net"], lookup)].sort()).toEqual(["failover", "net_failover", "virtio", "virtio_net", "virtio_ring"]);
    expect([...moduleClosure(["virtio-blk"], lookup)].sort()).toEqual(["virtio", "virtio_blk", "virtio_ring"]);
  });

  it("orders dependencies first: virtio_ring before virtio before virtio_pci", () => {
    const levels = loadLevels(moduleClosure(["virtio_pci", "virtio_blk"], lookup), lookup);
    expect(levels).toEqual([["virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_ring"], ["virtio"], ["virtio_blk", "virtio_pci"]]);
    const order = levels.flat();
    for (const [mod, deps] of Object.entries(graph)) {
      if (!order.includes(mod)) continue;
      for (const d of deps) expect(order.indexOf(d)).toBeLessThan(order.indexOf(mod));
    }
  });

  it("puts a module one level above its deepest dependency", () => {
    const chain = lookupOf({ a: [], b: ["a"], c: ["b"], d: ["a", "c"] });
    expect(loadLevels(["d", "c", "b", "a"], chain)).toEqual([["a"], ["b"], ["c"], ["d"]]);
  });

  it("leaves out what earlier groups load and plans the rest", () => {
    const plans = planModuleGroups(
      [
        { name: "core", modules: ["virtio_pci", "virtio_blk", "button"] },
        { name: "fs-ext4", modules: ["ext4", "crc32c_generic"] },
        { name: "again", modules: ["virtio_blk"] },
      ],
      lookup,
    );
    expect(plans.map((p) => p.name)).toEqual(["core", "fs-ext4", "again"]);
    expect(plans[1]!.levels).toEqual([["crc16", "crc32c_generic", "jbd2", "mbcache"], ["ext4"]]);
    expect(plans[2]!.levels).toEqual([]);
    const order = plans.flatMap((p) => p.levels.flat());
    expect(new Set(order).size).toBe(order.length);
    expect(renderModuleGroup(plans[1]!)).toBe("crc16 crc32c_generic jbd2 mbcache\next4\n");
  });

  it("names a missing module and who needs it", () => {
    const broken = lookupOf({ a: ["ghost"] });
    expect(() => moduleClosure(["a"], broken)).toThrow(new ModulePlanError("kernel module 'ghost' not found (needed by a)"));
    expect(() => moduleClosure(["nope"], broken)).toThrow(/'nope' not found/);
  });

  it("detects cycles and unplanned dependencies", () => {
    const cyclic = lookupOf({ a: ["b"], b: ["c"], c: ["a"] });
    expect(() => loadLevels(["a", "b", "c"], cyclic)).toThrow(/cycle/);
    expect(() => loadLevels(["b"], lookupOf({ a: [], b: ["a"] }))).toThrow(/not planned/);
  });

  it("indexes a module tree by file name and reads .modinfo lazily", () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "vmbranch-modtree-"));
    try {
      mkdirSync(path.join(root, "kernel/drivers/char/hw_random"), { recursive: true });
      mkdirSync(path.join(root, "kernel/drivers/virtio"), { recursive: true });
      writeFileSync(path.join(root, "kernel/drivers/char/hw_random/virtio-rng.ko"), fakeModule(["depends=virtio_ring,virtio", "name=virtio_rng"]));
      writeFileSync(path.join(root, "kernel/drivers/virtio/virtio.ko"), fakeModule(["depends=virtio_ring", "name=virtio"]));
      writeFileSync(path.join(root, "kernel/drivers/virtio/virtio_ring.ko"), fakeModule(["depends=", "name=virtio_ring"]));
      writeFileSync(path.join(root, "kernel/drivers/virtio/broken.ko"), "garbage");
      const tree = moduleTreeLookup(root);
      expect(tree("virtio-rng")).toMatchObject({ name: "virtio_rng", depends: ["virtio_ring", "virtio"] });
      expect(tree("virtio_rng")!.file).toMatch(/hw_random\/virtio-rng\.ko$/);
      expect(tree("absent")).toBeUndefined();
      expect(loadLevels(moduleClosure(["virtio_rng"], tree), tree)).toEqual([["virtio_ring"], ["virtio"], ["virtio_rng"]]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
