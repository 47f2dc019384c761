/**
 * Reading a VM's serial console log while QEMU appends to it: wait for a pattern (the ready
 * marker, a command's output) from a byte offset, with a deadline, an abort signal and an
 * optional "give up" promise (the VM exited). Polls the file: it is written by another process,
 * possibly one this `serve` did not start, and inotify on a growing file buys little here.
 * What the patterns mean is the caller's (guest-protocol.ts).
 */
import { open, stat } from "node:fs/promises";

/** A pattern found in the serial log. */
export interface SerialMatch {
  /** The matched text (and groups) of the pattern. */
  match: RegExpExecArray;
  /** Byte offset just after the match: pass it as `from` to wait for what comes next. */
  offset: number;
}

/** Options of `waitForSerialPattern`. */
export interface SerialWaitOptions {
  /** Byte offset to start reading at (default 0). */
  from?: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** When this settles first, stop waiting (after one last read) and reject with SerialWaitError. */
  giveUp?: Promise<unknown>;
  /** Poll interval (default 25 ms). */
  pollMs?: number;
}

/** The pattern did not appear: timed out, the VM ended, or the wait was aborted. */
export class SerialWaitError extends Error {
  constructor(
    message: string,
    readonly why: "timeout" | "gave-up" | "aborted",
    /** The last part of the log that was searched, for the error report. */
    readonly tail: string,
  ) {
    super(message);
    this.name = "SerialWaitError";
  }
}

// Keep this much already-searched text so a match can straddle two reads.
const WINDOW = 64 * 1024;

/** Current size of the log in bytes (0 when it does not exist yet). */
export async function serialLogSize(path: string): Promise<number> {
  return stat(path).then((s) => s.size, () => 0);
}

/** Waits until `pattern` appears in the log at or after `from`; rejects with SerialWaitError. */
export async function waitForSerialPattern(path: string, pattern: string | RegExp, opts: SerialWaitOptions): Promise<SerialMatch> {
  const re = typeof pattern === "string" ? new RegExp(escapeRegExp(pattern)) : new RegExp(pattern.source, pattern.flags.replace("g", ""));
  const deadline = Date.now() + opts.timeoutMs;
  let gaveUp = false;
  opts.giveUp?.then(
    () => (gaveUp = true),
    () => (gaveUp = true),
  );
  let offset = opts.from ?? 0;
  // `text` holds the bytes from `textStart` up to `offset`, decoded.
  let text = "";
  let textStart = offset;
  let pendingBytes = Buffer.alloc(0);
  for (;;) {
    const finalRead = gaveUp;
    const chunk = await readFrom(path, offset);
    if (chunk.length > 0) {
      offset += chunk.length;
      // Do not split a UTF-8 sequence between two reads.
      const all = Buffer.concat([pendingBytes, chunk]);
      const cut = completeUtf8Length(all);
      text += all.subarray(0, cut).toString("utf8");
      pendingBytes = all.subarray(cut);
      const m = re.exec(text);
      if (m) {
        const end = textStart + Buffer.byteLength(text.slice(0, m.index + m[0].length));
        return { match: m, offset: end };
      }
      if (text.length > 2 * WINDOW) {
        const drop = text.length - WINDOW;
        textStart += Buffer.byteLength(text.slice(0, drop));
        text = text.slice(drop);
      }
    }
    const tail = text.slice(-2000);
    if (opts.signal?.aborted) throw new SerialWaitError(`stopped waiting for ${re} in the serial log`, "aborted", tail);
    if (finalRead) throw new SerialWaitError(`the VM ended before ${re} appeared in the serial log`, "gave-up", tail);
    if (Date.now() >= deadline) throw new SerialWaitError(`${re} did not appear in the serial log within ${opts.timeoutMs} ms`, "timeout", tail);
    await sleep(Math.min(opts.pollMs ?? 25, Math.max(deadline - Date.now(), 1)), opts.signal);
  }
}

async function readFrom(path: string, offset: number): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch {
    return Buffer.alloc(0); // not created yet
  }
  try {
    const chunks: Buffer[] = [];
    let pos = offset;
    for (;;) {
      const buf = Buffer.alloc(64 * 1024);
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return Buffer.concat(chunks);
  } finally {
    await fh.close();
  }
}

/** Length of the longest prefix of `b` that ends on a UTF-8 character boundary. */
function completeUtf8Length(b: Buffer): number {
  for (let back = 1; back <= Math.min(3, b.length); back++) {
    const byte = b[b.length - back] as number;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > back ? b.length - back : b.length;
  }
  return b.length;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
