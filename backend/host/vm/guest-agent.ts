/**
 * The host side of the guest agent (guest/agent, constants in images/guest-protocol.ts): one
 * request and its one answer over the unix socket QEMU listens on for the agent's serial port.
 * The guest is not trusted: an answer is awaited with a deadline, read at most MAX_LINE_BYTES a
 * line and MAX_ANSWER_BYTES in all, and only a line with this request's nonce that matches the
 * grammar exactly counts; whatever else the guest writes is dropped unread. Nothing the guest
 * sends names a host file or reaches anything but these parsers.
 */
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { AGENT_MAX_FREEZE_S, AGENT_PREFIX } from "../images/guest-protocol";

/** Longest line of the agent the host reads; a longer one ends the request. */
export const MAX_LINE_BYTES = 1024;
/** Most bytes read for one request; a guest that writes more is not answering. */
export const MAX_ANSWER_BYTES = 16 * 1024;
/** Most serials in one freeze (the agent refuses more). */
export const MAX_FREEZE_DISKS = 64;

const SERIAL = /^[A-Za-z0-9_-]{1,20}$/;

/** An answer of the agent. */
export type AgentAnswer =
  | { kind: "pong"; version: number }
  | { kind: "frozen"; serials: string[] }
  | { kind: "thawed"; count: number }
  | { kind: "expired" }
  | { kind: "error"; reason: string };

/** The agent did not answer: no socket, no connection, a deadline passed, or it wrote nonsense. */
export class AgentUnavailableError extends Error {
  override name = "AgentUnavailableError";
}

/**
 * The answer in one line the agent wrote, when it is the answer to `nonce`; null for any other
 * line (another request's, noise, or a line that breaks the grammar). Pure.
 */
export function parseAgentLine(line: string, nonce: string): AgentAnswer | null {
  const m = /^([a-z-]+) ([0-9a-f]{1,32}) (.*)$/.exec(line.replace(/\r$/, ""));
  if (!m || m[1] !== AGENT_PREFIX || m[2] !== nonce) return null;
  const rest = m[3]!;
  let r: RegExpExecArray | null;
  if ((r = /^pong ([0-9]{1,6})$/.exec(rest))) return { kind: "pong", version: Number(r[1]) };
  if ((r = /^frozen((?: [A-Za-z0-9_-]{1,20}){0,64})$/.exec(rest))) return { kind: "frozen", serials: r[1]!.split(" ").filter((s) => s !== "") };
  if ((r = /^thawed ([0-9]{1,3})$/.exec(rest))) return { kind: "thawed", count: Number(r[1]) };
  if (rest === "expired") return { kind: "expired" };
  if ((r = /^error ([a-z-]{1,40})$/.exec(rest))) return { kind: "error", reason: r[1]! };
  return null;
}

/** The command line for `command`; throws on arguments the protocol cannot carry. Pure. */
export function agentCommand(command: "ping" | "thaw", nonce: string): string;
export function agentCommand(command: "freeze", nonce: string, seconds: number, serials: readonly string[]): string;
export function agentCommand(command: "ping" | "thaw" | "freeze", nonce: string, seconds?: number, serials: readonly string[] = []): string {
  if (!/^[0-9a-f]{1,32}$/.test(nonce)) throw new Error(`bad agent nonce '${nonce}'`);
  if (command !== "freeze") return `${command} ${nonce}\n`;
  if (!Number.isInteger(seconds) || seconds! < 1 || seconds! > AGENT_MAX_FREEZE_S) throw new Error(`freeze seconds must be 1..${AGENT_MAX_FREEZE_S}, got ${seconds}`);
  if (serials.length > MAX_FREEZE_DISKS) throw new Error(`at most ${MAX_FREEZE_DISKS} disks freeze at once`);
  for (const s of serials) if (!SERIAL.test(s)) throw new Error(`bad disk serial '${s}'`);
  return `freeze ${nonce} ${seconds} ${serials.join(" ")}`.trimEnd() + "\n";
}

/** Send one command on `socketPath` and resolve with the agent's answer to it; AgentUnavailableError otherwise. */
export function agentRequest(socketPath: string, build: (nonce: string) => string, timeoutMs: number): Promise<AgentAnswer> {
  const nonce = randomBytes(8).toString("hex");
  const line = build(nonce);
  return new Promise((resolve, reject) => {
    let pending = "";
    let total = 0;
    let settled = false;
    const sock = connect(socketPath);
    const finish = (err: Error | null, answer?: AgentAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(new AgentUnavailableError(`no answer from the guest agent within ${timeoutMs} ms`)), timeoutMs);
    sock.on("error", (err) => finish(new AgentUnavailableError(`guest agent channel: ${err.message}`)));
    sock.on("close", () => finish(new AgentUnavailableError("guest agent channel closed")));
    sock.on("connect", () => sock.write(line));
    sock.on("data", (chunk: Buffer) => {
      total += chunk.length;
      if (total > MAX_ANSWER_BYTES) return finish(new AgentUnavailableError(`the guest wrote more than ${MAX_ANSWER_BYTES} bytes without answering`));
      // latin1: one byte, one character; nothing the guest sends is decoded beyond that.
      pending += chunk.toString("latin1");
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const answer = parseAgentLine(pending.slice(0, nl), nonce);
        pending = pending.slice(nl + 1);
        if (answer) return finish(null, answer);
      }
      if (pending.length > MAX_LINE_BYTES) finish(new AgentUnavailableError(`the guest wrote a line longer than ${MAX_LINE_BYTES} bytes`));
    });
  });
}
