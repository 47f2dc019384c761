/**
 * A reader of cpio newc archives, the oracle the writer's unit test checks it against (with GNU
 * cpio): it parses an archive back into (path, mode, body) records.
 */

const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** Parses a newc archive back into (path, mode, body) records, up to its trailer. */
export function readNewcArchive(archive: Buffer): { path: string; mode: number; body: Buffer }[] {
  const out: { path: string; mode: number; body: Buffer }[] = [];
  let at = 0;
  for (;;) {
    if (archive.toString("ascii", at, at + 6) !== "070701") throw new Error(`bad cpio magic at ${at}`);
    const field = (i: number) => parseInt(archive.toString("ascii", at + 6 + i * 8, at + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const name = archive.toString("utf8", at + 110, at + 110 + nameSize - 1);
    const bodyAt = at + 110 + nameSize + pad4(110 + nameSize);
    if (name === "TRAILER!!!") return out;
    out.push({ path: name, mode, body: archive.subarray(bodyAt, bodyAt + size) });
    at = bodyAt + size + pad4(size);
  }
}
