// Flattening is durable before it is recorded (issue 10, "flattening deep backing chains loses
// data"): a running source's volume is flattened through its VM (block-stream), the store then
// says the head stands alone and frees the layers below, and the VM is killed (SIGKILL, as a forced
// stop does) right after. The guest writes its file once and then stays idle, so nothing else in
// the guest flushes the disk: what QEMU kept only in its qcow2 metadata cache is lost with the
// process. The head must still hold the file, byte for byte, standing alone. The same when serve
// dies between the stream's end and the flush: the restart flushes before doctor records it.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { volumeHead, withRawCopy } from "../backend/support";
import { startBackend, type TestBackend } from "../helpers/backend";
import { waitForConsole } from "../helpers/guest-programs";

jest.setTimeout(300_000);

let b: TestBackend;

beforeAll(async () => {
  // Bound 1: the second freeze of the source's volume makes its chain deep enough to flatten.
  b = await startBackend({ env: { VMBRANCH_MAX_CHAIN_DEPTH: "1" } });
});
afterAll(async () => {
  await b?.stop();
});

const headOf = (volume: string) => volumeHead(b.dataDir, volume);

/** What doctor finds wrong now (read-only): every case must end with nothing. */
async function doctorFindings(): Promise<unknown[]> {
  const res = await b.http("GET", "/v1/doctor");
  expect(res.status).toBe(200);
  return (res.body as { data: { doctor: { findings: unknown[] }[] } }).data.doctor[0]!.findings;
}

/** The images of `path`'s backing chain, top first, as qemu-img reads the files. */
function chainOf(path: string): string[] {
  const out = JSON.parse(execFileSync("qemu-img", ["info", "-U", "--backing-chain", "--output=json", path], { encoding: "utf8" })) as { filename: string }[];
  return out.map((i) => i.filename);
}

/** The file `name` of the ext filesystem in qcow2 `path` (debugfs, on a raw copy), and e2fsck's verdict. */
function fileOnDisk(path: string, name: string): { bytes: Buffer; fsck: string } {
  return withRawCopy(path, (rawFile) => {
    const out = `${rawFile}.out`;
    execFileSync("debugfs", ["-R", `dump ${name} ${out}`, rawFile], { stdio: "ignore" });
    // Killed while mounted, the filesystem is as after a power cut: its journal is replayed first, as the next mount would.
    try {
      execFileSync("e2fsck", ["-p", "-E", "journal_only", rawFile], { stdio: "ignore" });
    } catch {
      /* nothing to replay, or replayed with notes: the read-only check below decides */
    }
    let fsck = "clean";
    try {
      execFileSync("e2fsck", ["-n", "-f", rawFile], { stdio: "pipe" });
    } catch (err) {
      fsck = String((err as { stdout?: Buffer }).stdout ?? (err as Error).message).split("\n").slice(0, 2).join(" / ");
    }
    let bytes = Buffer.alloc(0);
    try {
      bytes = readFileSync(out);
    } catch {
      /* not there: compared below as empty */
    }
    return { bytes, fsck };
  });
}

/**
 * Make `name` write a 2 MiB blob once and go idle, then branch it twice so its volume is flattened
 * through its VM; `afterBranches` runs once the branches exist (serve may be gone by then).
 */
async function flattenOnline(name: string, afterBranches: () => Promise<void> = async () => undefined): Promise<void> {
  const c = b.client;
  // 2 MiB of random bytes and their digest, synced once; then the guest does no I/O at all.
  const program = ["sh", "-c", "head -c 2097152 /dev/urandom > /data/blob && sha256sum /data/blob | cut -d' ' -f1 > /data/blob.sum && sync && echo BLOB-WRITTEN && while :; do sleep 60; done"];
  await c.instances.create({ name, image: "base", memory_mb: 128, args: program, volumes: [{ name: `${name}-data`, size_mb: 16, at: "/data" }] });
  await c.instances.waitFor(name, "running", { timeoutMs: 120_000 });
  await waitForConsole(c, name, (log) => log.includes("BLOB-WRITTEN"), "the blob");
  // Two live branches freeze the volume twice (depth 2 > 1): after the second, the source's head
  // is flattened through its VM in the background.
  for (const branch of [`${name}-b1`, `${name}-b2`]) {
    await c.instances.create({ name: branch, branch_from: { name }, autostart: false });
    await c.instances.waitFor(branch, "stopped", { timeoutMs: 120_000 });
  }
  await afterBranches();
  const deadline = Date.now() + 120_000;
  while ((await b.client.volumes.get(`${name}-data`)).chain_depth !== 0) {
    if (Date.now() > deadline) throw new Error("the source's volume was never flattened");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Kill `name`'s VM now (a forced stop) and check that its volume's head stands alone and holds the blob. */
async function killAndCheck(name: string): Promise<void> {
  const c = b.client;
  await c.instances.stop(name, { force: true });
  await c.instances.waitFor(name, "stopped", { timeoutMs: 60_000 });
  const head = headOf(`${name}-data`);
  expect(chainOf(head)).toEqual([head]);
  const blob = fileOnDisk(head, "/blob");
  const sum = fileOnDisk(head, "/blob.sum");
  expect(blob.fsck).toBe("clean");
  expect(blob.bytes.length).toBe(2 * 1024 * 1024);
  expect(createHash("sha256").update(blob.bytes).digest("hex")).toBe(sum.bytes.toString("utf8").trim());
  for (const n of [`${name}-b1`, `${name}-b2`, name]) await c.instances.delete(n);
}

it("a volume flattened through its running VM keeps its data when the VM is killed right after", async () => {
  await flattenOnline("flat");
  // Recorded as standing alone: now the VM dies without a chance to write anything more.
  await killAndCheck("flat");
});

it("a flatten whose serve died before the flush is flushed on reattach, before doctor records it", async () => {
  await b.relaunch({ VMBRANCH_FAILPOINTS: "flatten.before-flush=kill" }, "SIGTERM");
  await flattenOnline("flat2", async () => {
    // The stream concluded and serve died: the head's header stands alone, its mapping maybe not on disk.
    await b.serveExited();
    expect(b.serveLog()).toContain("failpoint flatten.before-flush: kill");
    // The restart reattaches the VM (settling the job, flushing its disks) and doctor records the flatten.
    await b.relaunch({}, "SIGTERM");
  });
  // The restart settled the flatten: nothing left for doctor, before and after the VM is killed.
  expect(await doctorFindings()).toEqual([]);
  await killAndCheck("flat2");
  expect(await doctorFindings()).toEqual([]);
});

it("a flatten whose flush failed is flushed by doctor's repair before it records the head as standing alone", async () => {
  await b.relaunch({ VMBRANCH_FAILPOINTS: "flatten.before-flush=error" }, "SIGTERM");
  let repaired: unknown[] = [];
  await flattenOnline("flat3", async () => {
    const deadline = Date.now() + 120_000;
    while (!b.serveLog().includes("flattening failed")) {
      if (Date.now() > deadline) throw new Error("the flatten never failed");
      await new Promise((r) => setTimeout(r, 100));
    }
    // The store still names the parent, the head's header stands alone: doctor settles it, serve running on.
    const res = await b.http("POST", "/v1/doctor/repair");
    expect(res.status).toBe(200);
    repaired = (res.body as { data: { doctor: { repaired: { kind: string }[] }[] } }).data.doctor[0]!.repaired;
  });
  expect(repaired.map((f) => (f as { kind: string }).kind)).toContain("backing-chain");
  // The repair settled everything it found: nothing left, before and after the VM is killed.
  expect(await doctorFindings()).toEqual([]);
  await killAndCheck("flat3");
  expect(await doctorFindings()).toEqual([]);
});
