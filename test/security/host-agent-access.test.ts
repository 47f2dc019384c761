// How serve reaches a host agent, as an attacker on the network would try it (issue 15): serve
// sends the agent's token in clear text only to a loopback agent, verifies an https agent's
// certificate against the CA it is given and refuses one it cannot verify, and refuses to start
// with a token the agent rejects; a working https agent runs the host's disks.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBackend } from "../helpers/backend";
import { startAgent, type TestAgent } from "../helpers/host-agent";

jest.setTimeout(120_000);

let certDir: string;
let cert: string;
let key: string;

beforeAll(() => {
  certDir = mkdtempSync(join(tmpdir(), "vmbranch-test-tls-"));
  [cert, key] = [join(certDir, "cert.pem"), join(certDir, "key.pem")];
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], { stdio: "ignore" });
});
afterAll(() => rmSync(certDir, { recursive: true, force: true }));

/** Run `fn` with an agent on a new data dir, removing both afterwards (serve is the caller's). */
async function withAgent(o: Parameters<typeof startAgent>[1], fn: (agent: TestAgent, dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "vmbranch-test-"));
  const agent = await startAgent(dataDir, o);
  try {
    await fn(agent, dataDir);
  } finally {
    await agent.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

test("serve refuses to send the agent's token over plain HTTP off this machine", async () => {
  await withAgent({}, async (agent, dataDir) => {
    const start = startBackend({ dataDir: await mkdtemp(join(dataDir, "serve-")), args: ["--agent", "http://192.0.2.1:7481", "--agent-token-file", agent.tokenFile] });
    await expect(start).rejects.toThrow(/--agent 'http:\/\/192\.0\.2\.1:7481' is not on this machine: reach it over https, so its token does not cross the network in clear text/);
  });
});

test("over https, serve uses the agent only with a certificate it can verify, and only with the agent's token", async () => {
  await withAgent({ tls: { cert, key } }, async (agent, dataDir) => {
    expect(agent.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    // Without the CA the agent's self-signed certificate is not trusted: serve does not start.
    const noCa = startBackend({ dataDir: await mkdtemp(join(dataDir, "serve-")), args: ["--agent", agent.url, "--agent-token-file", agent.tokenFile] });
    await expect(noCa).rejects.toThrow(/cannot use the agent at https:\/\/127\.0\.0\.1:\d+: .*cannot be reached: .*(self-signed|certificate)/);
    // A token the agent does not know: refused before anything is done.
    const wrong = join(dataDir, "wrong-token");
    writeFileSync(wrong, "a".repeat(32) + "\n", { mode: 0o600 });
    const badToken = startBackend({ dataDir: await mkdtemp(join(dataDir, "serve-")), args: ["--agent", agent.url, "--agent-token-file", wrong, "--agent-ca", cert] });
    await expect(badToken).rejects.toThrow(/cannot use the agent at https:\/\/127\.0\.0\.1:\d+: this agent answers only its control plane: a valid agent token is required/);
    // With both, the host's disks are the agent's: a volume is made through it.
    const b = await startBackend({ dataDir, args: agent.serveArgs });
    try {
      const v = await b.client.volumes.create({ name: "over-tls", size_mb: 8 });
      expect(v.state).toBe("available");
      expect((await b.client.hosts.list())[0]!.memory_total_mib).toBeGreaterThan(0);
      await b.client.volumes.delete("over-tls");
    } finally {
      await agent.stop();
      await b.stop();
    }
  });
});
