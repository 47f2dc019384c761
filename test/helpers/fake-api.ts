/**
 * A small fake of `vmbranch serve` for SDK tests: a real node:http server on 127.0.0.1 with an
 * ephemeral port that answers with canned envelopes, records every request, checks the bearer
 * token, and injects failures (status codes, Retry-After, connection resets, slow or missing
 * answers, malformed bodies). Routes are scripted per test; `close()` releases everything.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Image, Instance, Volume } from "vmbranch/sdk";

/** A request as the fake received it; `url` is the raw (still encoded) request target. */
export interface RecordedRequest {
  method: string;
  url: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json(): unknown;
}

/** What a route answers: a JSON body, raw bytes, a reset connection, or nothing at all. */
export type FakeReply =
  | { status?: number; body?: unknown; raw?: string | Buffer; headers?: Record<string, string>; delayMs?: number }
  | { reset: true }
  | { hang: true };

/** A route's behaviour: a fixed reply or a function of the request and the path parameters. */
export type FakeHandler = FakeReply | ((req: RecordedRequest, params: Record<string, string>) => FakeReply | Promise<FakeReply>);

interface Route {
  method: string;
  pattern: string[];
  handler: FakeHandler;
  once: boolean;
}

/** Envelope of a success: `{ status, data: { [kind]: items } }`. */
export function envelope(kind: string, items: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { status: "success", data: { [kind]: items }, ...extra };
}

/** A reply carrying an error envelope with one error, the HTTP status repeated inside it. */
export function errorReply(status: number, code: string, message: string, extra: Partial<Extract<FakeReply, { status?: number }>> = {}): FakeReply {
  return { status, body: { status: "error", message, errors: [{ status, code, message }] }, ...extra };
}

/** The 409 a busy branch source answers (docs/api.md, "Branching"). */
export const pendingSnapshotReply = (): FakeReply => errorReply(409, "BRANCH_PENDING_SNAPSHOT", "Cannot branch from VM with pending snapshot");

/** A valid instance object (InstanceSchema), with overrides. */
export function fakeInstance(overrides: Partial<Instance> = {}): Instance {
  return {
    uuid: randomUUID(),
    name: "web",
    state: "running",
    image: "base",
    memory_mb: 128,
    vcpus: 1,
    args: [],
    env: {},
    hostname: "web",
    volumes: [],
    ports: [],
    network_interfaces: [{ name: "eth0", mac: "02:00:00:00:00:01", private_ip: "10.0.2.15" }],
    smbios_serial: "vmbranch-0001",
    tags: [],
    annotations: {},
    delete_lock: false,
    outbound_network: false,
    host: "box-1",
    host_state: "online",
    autostart: true,
    created_at: "2026-01-01T00:00:00.000Z",
    started_at: "2026-01-01T00:00:01.000Z",
    stopped_at: null,
    boot_time_ms: 2300,
    exit_code: null,
    stop_reason: null,
    start_count: 1,
    accelerator: "tcg",
    snapshot: null,
    template: null,
    branch: null,
    checkpoint: null,
    from_checkpoint: null,
    template_autokill: null,
    checkpoint_autokill: null,
    ...overrides,
  };
}

/** A valid volume object (VolumeSchema), with overrides. */
export function fakeVolume(overrides: Partial<Volume> = {}): Volume {
  return {
    uuid: randomUUID(),
    name: "data",
    state: "available",
    kind: "block",
    size_mb: 64,
    filesystem: "ext4",
    host_path: null,
    uid: null,
    gid: null,
    persistent: true,
    attached_to: [],
    mounted_by: [],
    tags: [],
    delete_lock: false,
    created_at: "2026-01-01T00:00:00.000Z",
    host: "box-1",
    host_state: "online",
    template: null,
    clone: null,
    clones: 0,
    chain_depth: 0,
    error: null,
    ...overrides,
  };
}

/** A valid image object (ImageSchema). */
export function fakeImage(overrides: Partial<Image> = {}): Image {
  return { name: "base", digest: "sha256:0", kernel_version: "6.1.0", features: ["vmgenid"], size_bytes: 1, created_at: "2026-01-01T00:00:00.000Z", ...overrides };
}

function matchPath(pattern: string[], path: string): Record<string, string> | undefined {
  const parts = path.split("/").filter((p) => p !== "");
  if (parts.length !== pattern.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const want = pattern[i] as string;
    const got = parts[i] as string;
    if (want.startsWith(":")) params[want.slice(1)] = decodeURIComponent(got);
    else if (want !== got) return undefined;
  }
  return params;
}

/** The fake server. Start with `FakeApi.start()`, script routes, and `close()` in teardown. */
export class FakeApi {
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  private routes: Route[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: http.Server,
    /** Base URL, e.g. http://127.0.0.1:41234. */
    readonly url: string,
    /** The bearer token `/v1` requests must carry. */
    readonly token: string,
  ) {}

  /** Listen on 127.0.0.1 with an ephemeral port. */
  static async start(options: { token?: string } = {}): Promise<FakeApi> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const api = new FakeApi(server, `http://127.0.0.1:${port}`, options.token ?? "test-token");
    server.on("connection", (socket) => {
      api.sockets.add(socket);
      socket.on("close", () => api.sockets.delete(socket));
    });
    server.on("request", (req, res) => void api.handle(req, res));
    return api;
  }

  /** Answer `method pattern` (segments like `:id` capture) with `handler` until the test ends. */
  route(method: string, pattern: string, handler: FakeHandler): this {
    this.routes.push({ method, pattern: pattern.split("/").filter((p) => p !== ""), handler, once: false });
    return this;
  }

  /** Answer the next requests to `method pattern` with `replies`, one each, before any `route`. */
  queue(method: string, pattern: string, ...replies: FakeHandler[]): this {
    const routes = replies.map((handler) => ({ method, pattern: pattern.split("/").filter((p) => p !== ""), handler, once: true }));
    // Queued replies go before persistent routes but after earlier queued ones.
    const firstPersistent = this.routes.findIndex((r) => !r.once);
    const at = firstPersistent === -1 ? this.routes.length : firstPersistent;
    this.routes.splice(at, 0, ...routes);
    return this;
  }

  /** Requests whose method matches and whose path starts with `prefix`. */
  requestsTo(method: string, prefix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(prefix));
  }

  /** Stop answering and release the port, connections and timers. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "http://fake");
    const body = Buffer.concat(chunks);
    const recorded: RecordedRequest = {
      method: req.method ?? "GET",
      url: req.url ?? "/",
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      json: () => JSON.parse(body.toString("utf8")) as unknown,
    };
    this.requests.push(recorded);
    let reply: FakeReply;
    if (recorded.path.startsWith("/v1") && req.headers.authorization !== `Bearer ${this.token}`) {
      reply = errorReply(401, "UNAUTHORIZED", "Missing or invalid bearer token");
    } else {
      const index = this.routes.findIndex((r) => r.method === recorded.method && matchPath(r.pattern, recorded.path) !== undefined);
      const route = this.routes[index];
      if (route === undefined) reply = errorReply(404, "NOT_FOUND", `No route for ${recorded.method} ${recorded.path}`);
      else {
        if (route.once) this.routes.splice(index, 1);
        const params = matchPath(route.pattern, recorded.path) ?? {};
        reply = typeof route.handler === "function" ? await route.handler(recorded, params) : route.handler;
      }
    }
    this.send(req, res, reply);
  }

  private send(req: http.IncomingMessage, res: http.ServerResponse, reply: FakeReply): void {
    if ("reset" in reply) return void req.socket.destroy();
    if ("hang" in reply) return;
    const write = () => {
      const payload = reply.raw ?? (reply.body === undefined ? "" : JSON.stringify(reply.body));
      res.writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers });
      res.end(payload);
    };
    if (reply.delayMs === undefined) return write();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      write();
    }, reply.delayMs);
    this.timers.add(timer);
  }
}
