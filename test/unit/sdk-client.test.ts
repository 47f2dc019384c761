// The SDK client against a fake server: auth, paths, bodies, response validation, errors, iterators.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { MockAgent, fetch as undiciFetch } from "undici";
import {
  AuthenticationError,
  BadRequestError,
  ConflictError,
  ConnectionError,
  InternalServerError,
  NotFoundError,
  SdkResponseValidationError,
  VmbranchClient,
  isSdkError,
  type FetchLike,
  type ResponseMeta,
} from "vmbranch/sdk";
import { FakeApi, envelope, errorReply, fakeImage, fakeInstance, fakeVolume } from "../helpers/fake-api";

let api: FakeApi;
let client: VmbranchClient;

beforeEach(async () => {
  api = await FakeApi.start({ token: "s3cret" });
  client = new VmbranchClient({ endpoint: api.url, token: "s3cret", maxRetries: 0 });
});

afterEach(async () => {
  await client.close();
  await api.close();
});

describe("SDK client: requests", () => {
  it("sends the bearer token and JSON headers on /v1 calls", async () => {
    api.route("GET", "/v1/instances/:id", (_r, p) => ({ body: envelope("instances", [fakeInstance({ name: p.id })]) }));
    const instance = await client.instances.get("web");
    expect(instance.name).toBe("web");
    const [req] = api.requests;
    expect(req?.headers.authorization).toBe("Bearer s3cret");
    expect(req?.headers.accept).toBe("application/json");
    expect(req?.headers["user-agent"]).toMatch(/^vmbranch-sdk\//);
  });

  it("a wrong token is an AuthenticationError with the server's message", async () => {
    const other = new VmbranchClient({ endpoint: api.url, token: "wrong" });
    try {
      await expect(other.instances.list()).rejects.toMatchObject({ name: "AuthenticationError", status: 401, message: "Missing or invalid bearer token" });
      expect(api.requests).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it("encodes the uuid-or-name path segment", async () => {
    api.route("GET", "/v1/volumes/:id", (_r, p) => ({ body: envelope("volumes", [fakeVolume({ name: p.id })]) }));
    const volume = await client.volumes.get("a b/c?d#e");
    expect(volume.name).toBe("a b/c?d#e");
    expect(api.requests[0]?.url).toBe("/v1/volumes/a%20b%2Fc%3Fd%23e");
    expect(() => client.instances.get("")).toThrow(TypeError);
  });

  it("filters lists by tags with ?tags=a,b", async () => {
    api.route("GET", "/v1/instances", { body: envelope("instances", [fakeInstance(), fakeInstance({ name: "db" })]) });
    const list = await client.instances.list({ tags: ["env:prod", "a+b"] });
    expect(list.map((i) => i.name)).toEqual(["web", "db"]);
    expect(api.requests[0]?.query.get("tags")).toBe("env:prod,a+b");
    await client.instances.list();
    expect(api.requests[1]?.url).toBe("/v1/instances");
  });

  it("maps every instance method to its endpoint", async () => {
    const one = () => ({ body: envelope("instances", [fakeInstance()]) });
    api
      .route("POST", "/v1/instances", one)
      .route("PATCH", "/v1/instances/:id", one)
      .route("DELETE", "/v1/instances/:id", { body: envelope("instances", [{ uuid: fakeInstance().uuid, name: "web", status: "success" }]) })
      .route("PUT", "/v1/instances/:id/start", one)
      .route("PUT", "/v1/instances/:id/stop", one)
      .route("PUT", "/v1/instances/:id/suspend", one)
      .route("GET", "/v1/instances/:id/wait", one)
      .route("GET", "/v1/instances/:id/log", {
        body: envelope("instances", [{ uuid: fakeInstance().uuid, name: "web", output: Buffer.from("boot").toString("base64"), available: { start: 0, end: 9 }, range: { start: 0, end: 4 }, state: "running" }]),
      });
    await client.instances.create({ image: "base", name: "web", tags: ["t"] });
    await client.instances.branch("web", { name: "web-2" });
    await client.instances.branch("0b3f2a53-8a5e-4c8e-9b7f-0a1b2c3d4e5f");
    await client.instances.update("web", [{ prop: "tags", op: "add", value: "x" }]);
    const deleted = await client.instances.delete("web");
    await client.instances.start("web");
    await client.instances.stop("web", { force: true });
    await client.instances.stop("web");
    await client.instances.suspend("web");
    await client.instances.wait("web", "running", { timeoutS: 5 });
    const log = await client.instances.log("web", { offset: 0, limit: 100 });
    // Types: `add` takes one tag or a list; `set` takes only a list.
    // @ts-expect-error tags `set` needs an array
    void (() => client.instances.update("web", { prop: "tags", op: "set", value: "x" }));
    expect(deleted?.name).toBe("web");
    expect(log).toMatchObject({ output: "boot", offset: 0, next_offset: 4, available: 9, state: "running" });
    expect(api.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "POST /v1/instances",
      "POST /v1/instances",
      "POST /v1/instances",
      "PATCH /v1/instances/web",
      "DELETE /v1/instances/web",
      "PUT /v1/instances/web/start",
      "PUT /v1/instances/web/stop",
      "PUT /v1/instances/web/stop",
      "PUT /v1/instances/web/suspend",
      "GET /v1/instances/web/wait?state=running&timeout_s=5",
      "GET /v1/instances/web/log?offset=0&limit=100",
    ]);
    const bodies = api.requests.map((r) => (r.body.length > 0 ? r.json() : undefined));
    expect(bodies[0]).toEqual({ image: "base", name: "web", tags: ["t"] });
    expect(bodies[1]).toEqual({ name: "web-2", branch_from: { name: "web" } });
    expect(bodies[2]).toEqual({ branch_from: { uuid: "0b3f2a53-8a5e-4c8e-9b7f-0a1b2c3d4e5f" } });
    expect(bodies[3]).toEqual([{ prop: "tags", op: "add", value: "x" }]);
    expect(bodies[6]).toEqual({ force: true });
    expect(bodies[7]).toBeUndefined();
    expect(api.requests[0]?.headers["content-type"]).toBe("application/json");
  });

  it("maps the bulk, history and metrics instance methods to their endpoints", async () => {
    const items = () => ({ body: envelope("instances", [{ status: "success", ...fakeInstance() }, { status: "error", name: "gone", message: "Instance 'gone' not found", error: 404 }], { status: "partial_success", errors: [{ status: 404, code: "INSTANCE_NOT_FOUND", message: "Instance 'gone' not found", field: "[1]" }] }) });
    const metrics = { uuid: fakeInstance().uuid, name: "web", state: "running", rss_bytes: 1, pss_bytes: 1, cpu_time_ms: 2, boot_time_us: 3, net_time_us: 0, rx_bytes: 4, rx_packets: 1, tx_bytes: 5, tx_packets: 1, nconns: 0, nreqs: 0, nqueued: 0, ntotal: 0, disk_read_bytes: 0, disk_write_bytes: 0, volumes: [], sampled_at: "2026-01-01T00:00:00.000Z" };
    api
      .route("PUT", "/v1/instances/start", items)
      .route("PUT", "/v1/instances/stop", items)
      .route("PUT", "/v1/instances/suspend", items)
      .route("PATCH", "/v1/instances", items)
      .route("DELETE", "/v1/instances", items)
      .route("GET", "/v1/instances/:id/history", { body: envelope("instances", [{ uuid: fakeInstance().uuid, name: "web", history: [], transitions: [{ at: "t", from: null, to: "stopped", reason: "created" }] }]) })
      .route("GET", "/v1/instances/:id/metrics", { body: envelope("instances", [metrics]) })
      .route("GET", "/v1/instances/metrics", { body: envelope("instances", [metrics]) });
    const started = await client.instances.startMany(["web", { name: "gone" }]);
    expect(started).toMatchObject({ status: "partial_success", errors: [{ code: "INSTANCE_NOT_FOUND", field: "[1]" }] });
    expect(started.items.map((i) => i.name)).toEqual(["web"]);
    await client.instances.stopMany([{ name: "web", force: true }]);
    await client.instances.suspendMany(["web"]);
    await client.instances.updateMany([{ name: "web", prop: "tags", op: "add", value: ["x"], id: "op-1" }]);
    await client.instances.deleteMany(["web"]);
    expect((await client.instances.history("web")).transitions).toEqual([{ at: "t", from: null, to: "stopped", reason: "created" }]);
    expect((await client.instances.metrics("web")).cpu_time_ms).toBe(2);
    await client.instances.metricsMany(["web", "0b3f2a53-8a5e-4c8e-9b7f-0a1b2c3d4e5f"]);
    expect(api.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "PUT /v1/instances/start",
      "PUT /v1/instances/stop",
      "PUT /v1/instances/suspend",
      "PATCH /v1/instances",
      "DELETE /v1/instances",
      "GET /v1/instances/web/history",
      "GET /v1/instances/web/metrics",
      "GET /v1/instances/metrics?name=web&uuid=0b3f2a53-8a5e-4c8e-9b7f-0a1b2c3d4e5f",
    ]);
    expect(api.requests[0]?.json()).toEqual([{ name: "web" }, { name: "gone" }]);
    expect(api.requests[1]?.json()).toEqual([{ name: "web", force: true }]);
    expect(api.requests[3]?.json()).toEqual([{ name: "web", prop: "tags", op: "add", value: ["x"], id: "op-1" }]);
  });

  it("maps checkpoint methods to /v1/instances/checkpoints", async () => {
    const cp = () => ({ body: envelope("instances", [fakeInstance({ state: "checkpoint", name: "cp" })]) });
    api
      .route("POST", "/v1/instances/checkpoints", cp)
      .route("GET", "/v1/instances/checkpoints", cp)
      .route("GET", "/v1/instances/checkpoints/:id", cp)
      .route("PATCH", "/v1/instances/checkpoints/:id", cp)
      .route("PATCH", "/v1/instances/checkpoints", cp)
      .route("DELETE", "/v1/instances/checkpoints/:id", cp)
      .route("DELETE", "/v1/instances/checkpoints", cp)
      .route("GET", "/v1/instances/checkpoints/:id/history", { body: envelope("instances", [{ uuid: fakeInstance().uuid, name: "cp", history: [] }]) });
    expect((await client.instances.checkpoints.create({ from: { name: "web" }, name: "cp", timeout_s: 30 })).state).toBe("checkpoint");
    await client.instances.checkpoints.createMany([{ from: { name: "web" } }]);
    await client.instances.checkpoints.list({ order: "desc", count: 2 });
    await client.instances.checkpoints.get("cp");
    await client.instances.checkpoints.update("cp", { prop: "autokill", op: "set", value: { time_ms: 60_000 } });
    await client.instances.checkpoints.updateMany([{ name: "cp", prop: "delete_lock", op: "set", value: true }]);
    await client.instances.checkpoints.history("cp");
    expect((await client.instances.checkpoints.waitFor("cp")).state).toBe("checkpoint");
    await client.instances.checkpoints.delete("cp");
    await client.instances.checkpoints.deleteMany(["cp"]);
    expect(api.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "POST /v1/instances/checkpoints",
      "POST /v1/instances/checkpoints",
      "GET /v1/instances/checkpoints?order=desc&count=2",
      "GET /v1/instances/checkpoints/cp",
      "PATCH /v1/instances/checkpoints/cp",
      "PATCH /v1/instances/checkpoints",
      "GET /v1/instances/checkpoints/cp/history",
      "GET /v1/instances/checkpoints/cp",
      "DELETE /v1/instances/checkpoints/cp",
      "DELETE /v1/instances/checkpoints",
    ]);
    expect(api.requests[0]?.json()).toEqual([{ from: { name: "web" }, name: "cp", timeout_s: 30 }]);
  });

  it("maps instance template methods to /v1/instances/templates", async () => {
    const one = () => ({ body: envelope("instances", [fakeInstance({ state: "template" })]) });
    api
      .route("POST", "/v1/instances/templates", one)
      .route("GET", "/v1/instances/templates", one)
      .route("GET", "/v1/instances/templates/:id", one)
      .route("PATCH", "/v1/instances/templates/:id", one)
      .route("PATCH", "/v1/instances/templates", one)
      .route("DELETE", "/v1/instances/templates/:id", one)
      .route("DELETE", "/v1/instances/templates", one);
    expect((await client.instances.templates.create("golden")).state).toBe("template");
    await client.instances.templates.createMany(["a", { uuid: "0b3f2a53-8a5e-4c8e-9b7f-0a1b2c3d4e5f" }]);
    await client.instances.templates.list({ tags: ["g"] });
    await client.instances.templates.get("golden");
    await client.instances.templates.update("golden", [{ prop: "tags", op: "add", value: "x" }]);
    await client.instances.templates.updateMany([{ name: "golden", prop: "autokill", op: "set", value: { time_ms: 1000 } }]);
    await client.instances.templates.delete("golden");
    await client.instances.templates.deleteMany(["golden"]);
    expect(api.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "POST /v1/instances/templates",
      "POST /v1/instances/templates",
      "GET /v1/instances/templates?tags=g",
      "GET /v1/instances/templates/golden",
      "PATCH /v1/instances/templates/golden",
      "PATCH /v1/instances/templates",
      "DELETE /v1/instances/templates/golden",
      "DELETE /v1/instances/templates",
    ]);
    expect(api.requests[0]?.json()).toEqual({ name: "golden" });
    expect(api.requests[1]?.json()).toEqual([{ name: "a" }, { uuid: "0b3f2a53-8a5e-4c8e-9b7f-0a1b2c3d4e5f" }]);
  });

  it("maps every volume and volume template method to its endpoint", async () => {
    const vol = () => ({ body: envelope("volumes", [fakeVolume()]) });
    const tpl = () => ({ body: envelope("volumes", [fakeVolume({ state: "template" })]) });
    api
      .route("PUT", "/v1/volumes/attach", vol)
      .route("PUT", "/v1/volumes/detach", vol)
      .route("PATCH", "/v1/volumes", vol)
      .route("DELETE", "/v1/volumes", vol)
      .route("POST", "/v1/volumes/:id/clone", { status: 201, body: envelope("volumes", [{ status: "success", uuid: fakeVolume().uuid, name: "c2", state: "pending" }]) })
      .route("PATCH", "/v1/volumes/templates", tpl)
      .route("DELETE", "/v1/volumes/templates", tpl)
      .route("POST", "/v1/volumes", vol)
      .route("PATCH", "/v1/volumes/:id", vol)
      .route("DELETE", "/v1/volumes/:id", vol)
      .route("PUT", "/v1/volumes/:id/attach", vol)
      .route("PUT", "/v1/volumes/:id/detach", vol)
      .route("POST", "/v1/volumes/clone", { status: 201, body: envelope("volumes", [{ status: "success", uuid: fakeVolume().uuid, name: "c1", state: "pending" }]) })
      .route("POST", "/v1/volumes/templates", tpl)
      .route("GET", "/v1/volumes/templates", tpl)
      .route("GET", "/v1/volumes/templates/:id", tpl)
      .route("PATCH", "/v1/volumes/templates/:id", tpl)
      .route("DELETE", "/v1/volumes/templates/:id", tpl);
    await client.volumes.create({ name: "data", size_mb: 64 });
    await client.volumes.update("data", { prop: "size_mb", op: "set", value: 128 });
    await client.volumes.attach("data", { attach_to: { name: "web" }, at: "/mnt", readonly: true });
    await client.volumes.detach("data");
    const clone = await client.volumes.clone({ name: "data", vol_name: "c1" });
    await client.volumes.cloneMany([{ name: "data" }]);
    await client.volumes.delete("data");
    await client.volumes.templates.create({ name: "data", mode: "copy", template_name: "data-t" });
    await client.volumes.templates.create("data");
    await client.volumes.templates.list();
    await client.volumes.templates.get("data-t");
    await client.volumes.templates.update("data-t", [{ prop: "delete_lock", op: "set", value: true }]);
    await client.volumes.templates.delete("data-t");
    expect(await client.volumes.cloneFrom("data", { vol_name: "c2" })).toMatchObject({ name: "c2", state: "pending" });
    await client.volumes.attachMany([{ name: "data", attach_to: { name: "web" }, at: "/mnt" }]);
    await client.volumes.detachMany([{ name: "data" }]);
    await client.volumes.updateMany([{ name: "data", prop: "tags", op: "set", value: ["a"] }]);
    await client.volumes.deleteMany(["data"]);
    await client.volumes.templates.updateMany([{ name: "data-t", prop: "tags", op: "set", value: ["a"] }]);
    await client.volumes.templates.deleteMany(["data-t"]);
    expect(clone).toEqual(expect.objectContaining({ name: "c1", state: "pending" }));
    expect(api.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "POST /v1/volumes",
      "PATCH /v1/volumes/data",
      "PUT /v1/volumes/data/attach",
      "PUT /v1/volumes/data/detach",
      "POST /v1/volumes/clone",
      "POST /v1/volumes/clone",
      "DELETE /v1/volumes/data",
      "POST /v1/volumes/templates",
      "POST /v1/volumes/templates",
      "GET /v1/volumes/templates",
      "GET /v1/volumes/templates/data-t",
      "PATCH /v1/volumes/templates/data-t",
      "DELETE /v1/volumes/templates/data-t",
      "POST /v1/volumes/data/clone",
      "PUT /v1/volumes/attach",
      "PUT /v1/volumes/detach",
      "PATCH /v1/volumes",
      "DELETE /v1/volumes",
      "PATCH /v1/volumes/templates",
      "DELETE /v1/volumes/templates",
    ]);
    expect(api.requests[2]?.json()).toEqual({ attach_to: { name: "web" }, at: "/mnt", readonly: true });
    expect(api.requests[3]?.json()).toEqual({});
    expect(api.requests[8]?.json()).toEqual({ name: "data" });
  });

  it("bulk requests return successes and the errors of failed items; all failing is thrown", async () => {
    const good = { status: "success", uuid: fakeVolume().uuid, name: "a-clone", state: "pending" };
    const missing = { status: 404, code: "VOLUME_NOT_FOUND", message: "Volume 'x' not found" };
    api.queue(
      "POST",
      "/v1/volumes/clone",
      { status: 201, body: { status: "partial_success", message: missing.message, data: { volumes: [good] }, errors: [missing] } },
      { status: 404, body: { status: "error", message: missing.message, data: { volumes: [] }, errors: [missing] } },
    );
    const partial = await client.volumes.cloneMany([{ name: "a" }, { name: "x" }]);
    expect(partial).toEqual({ status: "partial_success", items: [good], errors: [missing] });
    await expect(client.volumes.cloneMany([{ name: "x" }])).rejects.toMatchObject({ name: "NotFoundError", message: "Volume 'x' not found" });
    api.route("POST", "/v1/volumes/templates", { status: 201, body: envelope("volumes", [fakeVolume({ state: "template" })]) });
    expect(await client.volumes.templates.createMany(["a"])).toMatchObject({ status: "success", errors: [] });
  });

  it("a single clone whose item reports a failure rejects with the item's message", async () => {
    api.route("POST", "/v1/volumes/clone", { body: envelope("volumes", [{ status: "error", message: "Volume 'x' not found" }]) });
    await expect(client.volumes.clone({ name: "x" })).rejects.toMatchObject({ code: "CLONE_FAILED", message: "Volume 'x' not found" });
  });

  it("imports a tar from a Buffer or a stream as application/x-tar", async () => {
    api.route("PUT", "/v1/volumes/:id/import", { body: envelope("volumes", [fakeVolume()]) });
    await client.volumes.import("data", Buffer.from("tar-bytes"));
    await client.volumes.import("data", Readable.from([Buffer.from("tar-"), Buffer.from("stream")]));
    expect(api.requests.map((r) => [r.headers["content-type"], r.body.toString()])).toEqual([
      ["application/x-tar", "tar-bytes"],
      ["application/x-tar", "tar-stream"],
    ]);
  });

  it("lists images and reads health without sending the token", async () => {
    api.route("GET", "/v1/images", { body: envelope("images", [fakeImage()]) }).route("GET", "/healthz", { body: { status: "ok", version: "0.1.0" } });
    expect((await client.images.list()).map((i) => i.name)).toEqual(["base"]);
    expect(await client.health()).toEqual({ status: "ok", version: "0.1.0" });
    expect(api.requests[1]?.headers.authorization).toBeUndefined();
  });
});

describe("SDK client: responses", () => {
  it("rejects a response that does not match the schema", async () => {
    api.route("GET", "/v1/instances/:id", { body: envelope("instances", [{ ...fakeInstance(), state: "flying" }]) });
    const err = await client.instances.get("web").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SdkResponseValidationError);
    expect(err).toMatchObject({ status: 200, code: "RESPONSE_VALIDATION_FAILED" });
    expect((err as SdkResponseValidationError).issues[0]?.field).toBe("data.instances[0].state");
  });

  it("rejects malformed JSON, an empty body, and a success without the one item", async () => {
    api
      .queue("GET", "/v1/instances/:id", { raw: "{not json" }, { raw: "" }, { body: envelope("instances", []) }, { body: { status: "success" } });
    for (const pattern of [/not JSON/, /empty body/, /expected one item in 'data.instances'/, /expected one item/])
      await expect(client.instances.get("web")).rejects.toThrow(pattern);
  });

  it("turns each error status into its class, with the server's exact message and code", async () => {
    const cases: [number, string, string, unknown][] = [
      [400, "INVALID_FIELD", "Cannot specify 'image' when 'branch_from' is set", BadRequestError],
      [404, "INSTANCE_NOT_FOUND", "Instance 'nope' not found", NotFoundError],
      [409, "VOLUME_IN_USE", "Volume 'data' is mounted read-write by 'web'", ConflictError],
      [500, "INTERNAL", "qemu exited", InternalServerError],
      [401, "UNAUTHORIZED", "Missing or invalid bearer token", AuthenticationError],
    ];
    for (const [status, code, message, cls] of cases) {
      api.queue("POST", "/v1/instances", errorReply(status, code, message, { headers: { "x-request-id": `req-${status}` } }));
      const err = await client.instances.create({ image: "base" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(cls as typeof Error);
      expect(isSdkError(err)).toBe(true);
      expect(err).toMatchObject({ status, code, message, requestId: `req-${status}`, method: "POST", path: "/v1/instances" });
      expect((err as { errors: unknown[] }).errors).toEqual([{ status, code, message }]);
    }
  });

  it("keeps all envelope errors and reads request_id from the envelope when there is no header", async () => {
    api.route("POST", "/v1/volumes", {
      status: 400,
      body: {
        status: "error",
        request_id: "env-7",
        errors: [
          { status: 400, code: "INVALID_FIELD", message: "'size_mb': too small", field: "size_mb" },
          { status: 400, code: "INVALID_FIELD", message: "'name': bad", field: "name" },
        ],
      },
    });
    const err = await client.volumes.create({ size_mb: 0 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "BadRequestError", requestId: "env-7", message: "'size_mb': too small" });
    expect((err as BadRequestError).errors.map((e) => e.field)).toEqual(["size_mb", "name"]);
  });

  it("an error without an envelope keeps its status class and a readable message", async () => {
    api.route("GET", "/v1/images", { status: 502, raw: "<html>Bad Gateway</html>", headers: { "content-type": "text/html" } });
    await expect(client.images.list()).rejects.toMatchObject({ name: "InternalServerError", status: 502, message: "<html>Bad Gateway</html>" });
  });

  it("reports the request id of a success through onResponse", async () => {
    api.route("GET", "/v1/images", { body: envelope("images", [], { request_id: "env-1" }), headers: { "x-request-id": "hdr-1" } });
    const seen: ResponseMeta[] = [];
    await client.images.list({ onResponse: (m) => seen.push(m) });
    expect(seen[0]).toMatchObject({ status: 200, requestId: "hdr-1" });
    const raw = await client.request("GET", "/v1/images", { schema: (await import("vmbranch/sdk")).ImagesEnvelopeSchema });
    expect(raw.requestId).toBe("hdr-1");
  });
});

describe("SDK client: iterators", () => {
  it("iterates lazily over instances, volumes and templates", async () => {
    api
      .route("GET", "/v1/instances", { body: envelope("instances", [fakeInstance({ name: "a" }), fakeInstance({ name: "b" })]) })
      .route("GET", "/v1/volumes", { body: envelope("volumes", [fakeVolume({ name: "v" })]) })
      .route("GET", "/v1/volumes/templates", { body: envelope("volumes", []) });
    const iterator = client.instances.iterate({ tags: ["x"] });
    expect(api.requests).toHaveLength(0);
    const names: string[] = [];
    for await (const i of iterator) names.push(i.name);
    expect(names).toEqual(["a", "b"]);
    expect(api.requests[0]?.url).toBe("/v1/instances?tags=x&count=101");
    const volumes: string[] = [];
    for await (const v of client.volumes.iterate()) volumes.push(v.name);
    expect(volumes).toEqual(["v"]);
    for await (const _ of client.volumes.templates.iterate()) throw new Error("expected no templates");
  });

  it("propagates errors from the iterator", async () => {
    api.route("GET", "/v1/instances", errorReply(403, "FORBIDDEN", "Not allowed"));
    const run = async () => {
      for await (const _ of client.instances.iterate()) void _;
    };
    await expect(run()).rejects.toMatchObject({ name: "PermissionDeniedError", message: "Not allowed" });
  });
});

describe("SDK client: configuration", () => {
  it("validates its options", () => {
    expect(() => new VmbranchClient({ token: "" })).toThrow(/token/);
    expect(() => new VmbranchClient({ token: "t", endpoint: "ftp://x" })).toThrow(/http/);
    expect(() => new VmbranchClient({ token: "t", endpoint: "not a url" })).toThrow(/Invalid vmbranch endpoint/);
    expect(() => new VmbranchClient({ token: "t", maxRetries: -1 })).toThrow(/maxRetries/);
    expect(new VmbranchClient({ token: "t", endpoint: "http://h:1/api/" }).endpoint).toBe("http://h:1/api");
  });

  it("fromEnv reads VMBRANCH_ENDPOINT and VMBRANCH_TOKEN when called, with defaults", async () => {
    api.route("GET", "/v1/images", { body: envelope("images", []) });
    const fromEnv = VmbranchClient.fromEnv({}, { VMBRANCH_ENDPOINT: api.url, VMBRANCH_TOKEN: "s3cret" });
    try {
      await fromEnv.images.list();
      expect(api.requests[0]?.headers.authorization).toBe("Bearer s3cret");
    } finally {
      await fromEnv.close();
    }
    const defaults = VmbranchClient.fromEnv({}, { VMBRANCH_TOKEN: "x" });
    expect(defaults.endpoint).toBe("http://127.0.0.1:7480");
    expect(VmbranchClient.fromEnv({ endpoint: "http://other:1" }, { VMBRANCH_TOKEN: "x" }).endpoint).toBe("http://other:1");
  });

  it("fromEnv falls back to the local server's token file, and fails clearly without any token", () => {
    const dir = mkdtempSync(join(tmpdir(), "vmbranch-sdk-"));
    try {
      writeFileSync(join(dir, "token"), "from-file\n", { mode: 0o600 });
      const c = VmbranchClient.fromEnv({}, { VMBRANCH_DATA_DIR: dir });
      expect(c).toBeInstanceOf(VmbranchClient);
      expect(() => VmbranchClient.fromEnv({}, { VMBRANCH_DATA_DIR: join(dir, "missing") })).toThrow(/VMBRANCH_TOKEN/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("sends through a caller's undici dispatcher, which stays open after close()", async () => {
    const mock = new MockAgent();
    mock.disableNetConnect();
    mock.get("http://mocked:7480").intercept({ path: "/v1/images", method: "GET" }).reply(200, envelope("images", [fakeImage({ name: "mocked" })]));
    const viaMock = new VmbranchClient({ endpoint: "http://mocked:7480", token: "t", dispatcher: mock });
    try {
      expect((await viaMock.images.list()).map((i) => i.name)).toEqual(["mocked"]);
      await viaMock.close();
      mock.assertNoPendingInterceptors();
    } finally {
      await mock.close();
    }
  });

  it("uses a caller's fetch and passes it no agent of its own", async () => {
    api.route("GET", "/v1/images", { body: envelope("images", []) });
    const seen: { url: string; dispatcher: unknown }[] = [];
    const myFetch: FetchLike = async (url, init) => {
      seen.push({ url, dispatcher: init.dispatcher });
      return undiciFetch(url, init as Parameters<typeof undiciFetch>[1]);
    };
    const c = new VmbranchClient({ endpoint: api.url, token: "s3cret", fetch: myFetch });
    try {
      await c.images.list();
      expect(seen).toEqual([{ url: `${api.url}/v1/images`, dispatcher: undefined }]);
    } finally {
      await c.close();
    }
  });

  it("a closed client refuses further calls; a refused connection is a ConnectionError", async () => {
    await client.close();
    await expect(client.images.list()).rejects.toBeInstanceOf(ConnectionError);
    // Free a port of our own: start the replacement first so it cannot take the same port.
    const old = api;
    api = await FakeApi.start();
    const port = Number(new URL(old.url).port);
    await old.close();
    const dead = new VmbranchClient({ endpoint: `http://127.0.0.1:${port}`, token: "t", maxRetries: 0 });
    try {
      await expect(dead.images.list()).rejects.toMatchObject({ name: "ConnectionError", status: undefined, code: "CONNECTION_FAILED" });
    } finally {
      await dead.close();
    }
  });
});
