/**
 * Writes initramfs archives in the cpio "newc" format the kernel unpacks at boot. Uncompressed on
 * purpose: decompression costs more than reading a few extra megabytes under TCG. Entries get
 * fixed owners (root) and mtime 0 so the same inputs always give the same bytes (stable digests,
 * and the build cache can compare them). Owns the format only; what goes in is the builder's.
 */

/** One archive member. Directories must come before their contents. */
export type CpioEntry =
  | { kind: "dir"; path: string; mode?: number }
  | { kind: "file"; path: string; data: Buffer; mode?: number }
  | { kind: "symlink"; path: string; target: string }
  | { kind: "chardev"; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const hex8 = (n: number) => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, "0");
};
const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** Encodes one newc record: 110-byte header, NUL-terminated name, body, each padded to 4 bytes. */
function record(ino: number, mode: number, name: string, body: Buffer, rdev: [number, number] = [0, 0]): Buffer {
  const nameBytes = Buffer.from(name + "\0", "utf8");
  const fields = [
    ino,
    mode,
    0, // uid
    0, // gid
    (mode & 0o170000) === S_IFDIR ? 2 : 1, // nlink: >1 on a file would make the kernel treat it as a hard link
    0, // mtime: fixed for reproducible archives
    body.length,
    0, // dev major
    0, // dev minor
    rdev[0],
    rdev[1],
    nameBytes.length,
    0, // check (unused by newc)
  ];
  const header = Buffer.from("070701" + fields.map(hex8).join(""), "ascii");
  return Buffer.concat([header, nameBytes, Buffer.alloc(pad4(header.length + nameBytes.length)), body, Buffer.alloc(pad4(body.length))]);
}

/** Builds a complete newc archive (with its TRAILER!!! record) from `entries`, in order. */
export function writeNewcArchive(entries: CpioEntry[]): Buffer {
  const seen = new Set<string>();
  const parts: Buffer[] = [];
  entries.forEach((e, i) => {
    const name = e.path.replace(/^\/+/, "");
    if (name === "" || name.split("/").some((p) => p === "" || p === "." || p === "..")) throw new Error(`bad cpio path '${e.path}'`);
    if (seen.has(name)) throw new Error(`duplicate cpio path '${name}'`);
    seen.add(name);
    const ino = i + 1;
    switch (e.kind) {
      case "dir":
        parts.push(record(ino, S_IFDIR | (e.mode ?? 0o755), name, Buffer.alloc(0)));
        break;
      case "file":
        parts.push(record(ino, S_IFREG | (e.mode ?? 0o644), name, e.data));
        break;
      case "symlink":
        parts.push(record(ino, S_IFLNK | 0o777, name, Buffer.from(e.target, "utf8")));
        break;
      case "chardev":
        parts.push(record(ino, S_IFCHR | (e.mode ?? 0o600), name, Buffer.alloc(0), [e.major, e.minor]));
        break;
    }
  });
  parts.push(record(0, 0, "TRAILER!!!", Buffer.alloc(0)));
  return Buffer.concat(parts);
}
