// The HTTP surface every endpoint shares, through a real `vmbranch serve` (no VM booted): bearer-token
// auth on /v1 (and none on /healthz), the response envelope of success and failure, request ids,
// unknown routes and methods, bodies that are not JSON, too large, or of the wrong type. Every
// refused request must leave the service as it was.
import { VolumesEnvelopeSchema } from "../../sdk";
import { api, call, expectError, observe, raw, useBackend, volumeOf } from "./support";

jest.setTimeout(60_000);
const backend = useBackend();

describe("auth", () => {
  it("serves /healthz without a token", async () => {
    const res = await raw(backend(), "GET", "/healthz", { token: false });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok", version: expect.any(String) });
  });

  it("refuses /v1 without a token with 401 UNAUTHORIZED and a Bearer challenge", async () => {
    const res = await raw(backend(), "GET", "/v1/instances", { token: false });
    expectError(res, 401, "UNAUTHORIZED", "Missing 'Authorization: Bearer <token>' header");
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
    expect(res.body.status).toBe("error");
  });

  it.each([
    ["a wrong token", "Bearer not-the-token"],
    ["the token with a suffix", null],
    ["an empty bearer", "Bearer "],
  ])("refuses %s with 401", async (_what, header) => {
    const b = backend();
    const authorization = header ?? `Bearer ${b.token}x`;
    const res = await raw(b, "GET", "/v1/volumes", { token: false, headers: { authorization } });
    expect(res.status).toBe(401);
    expectError(res, 401, "UNAUTHORIZED");
  });

  it("refuses Basic credentials that carry the token", async () => {
    const b = backend();
    const res = await raw(b, "GET", "/v1/volumes", { token: false, headers: { authorization: `Basic ${Buffer.from(`x:${b.token}`).toString("base64")}` } });
    expectError(res, 401, "UNAUTHORIZED");
  });

  it("checks the token on every kind of request and creates nothing without it", async () => {
    const b = backend();
    const before = await observe(b);
    const requests: [string, string, unknown?][] = [
      ["POST", "/v1/volumes", { name: "unauth-vol", size_mb: 8 }],
      ["POST", "/v1/instances", { name: "unauth-inst", image: "base", autostart: false }],
      ["GET", "/v1/volumes/templates"],
      ["GET", "/v1/instances/templates"],
      ["GET", "/v1/images"],
      ["PATCH", "/v1/volumes/whatever", [{ prop: "delete_lock", op: "set", value: true }]],
      ["DELETE", "/v1/instances/whatever"],
      ["PUT", "/v1/instances/whatever/start"],
      ["POST", "/v1/volumes/clone", { name: "whatever" }],
      ["GET", "/v1/no-such-endpoint"],
    ];
    for (const [method, path, body] of requests) {
      const res = await raw(b, method, path, { body, token: "wrong" });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 401 });
      expectError(res, 401, "UNAUTHORIZED", "Invalid bearer token");
    }
    expect(await observe(b)).toEqual(before);
  });
});

describe("envelope", () => {
  it("wraps a single object in a one-element array under its kind, with request_id and op_time_us", async () => {
    const b = backend();
    const created = await call(b, "POST", "/v1/volumes", { name: "env-one", size_mb: 8 }, VolumesEnvelopeSchema);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      status: "success",
      data: { volumes: [expect.objectContaining({ name: "env-one", state: "available" })] },
      request_id: expect.any(String),
      op_time_us: expect.any(Number),
    });
    const got = await api(b, "GET", "/v1/volumes/env-one");
    expect(got.status).toBe(200);
    expect(got.body.data.volumes).toHaveLength(1);
    expect(got.body.errors).toBeUndefined();
    await api(b, "DELETE", "/v1/volumes/env-one");
  });

  it("answers an empty list as an empty array under its kind", async () => {
    const res = await api(backend(), "GET", "/v1/instances/templates");
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ instances: [] });
  });

  it("echoes the caller's x-request-id in the header and the envelope, and makes one up otherwise", async () => {
    const b = backend();
    const mine = await raw(b, "GET", "/v1/volumes/no-such-volume", { headers: { "x-request-id": "trace-me-42" } });
    expect(mine.headers.get("x-request-id")).toBe("trace-me-42");
    expect(mine.body.request_id).toBe("trace-me-42");
    const theirs = await raw(b, "GET", "/v1/volumes");
    expect(theirs.body.request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(theirs.headers.get("x-request-id")).toBe(theirs.body.request_id);
  });

  it("lists one error per invalid field, each with status, code, message and field", async () => {
    const b = backend();
    const res = await raw(b, "POST", "/v1/volumes", { body: { name: "-bad", size_mb: 0, colour: "red" } });
    const env = expectError(res, 400, "VALIDATION_FAILED");
    expect(env.errors.map((e) => e.field).sort()).toEqual(["colour", "name", "size_mb"]);
    expect(env.errors.find((e) => e.field === "colour")?.message).toBe("Unknown field 'colour'");
    for (const e of env.errors) expect(env.message).toContain(e.message);
  });
});

describe("routes and bodies", () => {
  it("answers an unknown route with a 404 ROUTE_NOT_FOUND envelope", async () => {
    const res = await raw(backend(), "GET", "/v1/nothing-here?x=1");
    expectError(res, 404, "ROUTE_NOT_FOUND", "No endpoint GET /v1/nothing-here");
  });

  it("answers a known path with a method it does not take with 405 METHOD_NOT_ALLOWED (docs/errors.md)", async () => {
    const b = backend();
    expectError(await raw(b, "PUT", "/v1/instances"), 405, "METHOD_NOT_ALLOWED");
    expectError(await raw(b, "PUT", "/v1/volumes", { body: {} }), 405, "METHOD_NOT_ALLOWED");
  });

  it("refuses a body that is not JSON with 400 INVALID_JSON and keeps serving", async () => {
    const b = backend();
    const before = await observe(b);
    const res = await raw(b, "POST", "/v1/volumes", { body: '{"name": "half', headers: { "content-type": "application/json" } });
    expectError(res, 400, "INVALID_JSON", /^The body is not valid JSON/);
    expect(await observe(b)).toEqual(before);
  });

  it("refuses a JSON endpoint's body of another content type with 415", async () => {
    const b = backend();
    const before = await observe(b);
    const res = await raw(b, "POST", "/v1/volumes", { body: "name=x&size_mb=8", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expectError(res, 415, "UNSUPPORTED_MEDIA_TYPE");
    expect(await observe(b)).toEqual(before);
  });

  it("refuses a body over 1 MiB with 413", async () => {
    const b = backend();
    const before = await observe(b);
    const res = await raw(b, "POST", "/v1/instances", { body: { image: "base", autostart: false, env: { BIG: "x".repeat(1100 * 1024) } } });
    expectError(res, 413, "PAYLOAD_TOO_LARGE");
    expect(await observe(b)).toEqual(before);
  });

  it("takes a body-less action sent with Content-Type: application/json and no body", async () => {
    // curl -H 'Content-Type: application/json' -X PUT …/stop, or a client that sets the header on
    // every request: there is no body to be invalid, and these endpoints need none.
    const b = backend();
    const vol = volumeOf(await api(b, "POST", "/v1/volumes", { name: "ct-empty", size_mb: 8 }));
    const json = { "content-type": "application/json" };
    expect((await raw(b, "PUT", `/v1/volumes/${vol.uuid}/detach`, { headers: json })).status).toBe(200);
    const del = await raw(b, "DELETE", `/v1/volumes/${vol.uuid}`, { headers: json });
    expect(del.status).toBe(200);
    expect((await api(b, "GET", "/v1/volumes/ct-empty")).status).toBe(404);
  });
});
