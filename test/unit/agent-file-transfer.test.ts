// Files sent between hosts (backend/agent/file-paths.ts, backend/host/storage/local-storage.ts):
// the agent's file routes reach only disk, RAM and device-state files directly inside the
// directories it keeps; a file is written under a part name and counted by its size; the part
// files a dead writer left are swept, and nothing else is.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { filePathProblem } from "../../backend/agent/file-paths";
import { LocalStorage, PART_FILE_NAME, removePartFiles } from "../../backend/host/storage/local-storage";

const DIRS = ["/var/lib/vmbranch/disks", "/var/lib/vmbranch/run", "/var/lib/vmbranch/snapshots", "/var/lib/vmbranch/tmp", "/dev/shm/vmbranch-ram"];
const refusal = (p: string) => `file path '${p}' is not a disk, RAM or device-state file in a directory this agent keeps for its control plane`;

describe("the paths the agent's file routes accept", () => {
  it.each([
    "/var/lib/vmbranch/disks/4f0c9a.qcow2",
    "/dev/shm/vmbranch-ram/4f0c9a.ram",
    "/var/lib/vmbranch/snapshots/4f0c9a.devstate",
  ])("accepts %s", (p) => expect(filePathProblem(p, DIRS)).toBeNull());

  it.each([
    ["a file outside the prepared directories", "/etc/passwd"],
    ["a data file outside them", "/root/x.qcow2"],
    ["a path through ..", "/var/lib/vmbranch/disks/../../../../etc/x.qcow2"],
    ["a path that comes back through ..", "/var/lib/vmbranch/run/../disks/x.qcow2"],
    ["a doubled slash", "/var/lib/vmbranch//disks/x.qcow2"],
    ["a . segment", "/var/lib/vmbranch/disks/./x.qcow2"],
    ["a trailing slash", "/var/lib/vmbranch/disks/x.qcow2/"],
    ["a relative path", "disks/x.qcow2"],
    ["a subdirectory of a prepared directory", "/var/lib/vmbranch/run/vm-1/x.qcow2"],
    ["another suffix", "/var/lib/vmbranch/disks/x.img"],
    ["a part file", "/var/lib/vmbranch/disks/x.qcow2.part-12-ab"],
    ["a bare suffix", "/var/lib/vmbranch/disks/.qcow2"],
    ["a prepared directory itself", "/var/lib/vmbranch/disks"],
    ["the directory of the prepared ones", "/var/lib/vmbranch"],
  ])("refuses %s", (_what, p) => expect(filePathProblem(p, DIRS)).toBe(refusal(p)));

  it("refuses everything before any directory is prepared", () => {
    expect(filePathProblem("/var/lib/vmbranch/disks/x.qcow2", [])).toBe(refusal("/var/lib/vmbranch/disks/x.qcow2"));
  });
});

describe("files written from another host", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "vmbranch-unit-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes under a part name the sweep knows, then renames, and counts the bytes written", async () => {
    const input = new PassThrough();
    const target = join(dir, "a.qcow2");
    const written = new LocalStorage(null).writeFile(target, input, 70_005);
    input.write(Buffer.alloc(70_000, 1));
    const deadline = Date.now() + 5_000;
    while (readdirSync(dir).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const [part] = readdirSync(dir);
    expect(part).toMatch(/^a\.qcow2\.part-/);
    expect(part).toMatch(PART_FILE_NAME);
    input.end(Buffer.alloc(5, 2));
    expect(await written).toBe(70_005);
    expect(readdirSync(dir)).toEqual(["a.qcow2"]);
    expect(readFileSync(target).length).toBe(70_005);
  });

  it("keeps no file when the sender stops short of the length it announced, nor one that looks whole", async () => {
    const input = new PassThrough();
    const target = join(dir, "b.ram");
    const written = new LocalStorage(null).writeFile(target, input, 10_000);
    input.end(Buffer.alloc(4_000, 1));
    await expect(written).rejects.toThrow(`received 4000 of the 10000 bytes of ${target}: the sender stopped short`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("reads a file with its length", async () => {
    const source = join(dir, "c.devstate");
    writeFileSync(source, Buffer.alloc(12_345, 3));
    const file = await new LocalStorage(null).openRead(source);
    expect(file.bytes).toBe(12_345);
    const chunks: Buffer[] = [];
    for await (const c of file.stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).length).toBe(12_345);
    await expect(new LocalStorage(null).openRead(join(dir, "missing.ram"))).rejects.toThrow(/ENOENT/);
  });

  it("sweeps the part files directly inside the directories given, and nothing else", async () => {
    const disks = join(dir, "disks");
    const ram = join(dir, "ram");
    mkdirSync(join(disks, "sub"), { recursive: true });
    mkdirSync(ram);
    for (const f of ["a.qcow2", "a.qcow2.part-123-k3x9", "sub/b.qcow2.part-1-ab", "notes.part-x", "c.qcow2.part-12-ab.keep"]) writeFileSync(join(disks, f), "x");
    mkdirSync(join(disks, "d.qcow2.part-7-ab"));
    writeFileSync(join(ram, "r.ram.part-99-0f"), "x");
    const warnings: string[] = [];
    expect(await removePartFiles([disks, ram, join(dir, "missing")], (m) => warnings.push(m))).toBe(2);
    expect(readdirSync(disks).sort()).toEqual(["a.qcow2", "c.qcow2.part-12-ab.keep", "d.qcow2.part-7-ab", "notes.part-x", "sub"]);
    expect(readdirSync(join(disks, "sub"))).toEqual(["b.qcow2.part-1-ab"]);
    expect(readdirSync(ram)).toEqual([]);
    expect(warnings).toEqual([]);
  });
});
