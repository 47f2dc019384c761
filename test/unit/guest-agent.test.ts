// The host side of the guest agent protocol (backend/host/vm/guest-agent.ts): the guest is an
// attacker, so only exact answers to the request's own nonce count, and whatever else it writes
// (other nonces, long lines, floods, silence, a closed channel) ends in AgentUnavailableError.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentUnavailableError, MAX_ANSWER_BYTES, MAX_LINE_BYTES, agentCommand, agentRequest, parseAgentLine } from "../../backend/host/vm/guest-agent";

const N = "0123456789abcdef";

describe("parseAgentLine", () => {
  it.each<[string, unknown]>([
    [`vmbranch-agent ${N} pong 1`, { kind: "pong", version: 1 }],
    [`vmbranch-agent ${N} frozen`, { kind: "frozen", serials: [] }],
    [`vmbranch-agent ${N} frozen abc_1 d-2\r`, { kind: "frozen", serials: ["abc_1", "d-2"] }],
    [`vmbranch-agent ${N} thawed 2`, { kind: "thawed", count: 2 }],
    [`vmbranch-agent ${N} expired`, { kind: "expired" }],
    [`vmbranch-agent ${N} error bad-seconds`, { kind: "error", reason: "bad-seconds" }],
  ])("reads %j", (line, answer) => {
    expect(parseAgentLine(line, N)).toEqual(answer);
  });

  it.each([
    `vmbranch-agent fedcba9876543210 frozen a`, // another request's answer
    `vmbranch-agent ${N.toUpperCase()} thawed 1`,
    `other-agent ${N} thawed 1`,
    ` vmbranch-agent ${N} thawed 1`,
    `vmbranch-agent ${N} thawed 1 extra`,
    `vmbranch-agent ${N} thawed 1234`,
    `vmbranch-agent ${N} frozen ../../etc/passwd`,
    `vmbranch-agent ${N} frozen ${"a".repeat(21)}`,
    `vmbranch-agent ${N} frozen${" a".repeat(65)}`,
    `vmbranch-agent ${N} pong`,
    `vmbranch-agent ${N} error Bad Reason`,
    `vmbranch-agent ${N} thawed 1\n`,
    "",
  ])("ignores %j", (line) => {
    expect(parseAgentLine(line, N)).toBeNull();
  });
});

describe("agentCommand", () => {
  it("writes one line per command", () => {
    expect(agentCommand("ping", N)).toBe(`ping ${N}\n`);
    expect(agentCommand("thaw", N)).toBe(`thaw ${N}\n`);
    expect(agentCommand("freeze", N, 10, ["aa", "bb"])).toBe(`freeze ${N} 10 aa bb\n`);
    expect(agentCommand("freeze", N, 10, [])).toBe(`freeze ${N} 10\n`);
  });

  it("refuses what the protocol cannot carry", () => {
    expect(() => agentCommand("thaw", "xyz")).toThrow(/nonce/);
    expect(() => agentCommand("freeze", N, 0, ["a"])).toThrow(/seconds/);
    expect(() => agentCommand("freeze", N, 61, ["a"])).toThrow(/seconds/);
    expect(() => agentCommand("freeze", N, 5, ["a b"])).toThrow(/serial/);
    expect(() => agentCommand("freeze", N, 5, ["a\nthaw"])).toThrow(/serial/);
    expect(() => agentCommand("freeze", N, 5, Array.from({ length: 65 }, (_, i) => `d${i}`))).toThrow(/at most 64/);
  });
});

describe("agentRequest against a scripted guest", () => {
  let dir: string;
  let server: Server;
  let socket: string;
  let script: (line: string, peer: Socket) => void;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "vmb-agent-"));
    socket = join(dir, "ga.sock");
    server = createServer((peer) => {
      let buf = "";
      peer.on("data", (d) => {
        buf += d.toString();
        const nl = buf.indexOf("\n");
        if (nl >= 0) script(buf.slice(0, nl), peer);
      });
      peer.on("error", () => undefined);
    });
    await new Promise<void>((r) => server.listen(socket, r));
  });
  afterEach(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  const nonceOf = (line: string) => line.split(" ")[1]!;

  it("skips noise and stale answers and resolves with the answer to its own nonce", async () => {
    script = (line, peer) => {
      expect(line).toMatch(/^freeze [0-9a-f]{16} 10 s1 s2$/);
      peer.write(`garbage\nvmbranch-agent ffffffffffffffff frozen s1 s2\nvmbranch-agent ${nonceOf(line)} fro`);
      setTimeout(() => peer.write(`zen s1 s2\n`), 20);
    };
    await expect(agentRequest(socket, (n) => agentCommand("freeze", n, 10, ["s1", "s2"]), 5000)).resolves.toEqual({ kind: "frozen", serials: ["s1", "s2"] });
  });

  it("gives up on silence, a closed channel, a missing socket, an endless line and a flood", async () => {
    script = () => undefined;
    await expect(agentRequest(socket, (n) => agentCommand("ping", n), 200)).rejects.toThrow(AgentUnavailableError);
    script = (_line, peer) => peer.end();
    await expect(agentRequest(socket, (n) => agentCommand("ping", n), 5000)).rejects.toThrow(/closed/);
    await expect(agentRequest(join(dir, "none.sock"), (n) => agentCommand("ping", n), 5000)).rejects.toThrow(AgentUnavailableError);
    script = (_line, peer) => peer.write("x".repeat(MAX_LINE_BYTES + 1));
    await expect(agentRequest(socket, (n) => agentCommand("ping", n), 5000)).rejects.toThrow(/longer than/);
    script = (_line, peer) => peer.write("x\n".repeat(MAX_ANSWER_BYTES));
    await expect(agentRequest(socket, (n) => agentCommand("ping", n), 5000)).rejects.toThrow(/more than/);
  });
});
