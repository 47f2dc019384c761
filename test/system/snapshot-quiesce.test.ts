// Live snapshots through the guest agent (issue 13): the agent freezes the source's volumes, the
// disks switch while the guest runs and only QEMU's capture pauses it. Under write load every
// branch's file and memory still agree; a guest whose agent does not answer, a volume written
// raw (no filesystem to freeze) and `quiesce: "off"` fall back to the switch inside a pause with
// no error; a branch thaws after its restore and can itself be branched through its agent.
import type { VmbranchClient } from "../../sdk";
import { startBackend, type TestBackend } from "../helpers/backend";
import { consoleOf, rawSequenceWriterProgram, seqs, sequenceWriterProgram, waitSeq } from "../helpers/guest-programs";

jest.setTimeout(600_000);

let backend: TestBackend;
let client: VmbranchClient;

beforeAll(async () => {
  backend = await startBackend();
  client = backend.client;
});
afterAll(async () => {
  await backend?.stop();
});

async function writer(name: string, args: string[]): Promise<void> {
  await client.instances.create({ name, image: "base", memory_mb: 128, args, volumes: [{ name: `${name}-data`, size_mb: 16, at: "/data" }] });
  await client.instances.waitFor(name, "running", { timeoutMs: 120_000 });
  await waitSeq(client, name, 3);
}

/** Branch `source` and check the branch: how its disks were switched, and that its disk and memory agree. */
async function branchAgrees(source: string, name: string, quiesced: boolean, quiesce?: "auto" | "off"): Promise<void> {
  const before = Math.max(0, ...seqs(await consoleOf(client, source)));
  const created = await client.instances.create({ name, branch_from: { name: source }, ...(quiesce ? { quiesce } : {}) });
  expect(created.branch).toMatchObject({ from_memory: true, quiesced });
  await client.instances.waitFor(name, "running", { timeoutMs: 120_000 });
  // Three more sequence lines: the branch writes on (a frozen volume would stop it until thawed).
  const log = await waitSeq(client, name, 3);
  expect(log).not.toContain("MISMATCH");
  expect(seqs(log)[0]).toBeGreaterThanOrEqual(before);
}

describe("a source whose agent answers", () => {
  beforeAll(() => writer("qw", sequenceWriterProgram()));
  afterAll(() => client.instances.delete("qw"));

  it("is branched with its volumes frozen, and each branch's file and memory agree", async () => {
    for (const name of ["qw1", "qw2", "qw3"]) await branchAgrees("qw", name, true);
    const source = await waitSeq(client, "qw", seqs(await consoleOf(client, "qw")).length + 3);
    expect(source).not.toContain("MISMATCH");
    expect(backend.serveLog()).not.toContain("could not thaw");
  });

  it("gives a branch that thawed and whose own agent freezes it for a branch of the branch", async () => {
    await branchAgrees("qw1", "qw1a", true);
    for (const name of ["qw1a", "qw1", "qw2", "qw3"]) await client.instances.delete(name);
  });

  it("switches inside a pause when the request says quiesce off", async () => {
    await branchAgrees("qw", "qwoff", false, "off");
    await client.instances.delete("qwoff");
  });
});

describe("falls back to the switch inside a pause, with no error", () => {
  it("when the guest's agent is stopped and never answers", async () => {
    const program = sequenceWriterProgram()[2]!;
    const hang = "i=0; while [ ! -s /run/vmbranch/agent.pid ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; kill -STOP $(cat /run/vmbranch/agent.pid) && echo AGENT-STOPPED";
    await writer("hung", ["sh", "-c", `${hang}\n${program}`]);
    expect(await consoleOf(client, "hung")).toContain("AGENT-STOPPED");
    await branchAgrees("hung", "hung1", false);
    // The agent stays silent: later snapshots do not wait for it again.
    await branchAgrees("hung", "hung2", false);
    for (const name of ["hung2", "hung1", "hung"]) await client.instances.delete(name);
  });

  it("when the volume is written raw, with no filesystem to freeze", async () => {
    await writer("raw", rawSequenceWriterProgram());
    expect(await consoleOf(client, "raw")).toMatch(/RAW \/dev\/vd[a-z]/);
    await branchAgrees("raw", "raw1", false);
    await branchAgrees("raw", "raw2", false);
    for (const name of ["raw2", "raw1", "raw"]) await client.instances.delete(name);
  });
});
