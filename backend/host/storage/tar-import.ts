/**
 * Unpack a tar stream into a directory for `mke2fs -d`. node-tar refuses absolute paths and
 * `..` escapes; ownership is not preserved (files belong to root inside the volume).
 */
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { x as extract } from "tar";

/** The stream was not a readable tar archive. */
export class TarImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TarImportError";
  }
}

/** Extract `input` (a tar stream, optionally gzip-compressed) into `dir`. */
export async function extractTar(input: Readable, dir: string): Promise<void> {
  let entries = 0;
  let bytes = 0;
  input.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
  });
  const sink = extract({
    cwd: dir,
    strict: true,
    preserveOwner: false,
    onentry: () => {
      entries++;
    },
  });
  try {
    await pipeline(input, sink);
  } catch (err) {
    if (bytes === 0) throw new TarImportError("the tar archive is empty");
    throw new TarImportError(`not a valid tar archive: ${(err as Error).message}`);
  }
  if (entries === 0) throw new TarImportError("the tar archive is empty");
}
