// A VM whose QEMU is alive but does not answer when serve restarts (issue 10, "a reattach that
// fails on a live pid marks the instance error and retries; nothing of a live pid is ever
// deleted"). The QEMU is stopped with SIGSTOP, so its monitor accepts a connection but never
// greets: serve records the instance `error` and keeps retrying. Through every retry, also while
// one is under way, a delete and a start are refused and QEMU and its disk are left alone; once
// QEMU runs again a retry reattaches it and the instance is `running` with the guest still writing.
import { existsSync, readFileSync } from "node:fs";
import { expectError, raw, volumeHead } from "../backend/support";
import { startBackend, type TestBackend } from "../helpers/backend";
import { counterProgram, parseTicks } from "../helpers/guest-programs";

jest.setTimeout(300_000);

let b: TestBackend;

beforeAll(async () => {
  b = await startBackend();
  await b.client.instances.create({ name: "mute", image: "base", memory_mb: 128, args: counterProgram("/data"), volumes: [{ name: "mute-data", size_mb: 16, at: "/data" }] });
  await b.client.instances.waitFor("mute", "running", { timeoutMs: 120_000 });
});
afterAll(async () => {
  await b?.stop();
});

/** The state letter of process `pid` in /proc (T: stopped by a signal), or null once it is gone. */
function procState(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[0]!;
  } catch {
    return null;
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function instance(): Promise<{ state: string; stop_reason: string | null }> {
  const res = await raw(b, "GET", "/v1/instances/mute");
  expect(res.status).toBe(200);
  return res.body.data.instances[0];
}

it("an instance whose QEMU does not answer at a restart is error, untouchable, and running again once QEMU answers", async () => {
  const [pid] = b.vmPids();
  expect(b.vmPids()).toHaveLength(1);
  const disk = volumeHead(b.dataDir, "mute-data");
  expect(existsSync(disk)).toBe(true);
  process.kill(pid!, "SIGSTOP");
  try {
    await until("QEMU stopped", async () => (procState(pid!) === "T" ? true : undefined), 10_000);
    await b.relaunch({}, "SIGTERM");
    const inst = await instance();
    expect(inst.state).toBe("error");
    expect(inst.stop_reason).toMatch(/did not answer when vmbranch restarted/);
    // Several rounds, so that some requests land while a retry is connecting (its connect takes
    // as long as the wait between retries): none of them may act on the instance.
    for (let i = 0; i < 12; i++) {
      expectError(await raw(b, "DELETE", "/v1/instances/mute"), 409, "INVALID_STATE", /has not answered since vmbranch restarted/);
      expectError(await raw(b, "PUT", "/v1/instances/mute/start"), 409, "INVALID_STATE", /has not answered since vmbranch restarted/);
      expect(b.vmPids()).toEqual([pid]);
      expect(procState(pid!)).toBe("T");
      expect(existsSync(disk)).toBe(true);
      expect((await instance()).state).toBe("error");
      await new Promise((r) => setTimeout(r, 1_000));
    }
  } finally {
    // Never leave a stopped QEMU behind, whatever failed above (afterAll then ends it).
    process.kill(pid!, "SIGCONT");
  }
  await until("the instance running again", async () => ((await instance()).state === "running" ? true : undefined));
  // The same QEMU, adopted again: the guest goes on writing to the same disk.
  expect(b.vmPids()).toEqual([pid]);
  const seen = parseTicks((await b.client.instances.log("mute", { limit: 4 * 1024 * 1024 })).output).length;
  await until("the guest writing again", async () => {
    const now = parseTicks((await b.client.instances.log("mute", { limit: 4 * 1024 * 1024 })).output).length;
    return now >= seen + 2 ? true : undefined;
  });
  expect(volumeHead(b.dataDir, "mute-data")).toBe(disk);
  // Now reachable, the instance can be deleted as usual, its QEMU with it.
  expect((await raw(b, "DELETE", "/v1/instances/mute")).status).toBe(200);
  expect(b.vmPids()).toEqual([]);
});
