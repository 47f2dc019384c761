// A serve that runs its host's VMs and disks through a real `vmbranch agent` process (issue 15):
// every VM, disk file and snapshot here is made by the agent over its authenticated API. Branches
// continue their source's memory; the agent's VMs outlive the agent, and a started agent hands
// them back to serve (acting on them, and reporting one that ended meanwhile); the agent refuses
// callers without its token and commands of an older control-plane term, and file transfers
// outside its directories' data files; a killed agent's partial file is swept at its next start;
// doctor finds nothing.
// The tests run in order on one serve and agent.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SdkError } from "../../sdk";
import type { TestBackend } from "../helpers/backend";
import { counterProgram, waitTicks } from "../helpers/guest-programs";
import { startAgentBackend, type AgentBackend, type TestAgent } from "../helpers/host-agent";
import { doctorReport, waitWriting } from "../helpers/serve-checks";

jest.setTimeout(240_000);

let dataDir: string;
let agent: TestAgent | undefined;
let b: TestBackend | undefined;
let both: AgentBackend | undefined;

beforeAll(async () => {
  // Offline after 30 s without a heartbeat rather than 60: the second test waits for it.
  both = await startAgentBackend({}, { VMBRANCH_HOST_OFFLINE_AFTER_S: "30" });
  ({ agent, b, dataDir } = both);
});
afterAll(() => both?.stop());

/** Wait until serve's (one) host is `state`, as its heartbeats find it. */
async function waitHost(state: "online" | "offline"): Promise<void> {
  const deadline = Date.now() + 90_000;
  while ((await b!.client.hosts.list())[0]!.state !== state) {
    if (Date.now() > deadline) throw new Error(`the host did not become ${state}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The parent pid of process `pid`. */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** The agent's answer to a raw call. */
async function agentCall(o: { token?: string | null; epoch?: string | null; body?: unknown }): Promise<{ status: number; error?: { name: string; message: string } }> {
  const token = o.token === undefined ? readFileSync(agent!.tokenFile, "utf8").trim() : o.token;
  const res = await fetch(`${agent!.url}/agent/v1/call`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
      ...(o.epoch !== null ? { "x-vmbranch-epoch": o.epoch ?? "1" } : {}),
    },
    body: JSON.stringify(o.body ?? { target: "vm", method: "memory", args: [] }),
  });
  const body = (await res.json()) as { error?: { name: string; message: string } };
  return { status: res.status, ...(body.error ? { error: body.error } : {}) };
}

test("instances, volumes and branches run on the agent's host: its VMs are the agent's, and a branch continues its source's memory", async () => {
  const client = b!.client;
  await client.instances.create({ name: "src", image: "base", memory_mb: 256, args: counterProgram(), volumes: [{ size_mb: 16, at: "/data" }] });
  await client.instances.waitFor("src", "running", { timeoutMs: 120_000 });
  const before = await waitTicks(b!.client, "src", (t) => t.length >= 2);
  // The agent launched it (QEMU is the agent's child), not serve.
  const [pid] = b!.vmPids();
  expect(parentOf(pid!)).toBe(agent!.pid());
  const br = await client.instances.create({ name: "br", branch_from: { name: "src" } });
  expect(br.branch).toMatchObject({ from_memory: true });
  await client.instances.waitFor("br", "running", { timeoutMs: 120_000 });
  // Same memory: the counter goes on from where the source was; vmgenid: the kernel saw a fork.
  const t = await waitTicks(b!.client, "br", (x) => x.some((k) => k.fork === 1));
  expect(t[0]!.tick).toBeGreaterThanOrEqual(before.at(-1)!.tick);
  expect((await client.instances.get("src")).state).toBe("running");
  expect(b!.vmPids()).toHaveLength(2);
});

test("the agent's VMs outlive it, its host goes offline and back; started again, it hands them back: serve stops one and learns that another ended meanwhile", async () => {
  const client = b!.client;
  const pids = b!.vmPids().sort();
  await agent!.kill();
  // Reads keep working; an action needs the agent and says so, changing nothing.
  expect((await client.instances.get("br")).state).toBe("running");
  const refused = await client.instances.stop("br").then(() => null, (e: unknown) => e);
  expect(refused).toBeInstanceOf(SdkError);
  expect(refused).toMatchObject({ code: "HOST_FAILURE", message: expect.stringMatching(/agent at http:\/\/127\.0\.0\.1:\d+ cannot be reached/) });
  expect((await client.instances.get("br")).state).toBe("running");
  expect(b!.vmPids().sort()).toEqual(pids);
  // Its heartbeats cannot be read: once the last is 30 s old the host is offline, and so is
  // everything on it (refused with 409, the recorded state kept, the VMs untouched).
  await waitHost("offline");
  expect(await client.instances.get("br")).toMatchObject({ state: "running", host_state: "offline" });
  await expect(client.instances.stop("br")).rejects.toMatchObject({ status: 409, code: "HOST_OFFLINE" });
  expect(b!.vmPids().sort()).toEqual(pids);
  await agent!.start();
  await waitHost("online");
  await waitWriting(b!, "src");
  expect((await client.instances.stop("br")).state).toBe("stopped");
  expect(b!.vmPids()).toHaveLength(1);
  // A VM that ends while its agent is away is reported as it is once the agent is back.
  await agent!.kill();
  const [srcPid] = b!.vmPids();
  process.kill(srcPid!, "SIGKILL");
  await agent!.start();
  const src = await client.instances.waitFor("src", ["stopped", "error"], { timeoutMs: 60_000 });
  expect(src.state).toBe("stopped");
  expect(b!.vmPids()).toEqual([]);
  // And it starts again on the agent's host, with its volume's data.
  await client.instances.start("src");
  await client.instances.waitFor("src", "running", { timeoutMs: 120_000 });
  await waitTicks(b!.client, "src", (x) => x.length >= 1 && x.at(-1)!.f0 > 2);
});

test("the agent answers only its control plane: no or a wrong token is 401, an older term 409, an unknown call 400", async () => {
  // A restart of serve begins a newer term, and attaches the running VM through the agent.
  await b!.restart(agent!.serveArgs);
  await waitWriting(b!, "src");
  const epoch = Number(readFileSync(join(dataDir, "agent", "epoch"), "utf8"));
  expect(epoch).toBeGreaterThanOrEqual(2);
  expect(await agentCall({ token: null })).toMatchObject({ status: 401, error: { message: expect.stringMatching(/valid agent token/) } });
  expect(await agentCall({ token: "x".repeat(32) })).toMatchObject({ status: 401 });
  expect(await agentCall({ epoch: null })).toMatchObject({ status: 400, error: { message: expect.stringMatching(/x-vmbranch-epoch/) } });
  expect(await agentCall({ epoch: String(epoch - 1) })).toMatchObject({
    status: 409,
    error: { name: "StaleEpoch", message: `this command comes from control-plane term ${epoch - 1}, but term ${epoch} has begun since: only the newest term may act on this host` },
  });
  expect(await agentCall({ epoch: String(epoch), body: { target: "vm", method: "constructor", args: [] } })).toMatchObject({ status: 400, error: { name: "BadCall" } });
  expect(await agentCall({ epoch: String(epoch) })).toMatchObject({ status: 200 });
  // The refused calls changed nothing: serve still drives the host.
  expect((await b!.client.instances.stop("src")).state).toBe("stopped");
});

test("the agent's file routes reach only data files in its directories, and a part file a killed agent left is gone at its next start", async () => {
  const epoch = readFileSync(join(dataDir, "agent", "epoch"), "utf8").trim();
  const headers = { authorization: `Bearer ${readFileSync(agent!.tokenFile, "utf8").trim()}`, "x-vmbranch-epoch": epoch };
  const refusal = (p: string) => ({ name: "BadCall", message: `file path '${p}' is not a disk, RAM or device-state file in a directory this agent keeps for its control plane` });
  const get = await fetch(`${agent!.url}/agent/v1/file?${new URLSearchParams({ path: "/etc/passwd" })}`, { headers });
  expect(get.status).toBe(400);
  expect(((await get.json()) as { error: unknown }).error).toMatchObject(refusal("/etc/passwd"));
  // The agent's own token cannot be replaced either, nor a disk file put beside it by way of `..`.
  const tokenFile = agent!.tokenFile;
  const token = readFileSync(tokenFile, "utf8");
  for (const path of [tokenFile, `${dataDir}/disks/../agent/x.qcow2`]) {
    const put = await fetch(`${agent!.url}/agent/v1/file?${new URLSearchParams({ path })}`, { method: "PUT", headers: { ...headers, "content-type": "application/octet-stream" }, body: "not a token" });
    expect(put.status).toBe(400);
    expect(((await put.json()) as { error: unknown }).error).toMatchObject(refusal(path));
  }
  expect(readFileSync(tokenFile, "utf8")).toBe(token);
  expect(existsSync(join(dataDir, "agent", "x.qcow2"))).toBe(false);
  // A layer that was being received when its agent was killed: the next agent removes it before it answers.
  await agent!.kill();
  const disks = readdirSync(join(dataDir, "disks")).sort();
  const part = join(dataDir, "disks", "0b7d3e.qcow2.part-4194301-k3x9q");
  writeFileSync(part, "half a layer", { mode: 0o600 });
  await agent!.start();
  expect(existsSync(part)).toBe(false);
  expect(readdirSync(join(dataDir, "disks")).sort()).toEqual(disks);
  await waitHost("online");
});

test("doctor, through the agent, finds nothing wrong, and deleting everything leaves no file", async () => {
  await b!.client.instances.delete("br");
  const report = await doctorReport(b!);
  expect(report.findings).toEqual([]);
  await b!.client.instances.delete("src");
  for (const v of await b!.client.volumes.list()) await b!.client.volumes.delete(v.name);
  expect((await doctorReport(b!)).findings).toEqual([]);
  expect(b!.vmPids()).toEqual([]);
});
