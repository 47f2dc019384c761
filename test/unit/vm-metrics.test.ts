// The host-side readers behind instance metrics: QEMU's traffic dumps (pcap records counted into
// frames, bytes and inbound SYNs, carried on across reads and across a lost state), /proc's CPU and
// memory figures, and established connections from the socket table. Real files, no VM.
import { appendFile, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildQemuArgs } from "../../backend/host/qemu/command-line";
import { TRAFFIC_SNAP_BYTES } from "../../backend/host/qemu/vm-devices";
import { vmPaths } from "../../backend/host/qemu/vm-paths";
import { parseRollup, readProcessStats } from "../../backend/host/metrics/process-stats";
import { parseProcStat } from "../../backend/host/util/proc-stat";
import { countEstablished } from "../../backend/host/metrics/tcp-connections";
import { countRecords, isTcpSyn, readTraffic, trafficFiles } from "../../backend/host/metrics/traffic-counter";

/** An Ethernet frame of `len` bytes carrying IPv4/TCP with `flags`, cut at the dump's snap length. */
function tcpFrame(len: number, flags: number): Buffer {
  const f = Buffer.alloc(len);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45; // IPv4, 20-byte header
  f[23] = 6; // TCP
  f[14 + 20 + 13] = flags;
  return f.subarray(0, Math.min(len, TRAFFIC_SNAP_BYTES));
}

/** One pcap record of a frame whose full length is `len`. */
function record(frame: Buffer, len: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(frame.length, 8);
  h.writeUInt32LE(len, 12);
  return Buffer.concat([h, frame]);
}

/** pcap's file header as QEMU writes it (magic first). */
const PCAP_HEADER = Buffer.alloc(24);
PCAP_HEADER.writeUInt32LE(0xa1b2c3d4, 0);

const SYN = 0x02;
const SYN_ACK = 0x12;
const ACK = 0x10;

describe("traffic dumps", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "vmb-traffic-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("tells a connection opening (SYN without ACK) from the rest", () => {
    expect(isTcpSyn(tcpFrame(60, SYN))).toBe(true);
    expect(isTcpSyn(tcpFrame(60, SYN_ACK))).toBe(false);
    expect(isTcpSyn(tcpFrame(1514, ACK))).toBe(false);
    const udp = tcpFrame(60, SYN);
    udp[23] = 17;
    expect(isTcpSyn(udp)).toBe(false);
    expect(isTcpSyn(Buffer.alloc(10))).toBe(false);
  });

  it("counts whole records only, with each frame's full length", () => {
    const recs = Buffer.concat([record(tcpFrame(1514, ACK), 1514), record(tcpFrame(60, SYN), 60)]);
    const partial = Buffer.concat([recs, record(tcpFrame(100, ACK), 100).subarray(0, 20)]);
    expect(countRecords(partial)).toEqual({ frames: 2, bytes: 1574, syns: 1, consumed: recs.length });
  });

  it("reads on from where it stopped, restarts with a new run, and survives its state being lost", async () => {
    const { toGuest } = trafficFiles(dir);
    await writeFile(toGuest, Buffer.concat([PCAP_HEADER, record(tcpFrame(60, SYN), 60)]));
    expect(await readTraffic(toGuest, "run-1")).toEqual({ frames: 1, bytes: 60, syns: 1 });
    await appendFile(toGuest, record(tcpFrame(1000, ACK), 1000));
    expect(await readTraffic(toGuest, "run-1")).toEqual({ frames: 2, bytes: 1060, syns: 1 });
    expect(await readTraffic(toGuest, "run-1")).toEqual({ frames: 2, bytes: 1060, syns: 1 });
    // A new run of the VM starts a new dump: counting starts at zero.
    await writeFile(toGuest, Buffer.concat([PCAP_HEADER, record(tcpFrame(70, ACK), 70)]));
    expect(await readTraffic(toGuest, "run-2")).toEqual({ frames: 1, bytes: 70, syns: 0 });
    expect(await readTraffic(join(dir, "missing.pcap"), "run-2")).toEqual({ frames: 0, bytes: 0, syns: 0 });
  });

  it("a state that cannot be written (a full disk) fails the read that asked, and nothing else", async () => {
    const { toGuest } = trafficFiles(dir);
    await writeFile(toGuest, Buffer.concat([PCAP_HEADER, record(tcpFrame(60, SYN), 60)]));
    // The state's temporary file is a directory: its write fails as a full disk's would.
    await mkdir(`${toGuest}.state.tmp`);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      await expect(readTraffic(toGuest, "run-1")).rejects.toThrow(/EISDIR/);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
    // The next read is not held up by the failed one.
    await rm(`${toGuest}.state.tmp`, { recursive: true });
    expect(await readTraffic(toGuest, "run-1")).toEqual({ frames: 1, bytes: 60, syns: 1 });
  });

  it("gives the space of what it read back to the file system, and never counts punched-out bytes", async () => {
    const { fromGuest } = trafficFiles(dir);
    const frame = record(tcpFrame(1514, ACK), 1514);
    const many = Buffer.concat(Array.from({ length: 30_000 }, () => frame));
    await writeFile(fromGuest, Buffer.concat([PCAP_HEADER, many]));
    const before = await stat(fromGuest);
    expect(await readTraffic(fromGuest, "r")).toEqual({ frames: 30_000, bytes: 30_000 * 1514, syns: 0 });
    const after = await stat(fromGuest);
    expect(after.size).toBe(before.size);
    expect(after.blocks * 512).toBeLessThan(before.blocks * 512 - 1024 * 1024);
    // With its state gone, what was punched out cannot be counted again: counting restarts at the end.
    await rm(`${fromGuest}.state`);
    expect(await readTraffic(fromGuest, "r")).toEqual({ frames: 0, bytes: 0, syns: 0 });
    await appendFile(fromGuest, frame);
    expect(await readTraffic(fromGuest, "r")).toEqual({ frames: 1, bytes: 1514, syns: 0 });
  });

  it("is recorded by two filter-dump objects on the NIC's netdev, one per direction", () => {
    const paths = vmPaths("/var/lib/vmbranch/run/x");
    const dumps = trafficFiles(paths.runDir);
    const args = buildQemuArgs(
      {
        uuid: "0b6a3c1e-5d2f-4b8a-9c7e-1f2a3b4c5d6e", smbiosSerial: "s", vmgenid: "aa0f6c3e-1111-4222-8333-444455556666", accel: "tcg", machineType: "pc-i440fx-10.0", vcpus: 1,
        memoryMb: 128, memory: { kind: "anonymous" }, kernel: "/k", initrd: "/i", cmdline: "", disks: [], shares: [],
        nic: { mac: "02:00:00:00:00:01", forwards: [], trafficDumps: dumps }, incoming: "none", startPaused: false,
      },
      paths,
    );
    const objects = args.flatMap((a, i) => (a === "-object" ? [JSON.parse(args[i + 1]!) as Record<string, unknown>] : []));
    expect(objects.filter((o) => o["qom-type"] === "filter-dump")).toEqual([
      { "qom-type": "filter-dump", id: "traffic-in", netdev: "net0", queue: "tx", file: dumps.toGuest, maxlen: TRAFFIC_SNAP_BYTES },
      { "qom-type": "filter-dump", id: "traffic-out", netdev: "net0", queue: "rx", file: dumps.fromGuest, maxlen: TRAFFIC_SNAP_BYTES },
    ]);
  });
});

describe("process and socket figures", () => {
  it("parses CPU ticks after a command with spaces and parentheses", () => {
    const stat = "1234 (qemu (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 3 0 100 0 0";
    expect(parseProcStat(stat)).toMatchObject({ state: "S", utimeTicks: 250, stimeTicks: 50 });
  });

  it("parses resident and proportional memory", () => {
    expect(parseRollup("00400000-7fff [rollup]\nRss:              2048 kB\nPss:               1024 kB\nPss_Anon: 1 kB\n")).toEqual({ rssBytes: 2048 * 1024, pssBytes: 1024 * 1024 });
  });

  it("reads this process's own figures, and zeros for a process that is gone", async () => {
    const me = await readProcessStats(process.pid);
    expect(me.rssBytes).toBeGreaterThan(1024 * 1024);
    expect(me.pssBytes).toBeGreaterThan(0);
    expect(me.cpuTimeMs).toBeGreaterThan(0);
    expect(await readProcessStats(2 ** 22 + 1)).toEqual({ cpuTimeMs: 0, rssBytes: 0, pssBytes: 0 });
  });

  it("counts established sockets on the given local ports only", () => {
    const table = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1",
      "   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2",
      "   2: 0100007F:1F90 0100007F:C351 01 00000000:00000000 00:00000000 00000000     0        0 3",
      "   3: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 4",
      "   4: 0100007F:1F91 0100007F:C352 06 00000000:00000000 00:00000000 00000000     0        0 5",
    ].join("\n");
    expect(countEstablished(table, new Set([8080]))).toBe(2);
    expect(countEstablished(table, new Set([8081]))).toBe(0);
  });
});
