// The console log kept within its cap while a writer appends to it: rotation moves the oldest
// complete blocks to `.1` and frees them in place (the file keeps its length, so offsets stay
// valid), reads go on across `.1` and the live file, a read from an offset rotated away starts at
// the oldest kept byte, negative offsets count from the end, and nothing a writer appends during
// a rotation is lost. Real files (the punched blocks really free their space).
import { appendFileSync, mkdtempSync, openSync, closeSync, writeSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { consoleLogState, consoleTail, readConsoleLog, rotateConsoleLog, MIN_CONSOLE_LOG_BYTES } from "../../backend/host/qemu/console-log";

let dir: string;
let log: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vmb-console-"));
  log = join(dir, "serial.log");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Appends lines "n\n" from `from` until the log has grown by at least `bytes`; returns the next n. */
function appendNumbers(from: number, bytes: number): number {
  let n = from;
  let chunk = "";
  while (chunk.length < bytes) chunk += `${n++}\n`;
  appendFileSync(log, chunk);
  return n;
}

const CAP = MIN_CONSOLE_LOG_BYTES;

it("does nothing while the live part is small", async () => {
  appendNumbers(0, 1000);
  expect(await rotateConsoleLog(log, CAP)).toBe(false);
  expect(await consoleLogState(log)).toEqual({ start: 0, rotatedFrom: 0 });
});

it("rotates in place: same length, blocks freed, everything kept readable in order", async () => {
  const next = appendNumbers(0, CAP);
  const size = statSync(log).size;
  expect(await rotateConsoleLog(log, CAP)).toBe(true);
  const st = statSync(log);
  expect(st.size).toBe(size);
  expect(st.blocks * 512).toBeLessThan(64 * 1024);
  const state = await consoleLogState(log);
  expect(state.start % 4096).toBe(0);
  expect(statSync(`${log}.1`).size).toBe(state.start);
  // Every byte, from 0, across `.1` and the live file.
  const all = await readConsoleLog(log, 0, 16 * CAP);
  expect([all.offset, all.first, all.nextOffset, all.size]).toEqual([0, 0, size, size]);
  const numbers = all.output.toString().trim().split("\n").map(Number);
  expect(numbers).toEqual(Array.from({ length: next }, (_, i) => i));
});

it("starts a read of rotated-away output at the oldest byte kept, and counts negative offsets from the end", async () => {
  let n = appendNumbers(0, CAP);
  await rotateConsoleLog(log, CAP);
  n = appendNumbers(n, CAP);
  await rotateConsoleLog(log, CAP);
  const state = await consoleLogState(log);
  expect(state.rotatedFrom).toBeGreaterThan(0);
  const slice = await readConsoleLog(log, 0, 100);
  expect([slice.offset, slice.first]).toEqual([state.rotatedFrom, state.rotatedFrom]);
  const tail = await readConsoleLog(log, -10, 100);
  expect([tail.offset, tail.nextOffset]).toEqual([slice.size - 10, slice.size]);
  expect(tail.output.toString()).toMatch(new RegExp(`${n - 1}\\n$`));
  expect(await consoleTail(log, 0, 20)).toMatch(new RegExp(`${n - 1}\\n$`));
});

it("loses nothing a writer appends through its own descriptor while rotations go on", async () => {
  const fd = openSync(log, "a");
  let n = 0;
  try {
    for (let round = 0; round < 6; round++) {
      let chunk = "";
      while (chunk.length < CAP / 2) chunk += `${n++}\n`;
      writeSync(fd, chunk);
      await rotateConsoleLog(log, CAP);
    }
  } finally {
    closeSync(fd);
  }
  const state = await consoleLogState(log);
  const kept = await readConsoleLog(log, 0, 16 * CAP);
  expect(kept.offset).toBe(state.rotatedFrom);
  const numbers = kept.output.toString().split("\n").slice(1, -1).map(Number);
  expect(numbers.at(-1)).toBe(n - 1);
  expect(numbers.slice(1).every((x, i) => x === numbers[i]! + 1)).toBe(true);
  // Disk use stays under the cap: `.1` plus what is live.
  expect(statSync(log).blocks * 512 + statSync(`${log}.1`).blocks * 512).toBeLessThanOrEqual(CAP);
});
