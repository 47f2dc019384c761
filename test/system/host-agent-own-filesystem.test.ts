// A serve whose host agent has a filesystem of its own (issue 15): the agent runs in a mount
// namespace where the data dir's path and /dev/shm are empty tmpfs mounts, as on another
// machine, so anything serve did to its own files instead of asking the agent would show here.
// The agent makes the data dir's layout when serve connects; every disk, run directory, snapshot
// and import lands on the agent's side and none on serve's; branches, stop and start, an import
// streamed through the agent, a clone, doctor and deletes all work.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestBackend } from "../helpers/backend";
import { counterProgram, waitForConsole, waitTicks } from "../helpers/guest-programs";
import { startAgentBackend, type AgentBackend } from "../helpers/host-agent";
import { doctorReport } from "../helpers/serve-checks";

jest.setTimeout(240_000);

let dataDir: string;
let b: TestBackend | undefined;
let both: AgentBackend | undefined;

beforeAll(async () => {
  both = await startAgentBackend({ ownFilesystem: true });
  ({ b, dataDir } = both);
});
afterAll(() => both?.stop());

/** Entries of a directory of serve's own data dir (none when it is missing). */
function servesOwn(dir: string): string[] {
  try {
    return readdirSync(join(dataDir, dir));
  } catch {
    return [];
  }
}

test("instances, branches, stop and start run on the agent's filesystem, and serve's own holds none of their files", async () => {
  const client = b!.client;
  await client.instances.create({ name: "src", image: "base", memory_mb: 256, args: counterProgram(), volumes: [{ size_mb: 16, at: "/data" }] });
  await client.instances.waitFor("src", "running", { timeoutMs: 120_000 });
  const before = await waitTicks(b!.client, "src", (t) => t.length >= 2);
  await client.instances.create({ name: "br", branch_from: { name: "src" } });
  await client.instances.waitFor("br", "running", { timeoutMs: 120_000 });
  const t = await waitTicks(b!.client, "br", (x) => x.some((k) => k.fork === 1));
  expect(t[0]!.tick).toBeGreaterThanOrEqual(before.at(-1)!.tick);
  // Two VMs, their disks, run directories and the branch's snapshot: all on the agent's side.
  expect(b!.vmPids()).toHaveLength(2);
  expect({ disks: servesOwn("disks"), run: servesOwn("run"), snapshots: servesOwn("snapshots") }).toEqual({ disks: [], run: [], snapshots: [] });
  // A stopped source starts again from its own disk there: its log file kept its lines.
  await client.instances.stop("src");
  const lines = (await waitTicks(b!.client, "src", (x) => x.length > 0)).at(-1)!.f0;
  await client.instances.start("src");
  await client.instances.waitFor("src", "running", { timeoutMs: 120_000 });
  await waitTicks(b!.client, "src", (x) => x.at(-1)!.f0 > lines + 1);
});

test("an import streams through the agent into a volume on its host, and a clone of it is made there", async () => {
  const client = b!.client;
  const src = await mkdtemp(join(tmpdir(), "vmbranch-test-tar-"));
  try {
    execFileSync("sh", ["-c", `echo 'imported through the agent' > ${src}/hello.txt`]);
    const tar = execFileSync("tar", ["-C", src, "-cf", "-", "hello.txt"]);
    await client.volumes.create({ name: "data", size_mb: 16 });
    await client.volumes.import("data", new Uint8Array(tar));
  } finally {
    await rm(src, { recursive: true, force: true });
  }
  await client.volumes.cloneFrom("data", { vol_name: "data-copy" });
  await client.volumes.waitFor("data-copy", "available", { timeoutMs: 60_000 });
  await client.instances.create({ name: "reader", image: "base", args: ["sh", "-c", "cat /data/hello.txt; exec sleep 600"], volumes: [{ name: "data-copy", at: "/data" }] });
  await waitForConsole(client, "reader", (log) => log.includes("imported through the agent"), "the imported file read from the clone");
  expect(servesOwn("disks")).toEqual([]);
  expect(servesOwn("tmp")).toEqual([]);
});

test("doctor checks the agent's host and finds nothing wrong; deleting everything leaves nothing there", async () => {
  const client = b!.client;
  expect((await doctorReport(b!)).findings).toEqual([]);
  for (const i of await client.instances.list()) await client.instances.delete(i.name);
  for (const v of await client.volumes.list()) await client.volumes.delete(v.name);
  expect((await doctorReport(b!)).findings).toEqual([]);
  expect(b!.vmPids()).toEqual([]);
});
