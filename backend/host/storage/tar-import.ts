/**
 * Unpack a tar stream into a directory for `mke2fs -d`, within limits: node-tar refuses absolute
 * paths and `..` escapes; ownership is not preserved (files belong to root inside the volume);
 * the unpacked contents may not exceed the volume's size nor hold more entries than it could
 * (an archive of millions of empty files would exhaust the host's inodes first); and a stream
 * that sends nothing for `idleTimeoutMs` is given up, so a stalled client cannot hold the
 * volume's lock. Sizes are taken from each entry's header before its data is written.
 */
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { x as extract, type ReadEntry } from "tar";

/** The stream was not a readable tar archive. */
export class TarImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TarImportError";
  }
}

/** The archive goes beyond a limit (`what` says which). */
export class TarLimitError extends TarImportError {
  constructor(
    message: string,
    readonly what: "bytes" | "entries",
  ) {
    super(message);
    this.name = "TarLimitError";
  }
}

/** The stream sent nothing for longer than the idle timeout. */
export class TarStalledError extends TarImportError {
  constructor(message: string) {
    super(message);
    this.name = "TarStalledError";
  }
}

/** Limits of one extraction. */
export interface TarLimits {
  /** Total bytes of file contents. */
  maxBytes: number;
  /** Entries of any kind (files, directories, links). */
  maxEntries: number;
  /** Give up when no data arrives for this long. */
  idleTimeoutMs: number;
}

/** Extract `input` (a tar stream, optionally gzip-compressed) into `dir` within `limits`. */
export async function extractTar(input: Readable, dir: string, limits: TarLimits): Promise<void> {
  let entries = 0;
  let contentBytes = 0;
  let streamBytes = 0;
  let stop: TarImportError | null = null;
  let idle: NodeJS.Timeout | undefined;
  const sink = extract({ cwd: dir, strict: true, preserveOwner: false });
  // `input` (an HTTP request) is fed through `feed` so that stopping destroys only our side:
  // the request's socket stays open for the error response.
  const feed = new PassThrough();
  input.on("error", (err) => feed.destroy(err));
  input.pipe(feed);
  // Stop with our own error: aborting the sink rejects `pipeline`, and `stop` says why.
  const abort = (err: TarImportError) => {
    if (stop) return;
    stop = err;
    clearTimeout(idle);
    input.unpipe(feed);
    input.pause();
    sink.abort(err);
  };
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(
      () => abort(new TarStalledError(`the upload sent nothing for ${Math.round(limits.idleTimeoutMs / 1000)} s; import abandoned`)),
      limits.idleTimeoutMs,
    );
  };
  sink.on("entry", (entry: ReadEntry) => {
    entries++;
    contentBytes += entry.size ?? 0;
    if (entries > limits.maxEntries)
      abort(new TarLimitError(`the archive has more than ${limits.maxEntries} entries, more than the volume can hold`, "entries"));
    else if (contentBytes > limits.maxBytes)
      abort(new TarLimitError(`the archive's files add up to more than the volume's ${formatMiB(limits.maxBytes)}`, "bytes"));
  });
  input.on("data", (chunk: Buffer) => {
    streamBytes += chunk.length;
    armIdle();
  });
  armIdle();
  try {
    await pipeline(feed, sink);
  } catch (err) {
    if (stop) throw stop;
    if (streamBytes === 0) throw new TarImportError("the tar archive is empty");
    throw new TarImportError(`not a valid tar archive: ${(err as Error).message}`);
  } finally {
    clearTimeout(idle);
  }
  if (stop) throw stop;
  if (entries === 0) throw new TarImportError("the tar archive is empty");
}

function formatMiB(bytes: number): string {
  return `${Math.round(bytes / 1048576)} MiB`;
}
