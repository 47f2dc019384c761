/**
 * The serial console log of a VM kept within a cap while QEMU appends to it, and read back by byte
 * offset across rotations. QEMU holds the file open with O_APPEND, so it is never truncated or
 * renamed under it: rotation copies the oldest complete blocks to `<log>.1` (replacing the
 * previous one) and then deallocates them in place (fallocate --punch-hole). The file keeps its
 * length, so byte offsets stay valid for ever (the API's `offset`, where a run began), while the
 * disk it uses stays bounded. `<log>.start` records where live data begins and where `.1` begins.
 * Rotation and reads of one log are serialized in this process; choosing the cap is the caller's.
 */
import type { ConsoleSlice } from "../vm-driver";
import { open, readFile, rename, stat, writeFile } from "node:fs/promises";
import { run } from "../util/exec";

/** Smallest cap accepted: a boot's console output (the ready marker included) must fit in it. */
export const MIN_CONSOLE_LOG_BYTES = 1024 * 1024;
// Rotation starts when live output passes this share of the cap: `.1` and the live part together
// then stay under the cap as long as a guest writes less than a fifth of it between two checks.
const ROTATE_AT = 0.4;
const BLOCK = 4096;
const CHUNK = 64 * 1024;

/** Where the log's data is: `.1` holds [rotatedFrom, start), the log itself [start, size). */
export interface ConsoleLogState {
  start: number;
  rotatedFrom: number;
}

/** A slice of console output (the driver's type: `VmDriver.readConsole` returns it). */
export type { ConsoleSlice };

const chains = new Map<string, Promise<unknown>>();

/** Runs `fn` after every earlier rotation or read of the log at `path` (in this process). */
function serialized<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const prev = chains.get(path) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const tail = next.catch(() => undefined);
  chains.set(path, tail);
  void tail.then(() => {
    if (chains.get(path) === tail) chains.delete(path);
  });
  return next;
}

/** The rotation state of the log at `path` (nothing rotated yet when there is no state file). */
export async function consoleLogState(path: string): Promise<ConsoleLogState> {
  try {
    const s = JSON.parse(await readFile(`${path}.start`, "utf8")) as Partial<ConsoleLogState>;
    if (Number.isSafeInteger(s.start) && Number.isSafeInteger(s.rotatedFrom)) return { start: s.start!, rotatedFrom: s.rotatedFrom! };
  } catch {
    /* never rotated */
  }
  return { start: 0, rotatedFrom: 0 };
}

async function sizeOf(path: string): Promise<number> {
  return stat(path).then((s) => s.size, () => 0);
}

/**
 * Rotates the log at `path` when its live part exceeds its share of `capBytes`; resolves true when
 * it did. Never loses a byte QEMU writes meanwhile (it only ever appends past the cut).
 */
export function rotateConsoleLog(path: string, capBytes: number): Promise<boolean> {
  return serialized(path, async () => {
    const state = await consoleLogState(path);
    const size = await sizeOf(path);
    if (size - state.start <= Math.max(capBytes, MIN_CONSOLE_LOG_BYTES) * ROTATE_AT) return false;
    const cut = Math.floor(size / BLOCK) * BLOCK;
    if (cut <= state.start) return false;
    await copyRange(path, state.start, cut, `${path}.1.tmp`);
    await rename(`${path}.1.tmp`, `${path}.1`);
    await writeFile(`${path}.start.tmp`, JSON.stringify({ start: cut, rotatedFrom: state.start } satisfies ConsoleLogState) + "\n", { mode: 0o600 });
    await rename(`${path}.start.tmp`, `${path}.start`);
    // Punched blocks read back as zeros and take no space; the length (and every offset) stays.
    await run("fallocate", ["--punch-hole", "--offset", "0", "--length", String(cut), path]);
    return true;
  });
}

/** Reads at most `limit` bytes of output from `offset` (negative: from the end; never before the oldest byte still kept). */
export function readConsoleLog(path: string, offset: number, limit: number): Promise<ConsoleSlice> {
  return serialized(path, async () => {
    const state = await consoleLogState(path);
    const size = await sizeOf(path);
    const rotatedKept = state.start > state.rotatedFrom && (await sizeOf(`${path}.1`)) === state.start - state.rotatedFrom;
    const first = rotatedKept ? state.rotatedFrom : state.start;
    const from = Math.min(Math.max(offset < 0 ? size + offset : offset, first), size);
    const parts: Buffer[] = [];
    let pos = from;
    let left = Math.min(limit, size - from);
    if (pos < state.start && left > 0) {
      const n = Math.min(left, state.start - pos);
      parts.push(await readRange(`${path}.1`, pos - state.rotatedFrom, n));
      pos += n;
      left -= n;
    }
    if (left > 0) parts.push(await readRange(path, pos, left));
    const output = Buffer.concat(parts);
    return { output, offset: from, nextOffset: from + output.length, first, size };
  });
}

/** The last `bytes` of output at or after `from` (for markers printed at the end of a run). */
export async function consoleTail(path: string, from: number, bytes: number): Promise<string> {
  return serialized(path, async () => {
    const state = await consoleLogState(path);
    const size = await sizeOf(path);
    const start = Math.max(from, state.start, size - bytes);
    return size > start ? (await readRange(path, start, size - start)).toString("utf8") : "";
  });
}

async function readRange(path: string, pos: number, length: number): Promise<Buffer> {
  const fh = await open(path, "r").catch(() => null);
  if (!fh) return Buffer.alloc(0);
  try {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, pos + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buf.subarray(0, done);
  } finally {
    await fh.close();
  }
}

/** Copies bytes [from, to) of `src` into a new file `dest` in chunks (never the whole range in memory). */
async function copyRange(src: string, from: number, to: number, dest: string): Promise<void> {
  const input = await open(src, "r");
  const output = await open(dest, "w", 0o600);
  try {
    const buf = Buffer.alloc(CHUNK);
    for (let pos = from; pos < to; ) {
      const { bytesRead } = await input.read(buf, 0, Math.min(CHUNK, to - pos), pos);
      if (bytesRead === 0) break;
      await output.write(buf, 0, bytesRead);
      pos += bytesRead;
    }
  } finally {
    await input.close();
    await output.close();
  }
}
