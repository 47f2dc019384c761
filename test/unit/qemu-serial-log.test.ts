// Tailing a serial log another process appends to: offsets, deadlines, give-up, abort, UTF-8.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serialLogSize, SerialWaitError, waitForSerialPattern } from "../../backend/host/qemu/serial-log";

let dir: string;
let log: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vmb-serial-"));
  log = join(dir, "serial.log");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const later = (ms: number, fn: () => void) => setTimeout(fn, ms);

test("finds a pattern written later, even before the file exists", async () => {
  later(30, () => writeFileSync(log, "booting\n"));
  later(60, () => appendFileSync(log, "VMBRANCH-READY\n"));
  const m = await waitForSerialPattern(log, "VMBRANCH-READY", { timeoutMs: 2000, pollMs: 5 });
  expect(m.match[0]).toBe("VMBRANCH-READY");
  expect(m.offset).toBe(Buffer.byteLength("booting\nVMBRANCH-READY"));
});

test("a string pattern is literal; a regex pattern captures groups", async () => {
  writeFileSync(log, "a.b x=1\nanswer=42\n");
  await expect(waitForSerialPattern(log, "a+b", { timeoutMs: 30 })).rejects.toBeInstanceOf(SerialWaitError);
  expect((await waitForSerialPattern(log, "a.b", { timeoutMs: 100 })).match.index).toBe(0);
  expect((await waitForSerialPattern(log, /answer=(\d+)/g, { timeoutMs: 100 })).match[1]).toBe("42");
});

test("starts at `from` and returns an offset to continue from", async () => {
  writeFileSync(log, "tick 1\ntick 2\n");
  const first = await waitForSerialPattern(log, /tick (\d)/, { timeoutMs: 100 });
  expect(first.match[1]).toBe("1");
  const second = await waitForSerialPattern(log, /tick (\d)/, { timeoutMs: 100, from: first.offset });
  expect(second.match[1]).toBe("2");
  await expect(waitForSerialPattern(log, /tick/, { timeoutMs: 50, from: second.offset })).rejects.toMatchObject({ why: "timeout" });
});

test("a match split across two writes is found", async () => {
  writeFileSync(log, "xxVMBRAN");
  later(30, () => appendFileSync(log, "CH-READY"));
  await expect(waitForSerialPattern(log, "VMBRANCH-READY", { timeoutMs: 2000, pollMs: 5 })).resolves.toMatchObject({ offset: 16 });
});

test("multi-byte characters split between reads are decoded and offsets count bytes", async () => {
  const euro = Buffer.from("€");
  writeFileSync(log, Buffer.concat([Buffer.from("a"), euro.subarray(0, 1)]));
  later(30, () => appendFileSync(log, Buffer.concat([euro.subarray(1), Buffer.from(" done")])));
  const m = await waitForSerialPattern(log, /€ done/, { timeoutMs: 2000, pollMs: 5 });
  expect(m.offset).toBe(1 + 3 + 5);
});

test("times out with the tail of what was read", async () => {
  writeFileSync(log, "kernel panic\n");
  const err = await waitForSerialPattern(log, "READY", { timeoutMs: 40 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SerialWaitError);
  expect(err).toMatchObject({ why: "timeout", tail: "kernel panic\n" });
  expect(String(err)).toMatch(/did not appear in the serial log within 40 ms/);
});

test("gives up when the give-up promise settles, after a last read", async () => {
  writeFileSync(log, "");
  let exit!: () => void;
  const exited = new Promise<void>((r) => (exit = r));
  const wait = waitForSerialPattern(log, "READY", { timeoutMs: 5000, giveUp: exited, pollMs: 5 });
  later(20, () => exit());
  await expect(wait).rejects.toMatchObject({ why: "gave-up" });
  // Output written just before the end still counts.
  appendFileSync(log, "READY\n");
  await expect(waitForSerialPattern(log, "READY", { timeoutMs: 5000, giveUp: Promise.resolve() })).resolves.toBeDefined();
});

test("an abort signal stops the wait", async () => {
  const ac = new AbortController();
  later(20, () => ac.abort());
  await expect(waitForSerialPattern(log, "READY", { timeoutMs: 5000, signal: ac.signal })).rejects.toMatchObject({ why: "aborted" });
});

test("serialLogSize is 0 for a missing file and the byte size otherwise", async () => {
  await expect(serialLogSize(log)).resolves.toBe(0);
  writeFileSync(log, "€\n");
  await expect(serialLogSize(log)).resolves.toBe(4);
});
