// How agents join a control plane (docs/cluster.md, "Adding a host"), no VM booted: each agent
// names its host and serve records it under that name; several agents need a PostgreSQL control
// plane; two agents claiming one host, a --host-name beside --agent, token files that do not
// match the agents, or one agent of several that rejects its token stop serve before it starts,
// with the exact message.
import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBackend } from "../helpers/backend";
import { startAgent, type TestAgent } from "../helpers/host-agent";
import { startPostgres, type TestPostgres } from "../helpers/postgres";

jest.setTimeout(120_000);

let root: string;
let pg: TestPostgres;
const agents: TestAgent[] = [];

/** An agent for host `name` on a data dir of its own. */
async function agentFor(name: string): Promise<TestAgent> {
  const dir = await mkdtemp(join(root, `${name}-`));
  const a = await startAgent(dir, { hostName: name });
  agents.push(a);
  return a;
}

/** A new data dir for a serve under test. */
const serveDir = () => mkdtemp(join(root, "serve-"));

let one: TestAgent;
let two: TestAgent;
let twin: TestAgent;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "vmbranch-test-"));
  pg = await startPostgres();
  one = await agentFor("box-1");
  two = await agentFor("box-2");
  twin = await agentFor("box-1");
});
afterAll(async () => {
  for (const a of agents) await a.stop();
  pg?.stop();
  await rm(root, { recursive: true, force: true });
});

test("serve records each agent's host under the name the agent gives, and heartbeats them all", async () => {
  const b = await startBackend({
    dataDir: await serveDir(), testStore: false,
    args: ["--store", pg.createDatabase("joined"), "--agent", one.url, "--agent-token-file", one.tokenFile, "--agent", two.url, "--agent-token-file", two.tokenFile],
  });
  try {
    const hosts = await b.client.hosts.list();
    expect(hosts.map((h) => [h.name, h.state])).toEqual([["box-1", "online"], ["box-2", "online"]]);
    for (const h of hosts) expect(h.memory_total_mib).toBeGreaterThan(0);
    // A volume asked for on box-2 is made by box-2's agent, in its data dir.
    expect((await b.client.volumes.create({ name: "on-two", size_mb: 8, host: "box-2" })).host).toBe("box-2");
    await b.client.volumes.delete("on-two");
  } finally {
    await b.stop();
  }
});

describe("serve refuses before it starts", () => {
  const refused = async (args: string[], message: RegExp) => {
    await expect(startBackend({ dataDir: await serveDir(), testStore: false, args })).rejects.toThrow(message);
  };

  it("several agents on a SQLite state", async () => {
    await refused(
      ["--agent", one.url, "--agent-token-file", one.tokenFile, "--agent", two.url, "--agent-token-file", two.tokenFile],
      /serve exited with 2: vmbranch serve: several --agent hosts need a PostgreSQL control plane: give --store postgres:\/\/\.\.\./,
    );
  });

  it("a --host-name beside --agent: the agent names its host", async () => {
    await refused(
      ["--agent", one.url, "--agent-token-file", one.tokenFile, "--host-name", "box-9"],
      /vmbranch serve: --host-name does not go with --agent: each agent names its host \(vmbranch agent --host-name\)/,
    );
  });

  it("token files that match neither all agents nor each", async () => {
    const files = ["--agent-token-file", one.tokenFile, "--agent-token-file", two.tokenFile];
    await refused(
      ["--store", pg.url(), "--agent", one.url, "--agent", two.url, "--agent", twin.url, ...files],
      /vmbranch serve: give --agent-token-file once for all agents or once per --agent \(3\), not 2 times/,
    );
  });

  it("two agents that run the same host", async () => {
    await refused(
      ["--store", pg.createDatabase("twins"), "--agent", one.url, "--agent-token-file", one.tokenFile, "--agent", twin.url, "--agent-token-file", twin.tokenFile],
      new RegExp(`the agents at ${one.url} and ${twin.url} both run host 'box-1': give each agent its own --host-name`),
    );
  });

  it("one agent of several that rejects its token", async () => {
    const wrong = join(root, "wrong-token");
    writeFileSync(wrong, "b".repeat(32) + "\n", { mode: 0o600 });
    await refused(
      ["--store", pg.createDatabase("wrong"), "--agent", one.url, "--agent-token-file", one.tokenFile, "--agent", two.url, "--agent-token-file", wrong],
      new RegExp(`cannot use the agent at ${two.url}: this agent answers only its control plane: a valid agent token is required`),
    );
  });
});
