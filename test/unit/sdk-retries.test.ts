// Retries, timeouts and aborts of the SDK transport against a fake server that injects failures.
import { Readable } from "node:stream";
import { RequestAbortedError, TimeoutError, VmbranchClient, type RetryEvent, type VmbranchClientOptions } from "vmbranch/sdk";
import { FakeApi, envelope, errorReply, fakeInstance, fakeVolume, pendingSnapshotReply, type FakeReply } from "../helpers/fake-api";

let api: FakeApi;
const clients: VmbranchClient[] = [];
const retries: RetryEvent[] = [];

/** A client with tiny backoff so tests stay fast; closed in teardown. */
function makeClient(options: Partial<VmbranchClientOptions> = {}): VmbranchClient {
  const c = new VmbranchClient({
    endpoint: api.url,
    token: api.token,
    retry: { initialDelayMs: 5, maxDelayMs: 20, branchPendingInitialDelayMs: 5, branchPendingMaxDelayMs: 40, branchPendingDeadlineMs: 10_000 },
    onRetry: (e) => retries.push(e),
    ...options,
  });
  clients.push(c);
  return c;
}

const instanceReply = (status = 200): FakeReply => ({ status, body: envelope("instances", [fakeInstance()]) });

beforeEach(async () => {
  api = await FakeApi.start();
  retries.length = 0;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await api.close();
});

describe("SDK retries", () => {
  it("retries a GET after a 500 and succeeds", async () => {
    api.queue("GET", "/v1/instances/:id", errorReply(500, "INTERNAL", "boom"), errorReply(503, "UNAVAILABLE", "busy")).route("GET", "/v1/instances/:id", instanceReply());
    const instance = await makeClient().instances.get("web");
    expect(instance.name).toBe("web");
    expect(api.requests).toHaveLength(3);
    expect(retries.map((r) => [r.retry, r.error.name])).toEqual([
      [1, "InternalServerError"],
      [2, "InternalServerError"],
    ]);
  });

  it("gives up after maxRetries with the last error", async () => {
    api.route("GET", "/v1/images", errorReply(500, "INTERNAL", "still broken"));
    await expect(makeClient({ maxRetries: 2 }).images.list()).rejects.toMatchObject({ name: "InternalServerError", message: "still broken" });
    expect(api.requests).toHaveLength(3);
    await expect(makeClient().images.list({ maxRetries: 0 })).rejects.toMatchObject({ status: 500 });
    expect(api.requests).toHaveLength(4);
  });

  it("does not retry a POST", async () => {
    api.queue("POST", "/v1/instances", errorReply(500, "INTERNAL", "boom")).route("POST", "/v1/instances", instanceReply(201));
    await expect(makeClient().instances.create({ image: "base" })).rejects.toMatchObject({ status: 500 });
    expect(api.requests).toHaveLength(1);
  });

  it("retries a POST that carries an Idempotency-Key, or that the caller marks idempotent", async () => {
    api.queue("POST", "/v1/volumes", errorReply(502, "BAD_GATEWAY", "x"), errorReply(503, "BUSY", "x")).route("POST", "/v1/volumes", { status: 201, body: envelope("volumes", [fakeVolume()]) });
    const c = makeClient();
    await c.volumes.create({ size_mb: 8 }, { idempotencyKey: "key-1" });
    expect(api.requests.map((r) => r.headers["idempotency-key"])).toEqual(["key-1", "key-1", "key-1"]);
    api.queue("POST", "/v1/volumes", { reset: true });
    await c.volumes.create({ size_mb: 8 }, { idempotent: true });
    expect(api.requests).toHaveLength(5);
    api.queue("POST", "/v1/volumes", errorReply(500, "INTERNAL", "x"));
    await c.volumes.create({ size_mb: 8 }, { headers: { "Idempotency-Key": "key-2" } });
    expect(api.requests).toHaveLength(7);
  });

  it("never retries a 401, 403, 400 or 404, even when idempotent", async () => {
    const c = makeClient({ token: "wrong" });
    await expect(c.instances.get("web")).rejects.toMatchObject({ name: "AuthenticationError" });
    expect(api.requests).toHaveLength(1);
    const ok = makeClient();
    for (const [status, code] of [
      [403, "FORBIDDEN"],
      [400, "INVALID"],
      [404, "NOT_FOUND"],
    ] as const) {
      api.queue("GET", "/v1/images", errorReply(status, code, "no"));
      await expect(ok.images.list({ idempotent: true })).rejects.toMatchObject({ status });
    }
    expect(api.requests).toHaveLength(4);
    expect(retries).toHaveLength(0);
  });

  it("honours Retry-After on a 429", async () => {
    api.queue("GET", "/v1/images", errorReply(429, "RATE_LIMITED", "slow down", { headers: { "retry-after": "1" } })).route("GET", "/v1/images", { body: envelope("images", []) });
    const started = Date.now();
    await makeClient().images.list();
    expect(retries[0]).toMatchObject({ delayMs: 1_000, reason: "Retry-After 1000 ms" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(api.requests).toHaveLength(2);
  });

  it("surfaces a 429 whose Retry-After is beyond the cap, with retryAfterMs", async () => {
    api.route("GET", "/v1/images", errorReply(429, "RATE_LIMITED", "come back tomorrow", { headers: { "retry-after": "86400" } }));
    await expect(makeClient().images.list()).rejects.toMatchObject({ name: "RateLimitError", retryAfterMs: 86_400_000 });
    expect(api.requests).toHaveLength(1);
  });

  it("retries a GET after a connection reset", async () => {
    api.queue("GET", "/v1/instances/:id", { reset: true }).route("GET", "/v1/instances/:id", instanceReply());
    await expect(makeClient().instances.get("web")).resolves.toMatchObject({ name: "web" });
    expect(retries[0]?.error.name).toBe("ConnectionError");
  });

  it("times out a slow response with TimeoutError and retries GETs", async () => {
    api.queue("GET", "/v1/images", { hang: true }).route("GET", "/v1/images", { body: envelope("images", []) });
    await expect(makeClient({ timeoutMs: 100 }).images.list()).resolves.toEqual([]);
    expect(retries[0]?.error.name).toBe("TimeoutError");
    api.route("PUT", "/v1/instances/:id/start", { ...instanceReply(), delayMs: 2_000 });
    const err = await makeClient({ timeoutMs: 100 }).instances.start("web").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ status: undefined, code: "REQUEST_TIMEOUT" });
  });

  it("aborts an in-flight request and a retry sleep with the caller's signal", async () => {
    api.route("GET", "/v1/images", { hang: true });
    const controller = new AbortController();
    const pending = makeClient().images.list({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error("user gave up")), 50);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestAbortedError);
    expect((err as Error).cause).toEqual(new Error("user gave up"));

    api.route("GET", "/v1/volumes", errorReply(503, "BUSY", "x", { headers: { "retry-after": "30" } }));
    const sleeping = new AbortController();
    const slept = makeClient().volumes.list({}, { signal: sleeping.signal });
    setTimeout(() => sleeping.abort(), 100);
    await expect(slept).rejects.toBeInstanceOf(RequestAbortedError);
    await expect(makeClient().images.list({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(RequestAbortedError);
  });

  it("sends a stream body once and never retries it", async () => {
    api.route("PUT", "/v1/volumes/:id/import", errorReply(503, "BUSY", "x"));
    await expect(makeClient().volumes.import("data", Readable.from([Buffer.from("x")]), { idempotent: true })).rejects.toMatchObject({ status: 503 });
    expect(api.requests).toHaveLength(1);
    await expect(makeClient().volumes.import("data", Buffer.from("x"), { idempotent: true })).rejects.toMatchObject({ status: 503 });
    expect(api.requests).toHaveLength(4);
  });
});

describe("SDK retries: branch with a pending snapshot", () => {
  it("retries the 409 pending-snapshot twice and then creates the branch", async () => {
    api.queue("POST", "/v1/instances", pendingSnapshotReply(), pendingSnapshotReply()).route("POST", "/v1/instances", instanceReply(201));
    const branch = await makeClient({ maxRetries: 0 }).instances.branch("db", { name: "db-2" });
    expect(branch.name).toBe("web");
    expect(api.requests).toHaveLength(3);
    expect(api.requests.every((r) => JSON.stringify(r.json()) === JSON.stringify({ name: "db-2", branch_from: { name: "db" } }))).toBe(true);
    expect(retries.map((r) => r.reason)).toEqual(["source has a pending snapshot", "source has a pending snapshot"]);
  });

  it("does not retry the pending-snapshot 409 on a create without branch_from", async () => {
    api.route("POST", "/v1/instances", pendingSnapshotReply());
    await expect(makeClient().instances.create({ image: "base" })).rejects.toMatchObject({ name: "ConflictError", message: "Cannot branch from VM with pending snapshot" });
    expect(api.requests).toHaveLength(1);
  });

  it("gives up at the deadline with the server's 409", async () => {
    api.route("POST", "/v1/instances", pendingSnapshotReply());
    const c = makeClient({ retry: { branchPendingInitialDelayMs: 10, branchPendingMaxDelayMs: 20, branchPendingDeadlineMs: 150 } });
    await expect(c.instances.branch("db")).rejects.toMatchObject({ status: 409, code: "BRANCH_PENDING_SNAPSHOT" });
    expect(api.requests.length).toBeGreaterThan(2);
  });

  it("five parallel branches of one source all succeed", async () => {
    // The source takes a snapshot for 30 ms per branch; a request arriving meanwhile gets the 409.
    let busyUntil = 0;
    let made = 0;
    api.route("POST", "/v1/instances", () => {
      const now = Date.now();
      if (now < busyUntil) return pendingSnapshotReply();
      busyUntil = now + 30;
      made += 1;
      return { status: 201, body: envelope("instances", [fakeInstance({ name: `db-${made}` })]) };
    });
    const c = makeClient();
    const branches = await Promise.all([1, 2, 3, 4, 5].map((i) => c.instances.branch("db", { name: `b${i}` })));
    expect(branches).toHaveLength(5);
    expect(new Set(branches.map((b) => b.name)).size).toBe(5);
    expect(made).toBe(5);
    expect(retries.length).toBeGreaterThan(0);
  });
});
