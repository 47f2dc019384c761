/**
 * Network counters of a VM from the traffic dumps QEMU writes (vm-devices.ts): pcap files whose
 * records carry each frame's length and its first bytes. The counter reads the records added
 * since its last read, keeps running totals (frames, bytes, TCP SYNs into the guest) in a state
 * file next to the dump, so a restarted service carries on, and punches the consumed part of the
 * dump out of the file so it never holds more than what was not read yet. QEMU restarts the dump
 * at each launch of the VM; the state names the run it counts, so a new run starts at zero.
 */
import { open, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../util/exec";

/** pcap's file header; records follow. */
const PCAP_HEADER = 24;
/** pcap's magic numbers as QEMU writes them (microsecond resolution; either byte order). */
const PCAP_MAGICS = [0xa1b2c3d4, 0xd4c3b2a1];
/** Record header: seconds, microseconds, captured length, frame length (host byte order: little endian here). */
const RECORD_HEADER = 16;
/** Read at most this much per pass, so a long-unread dump is not loaded at once. */
const CHUNK = 4 * 1024 * 1024;
/** Give consumed space back once this much has been read. */
const PUNCH_AFTER = 1024 * 1024;

/** Totals of one direction of a VM's traffic in its current run. */
export interface TrafficTotals {
  frames: number;
  bytes: number;
  /** TCP segments with SYN and without ACK: connections being opened towards the far side. */
  syns: number;
}

interface CounterState extends TrafficTotals {
  runId: string;
  offset: number;
  punched: number;
}

/** The dump files of a VM's NIC in its run directory. */
export function trafficFiles(runDir: string): { toGuest: string; fromGuest: string } {
  return { toGuest: join(runDir, "traffic-in.pcap"), fromGuest: join(runDir, "traffic-out.pcap") };
}

/** True for an Ethernet frame carrying an IPv4 TCP segment with SYN set and ACK clear (given its first bytes). */
export function isTcpSyn(frame: Buffer): boolean {
  if (frame.length < 34 || frame.readUInt16BE(12) !== 0x0800) return false;
  const ihl = (frame[14]! & 0x0f) * 4;
  if (frame[23] !== 6 || frame.length < 14 + ihl + 14) return false;
  const flags = frame[14 + ihl + 13]!;
  return (flags & 0x02) !== 0 && (flags & 0x10) === 0;
}

/** Count the complete records in `buf`; returns the totals added and how many bytes they took. */
export function countRecords(buf: Buffer): TrafficTotals & { consumed: number } {
  let off = 0;
  const t = { frames: 0, bytes: 0, syns: 0 };
  while (off + RECORD_HEADER <= buf.length) {
    const caplen = buf.readUInt32LE(off + 8);
    const len = buf.readUInt32LE(off + 12);
    if (off + RECORD_HEADER + caplen > buf.length) break;
    // A punched-out stretch reads as zeros (only if the state was lost): no frame is empty.
    if (len === 0) {
      off += RECORD_HEADER;
      continue;
    }
    t.frames++;
    t.bytes += len;
    if (isTcpSyn(buf.subarray(off + RECORD_HEADER, off + RECORD_HEADER + caplen))) t.syns++;
    off += RECORD_HEADER + caplen;
  }
  return { ...t, consumed: off };
}

// One read at a time per dump: concurrent metrics requests must not count a record twice.
const queues = new Map<string, Promise<unknown>>();

/** The totals of dump `file` for run `runId` (zeros when there is no dump). */
export function readTraffic(file: string, runId: string): Promise<TrafficTotals> {
  const prev = queues.get(file) ?? Promise.resolve();
  const next = prev.catch(() => undefined).then(() => advance(file, runId));
  queues.set(file, next);
  // The caller gets `next` and its failure; this bookkeeping must not leave a second, unhandled
  // rejection behind (a full disk failing the state write would end the process).
  const forget = () => {
    if (queues.get(file) === next) queues.delete(file);
  };
  next.then(forget, forget);
  return next;
}

async function advance(file: string, runId: string): Promise<TrafficTotals> {
  const stateFile = `${file}.state`;
  const saved = await readFile(stateFile, "utf8").then((t) => JSON.parse(t) as CounterState).catch(() => null);
  const state: CounterState = saved && saved.runId === runId ? saved : { runId, offset: PCAP_HEADER, punched: 0, frames: 0, bytes: 0, syns: 0 };
  const fh = await open(file, "r").catch(() => null);
  if (!fh) return { frames: state.frames, bytes: state.bytes, syns: state.syns };
  try {
    if (!saved || saved.runId !== runId) {
      // A dump whose start was punched out was counted before by a state that is gone: its
      // records can no longer be found from the start, so counting starts again from its end.
      const magic = Buffer.alloc(4);
      await fh.read(magic, 0, 4, 0);
      if (!PCAP_MAGICS.includes(magic.readUInt32LE(0))) state.offset = Math.max(PCAP_HEADER, (await fh.stat()).size);
    }
    for (;;) {
      const size = (await fh.stat()).size;
      if (size <= state.offset) break;
      const buf = Buffer.alloc(Math.min(CHUNK, size - state.offset));
      const { bytesRead } = await fh.read(buf, 0, buf.length, state.offset);
      const got = countRecords(buf.subarray(0, bytesRead));
      if (got.consumed === 0) break;
      state.frames += got.frames;
      state.bytes += got.bytes;
      state.syns += got.syns;
      state.offset += got.consumed;
    }
  } finally {
    await fh.close();
  }
  await writeFile(`${stateFile}.tmp`, JSON.stringify(state));
  await rename(`${stateFile}.tmp`, stateFile);
  // The totals are recorded first: a failed or interrupted punch only leaves space unreclaimed.
  const punchTo = Math.floor(state.offset / 4096) * 4096;
  if (punchTo - state.punched >= PUNCH_AFTER) {
    // A failed punch (a filesystem without hole punching) is not an error: the space stays used.
    const ok = await run("fallocate", ["--punch-hole", "--offset", "0", "--length", String(punchTo), file]).then(() => true, () => false);
    if (ok) {
      state.punched = punchTo;
      await writeFile(`${stateFile}.tmp`, JSON.stringify(state));
      await rename(`${stateFile}.tmp`, stateFile);
    }
  }
  return { frames: state.frames, bytes: state.bytes, syns: state.syns };
}
