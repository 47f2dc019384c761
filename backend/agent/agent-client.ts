/**
 * The control plane's connection to one agent: calls made with the agent's token and the
 * current term's epoch, answers decoded, the agent's errors rethrown as the host errors they
 * were. A call that cannot reach the agent fails at once (it is not retried: a launch or a
 * snapshot must not run twice); only long polls retry, in the remote handle.
 */
import { readFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { Agent, request, type Dispatcher } from "undici";
import type { HostFailure, HostFailureDetail } from "../host/host-failure";
import type { SentFile } from "../host/storage-driver";
import type { AgentDescription } from "./agent-app";
import { AGENT_PATH, EPOCH_HEADER, decode, encode, errorFromWire, type AgentTarget, type WireError } from "./wire";

/** How to reach an agent. */
export interface AgentEndpoint {
  /** `http(s)://host:port` of the agent. */
  url: string;
  token: string;
  /** PEM file of the CA that signed an https agent's certificate (default: the system's CAs). */
  caFile?: string;
}

/** How long a call that does no real work (a reading, a description) may take before the agent counts as unreachable. */
export const QUICK_CALL_MS = 5_000;

/**
 * An agent could not be reached (connection refused or cut, or no answer in time): a host failure, which core reports
 * as HOST_FAILURE naming the agent, with the cause in the service log.
 */
export class AgentUnreachable extends Error implements HostFailure {
  override name = "AgentUnreachable";
  readonly hostFailure: HostFailureDetail;

  constructor(url: string, what: string, cause: string) {
    super(`the host's agent at ${url} cannot be reached: ${cause}`);
    this.hostFailure = { command: `agent ${what}`, summary: `the host's agent at ${url} cannot be reached`, exitCode: null, output: cause };
  }
}

/** Calls to one agent, under the epoch `epoch()` gives at each call. */
export class AgentClient {
  private readonly dispatcher: Dispatcher;

  constructor(
    private readonly endpoint: AgentEndpoint,
    private readonly epoch: () => number,
  ) {
    // Long polls hold a connection up to LONG_POLL_MS; a ready() waits out a boot.
    this.dispatcher = new Agent({
      headersTimeout: 0,
      bodyTimeout: 0,
      ...(endpoint.caFile ? { connect: { ca: readFileSync(endpoint.caFile) } } : {}),
    });
  }

  /** Where the agent is. */
  get url(): string {
    return this.endpoint.url;
  }

  /** What the agent offers (read when connecting). */
  async describe(): Promise<AgentDescription> {
    return (await this.send("GET", `${AGENT_PATH}/host`, undefined, "application/json", QUICK_CALL_MS)) as AgentDescription;
  }

  /**
   * Call `method` of `target` with `args`; resolves with its decoded result. With `timeoutMs`, an
   * agent that does not answer in time counts as unreachable (a partition drops packets rather
   * than refusing them); without, the call waits as long as the work takes (a boot, a copy).
   */
  async call<T>(target: AgentTarget, method: string, args: unknown[], timeoutMs?: number): Promise<T> {
    const body = JSON.stringify({ target, method, args: encode(args) });
    const answer = (await this.send("POST", `${AGENT_PATH}/call`, body, "application/json", timeoutMs)) as { value: unknown };
    return decode(answer.value) as T;
  }

  /** Stream a tar archive into `dir` on the agent's host. */
  async extract(input: Readable, dir: string, limits: { maxBytes: number; maxEntries: number; idleTimeoutMs: number }): Promise<void> {
    const q = new URLSearchParams({ dir, maxBytes: String(limits.maxBytes), maxEntries: String(limits.maxEntries), idleTimeoutMs: String(limits.idleTimeoutMs) });
    await this.send("PUT", `${AGENT_PATH}/extract?${q}`, input, "application/x-tar");
  }

  /** The bytes of the file at `path` on the agent's host. */
  async openRead(path: string): Promise<SentFile> {
    const where = `${AGENT_PATH}/file?${new URLSearchParams({ path })}`;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(new URL(where, this.endpoint.url), { method: "GET", dispatcher: this.dispatcher, headers: this.headers() });
    } catch (err) {
      throw new AgentUnreachable(this.endpoint.url, "GET /file", (err as Error).message);
    }
    if (res.statusCode >= 400) {
      const parsed = (await res.body.json().catch(() => ({}))) as { error?: WireError };
      throw parsed.error ? errorFromWire(parsed.error) : new Error(`the host's agent answered ${res.statusCode}`);
    }
    const bytes = Number(res.headers["content-length"]);
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      res.body.destroy();
      throw new Error(`the host's agent sent ${path} without its length`);
    }
    return { stream: res.body, bytes };
  }

  /** Write the `bytes` bytes of `input` to `path` on the agent's host (sent with that length, so a short stream fails there); resolves with the bytes written. */
  async writeFile(path: string, input: Readable, bytes: number): Promise<number> {
    const answer = (await this.send("PUT", `${AGENT_PATH}/file?${new URLSearchParams({ path })}`, input, "application/octet-stream", undefined, { "content-length": String(bytes) })) as { value: number };
    return answer.value;
  }

  /** Close the connections, cutting long polls in flight (their loops stop on their own). */
  async close(): Promise<void> {
    await this.dispatcher.destroy();
  }

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.endpoint.token}`, [EPOCH_HEADER]: String(this.epoch()) };
  }

  private async send(method: "GET" | "POST" | "PUT", path: string, body: string | Readable | undefined, type = "application/json", timeoutMs?: number, extra: Record<string, string> = {}): Promise<unknown> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(new URL(path, this.endpoint.url), {
        method,
        dispatcher: this.dispatcher,
        ...(timeoutMs !== undefined ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
        headers: { ...this.headers(), ...(body !== undefined ? { "content-type": type } : {}), ...extra },
        body,
      });
    } catch (err) {
      const why = (err as Error).name === "TimeoutError" ? `no answer within ${timeoutMs! / 1000}s` : (err as Error).message;
      throw new AgentUnreachable(this.endpoint.url, `${method} ${path.split("?")[0]}`, why);
    }
    let parsed: { value?: unknown; error?: WireError } | AgentDescription;
    try {
      parsed = (await res.body.json()) as typeof parsed;
    } catch (err) {
      throw new AgentUnreachable(this.endpoint.url, `${method} ${path.split("?")[0]}`, `it answered ${res.statusCode} without a readable body: ${(err as Error).message}`);
    }
    if (res.statusCode >= 400) {
      const error = (parsed as { error?: WireError }).error;
      throw error ? errorFromWire(error) : new Error(`the host's agent answered ${res.statusCode}`);
    }
    return parsed;
  }
}
