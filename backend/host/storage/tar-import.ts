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
import type { ImportError, ImportLimits, ImportRefusal } from "../storage-driver";

/** The stream was not a readable tar archive. */
export class TarImportError extends Error implements ImportError {
  constructor(message: string) {
    super(message);
    this.name = "TarImportError";
  }

  get importRefusal(): ImportRefusal {
    return "invalid";
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

  override get importRefusal(): ImportRefusal {
    return "too-large";
  }
}

/** The stream sent nothing for longer than the idle timeout. */
export class TarStalledError extends TarImportError {
  constructor(message: string) {
    super(message);
    this.name = "TarStalledError";
  }

  override get importRefusal(): ImportRefusal {
    return "stalled";
  }
}

/** Limits of one extraction (the driver's ImportLimits). */
export type TarLimits = ImportLimits;

/** Extract `input` (a tar stream, optionally gzip-compressed) into `dir` within `limits`. */
export async function extractTar(input: Readable, dir: string, limits: TarLimits): Promise<void> {
  let entries = 0;
  let contentBytes = 0;
  let streamBytes = 0;
  let stop: TarImportError | null = null;
  const problems: string[] = [];
  let idle: NodeJS.Timeout | undefined;
  // `input` (an HTTP request) is fed through `feed`, so stopping ends only our side: the request's
  // socket stays open for the error response.
  const feed = new PassThrough();
  // Not strict: a problem is recorded and judged at the end, once every file already being written
  // is complete, so the caller can remove the directory knowing nothing more appears in it.
  const sink = extract({
    cwd: dir,
    strict: false,
    preserveOwner: false,
    onwarn: (code: string, message: string | Error) => problems.push(`${code}: ${message instanceof Error ? message.message : message}`),
    // Judged from each entry's header, before anything of it is written.
    filter: (_path: string, entry: unknown) => {
      if (stop) return false;
      entries++;
      contentBytes += (entry as ReadEntry).size ?? 0;
      if (entries > limits.maxEntries) halt(new TarLimitError(`the archive has more than ${limits.maxEntries} entries, more than the volume can hold`, "entries"));
      else if (contentBytes > limits.maxBytes) halt(new TarLimitError(`the archive's files add up to more than the volume's ${formatMiB(limits.maxBytes)}`, "bytes"));
      return stop === null;
    },
  });
  // Stop taking input; what was written so far completes, then the pipeline ends.
  function halt(err: TarImportError): void {
    if (stop) return;
    stop = err;
    clearTimeout(idle);
    input.unpipe(feed);
    input.pause();
    feed.end();
  }
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => halt(new TarStalledError(`the upload sent nothing for ${Math.round(limits.idleTimeoutMs / 1000)} s; import abandoned`)), limits.idleTimeoutMs);
  };
  input.on("error", (err) => feed.destroy(err));
  input.on("data", (chunk: Buffer) => {
    streamBytes += chunk.length;
    if (!stop) armIdle();
  });
  input.pipe(feed);
  armIdle();
  try {
    await pipeline(feed, sink);
  } catch (err) {
    if (stop) throw stop;
    throw new TarImportError(`not a valid tar archive: ${(err as Error).message}`);
  } finally {
    clearTimeout(idle);
  }
  if (stop) throw stop;
  if (streamBytes === 0 || (entries === 0 && problems.length === 0)) throw new TarImportError("the tar archive is empty");
  if (problems.length > 0) throw new TarImportError(`not a valid tar archive: ${problems[0]}`);
}

function formatMiB(bytes: number): string {
  return `${Math.round(bytes / 1048576)} MiB`;
}
