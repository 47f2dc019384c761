// A client without the token gets nothing from a real `vmbranch serve`, however it spells the
// request: percent-encoding, absolute-form, dot segments, double slashes, case, `;` parameters,
// fragments, odd methods, unknown paths, chunked or oversized requests. Every such request answers
// 401 with nothing but the refusal, and changes nothing (the instance and volume made first are
// still there). A request addressed to a foreign host name (DNS rebinding) is refused with 403
// while the service listens on loopback; off loopback it serves only with TLS, or plain HTTP when
// the operator insists (and is warned). Privileged host ports need the operator's consent.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorEnvelopeSchema } from "../../sdk";
import { api, expectError, instanceOf, observe, raw, useBackend, volumeOf } from "../backend/support";
import { startBackend } from "../helpers/backend";
import { message, send, type RawAnswer } from "./support/raw-http";

jest.setTimeout(60_000);
const backend = useBackend();
const port = () => Number(new URL(backend().url).port);

beforeAll(async () => {
  volumeOf(await api(backend(), "POST", "/v1/volumes", { name: "keep-vol", size_mb: 8 }));
  instanceOf(await api(backend(), "POST", "/v1/instances", { name: "keep-inst", image: "base", autostart: false, env: { SECRET: "s3cret" } }));
});

/** A refusal that says nothing but that: 401, UNAUTHORIZED, a Bearer challenge, and no data. */
function expectBare401(a: RawAnswer, what: string): void {
  expect({ what, status: a.status }).toEqual({ what, status: 401 });
  expect(a.headers["www-authenticate"]).toBe("Bearer");
  if (a.body === "") return; // HEAD
  const env = ErrorEnvelopeSchema.parse(a.json);
  expect(Object.keys(a.json).sort()).toEqual(["errors", "message", "request_id", "status"]);
  expect(env.errors.map((e) => e.code)).toEqual(["UNAUTHORIZED"]);
  expect(a.body).not.toContain("keep-");
  expect(a.body).not.toContain("s3cret");
}

const BODY = JSON.stringify([{ prop: "delete_lock", op: "set", value: true }]);

describe("without the token", () => {
  it.each([
    ["GET", "/v1/instances"],
    ["GET", "/%761/instances"],
    ["GET", "/%76%31/%69nstances"],
    ["GET", "http://x/v1/instances"],
    ["GET", "http://127.0.0.1/v1/instances"],
    ["GET", "HTTP://X/v1/instances"],
    ["GET", "//v1/instances"],
    ["GET", "/v1//instances"],
    ["GET", "/v1/../v1/instances"],
    ["GET", "/v1/./instances"],
    ["GET", "/healthz/../v1/instances"],
    ["GET", "/healthz%2f..%2fv1/instances"],
    ["GET", "/V1/instances"],
    ["GET", "/v1/INSTANCES"],
    ["GET", "/v1%2finstances"],
    ["GET", "/v1%2Finstances"],
    ["GET", "/v1/instances;x=1"],
    ["GET", "/v1;x/instances"],
    ["GET", "/v1/instances/"],
    ["GET", "/v1/instances?tags=x"],
    ["GET", "/v1/instances#frag"],
    ["GET", "/v1/instances%00"],
    ["GET", "/v1/instances/%"],
    ["GET", "/v1/instances/keep-inst"],
    ["GET", "/v1/instances/keep-inst/log"],
    ["GET", "/v1/instances/keep-inst/wait?state=running&timeout_s=1"],
    ["GET", "/v1/volumes/keep-vol"],
    ["GET", "*"],
    ["GET", "/"],
    ["GET", "/nope"],
    ["GET", "/v2/instances"],
    ["HEAD", "/v1/instances"],
    ["OPTIONS", "/v1/instances"],
    ["OPTIONS", "*"],
    ["TRACE", "/v1/instances"],
    ["POST", "/v1/images"],
    ["DELETE", "/v1/images"],
    ["DELETE", "/%761/instances/keep-inst"],
    ["DELETE", "http://x/v1/instances/keep-inst"],
    ["DELETE", "/v1/instances/keep-inst"],
    ["DELETE", "/v1/volumes/keep-vol"],
    ["PUT", "/v1/instances/keep-inst/start"],
    ["PUT", "/%761/instances/keep-inst/start"],
    ["PATCH", "/v1/instances/keep-inst"],
  ])("%s %s answers a bare 401", async (method, target) => {
    const headers: [string, string][] = ["PATCH", "POST", "PUT"].includes(method) ? [["Content-Type", "application/json"]] : [];
    const a = await send(port(), message(method, target, headers, headers.length ? BODY : ""));
    expectBare401(a, `${method} ${target}`);
  });

  it.each([
    ["a wrong token", [["Authorization", "Bearer wrong-token-of-some-length"]]],
    ["the scheme in lower case", [["Authorization", "bearer TOKEN"]]],
    ["two spaces after Bearer", [["Authorization", "Bearer  TOKEN"]]],
    ["the token with a suffix", [["Authorization", "Bearer TOKENx"]]],
    ["a prefix of the token", [["Authorization", "Bearer TOKEN".slice(0, -4)]]],
    ["another scheme", [["Authorization", "Token TOKEN"]]],
    ["a second header carrying the token", [["Authorization", "Bearer wrong"], ["Authorization", "Bearer TOKEN"]]],
    ["the token in a cookie", [["Cookie", "token=TOKEN"]]],
    ["the token in X-Auth", [["X-Auth-Token", "TOKEN"]]],
  ])("DELETE with %s answers a bare 401", async (_what, headers) => {
    const token = backend().token;
    const h = (headers as [string, string][]).map(([n, v]): [string, string] => [n, v.replace(/TOKEN/, token)]);
    expectBare401(await send(port(), message("DELETE", "/v1/instances/keep-inst", h)), _what);
    expectBare401(await send(port(), message("GET", `/v1/instances?token=${token}`, h)), `${_what} (token in the query)`);
  });

  it("answers a chunked create with 401 and creates nothing", async () => {
    const body = JSON.stringify({ name: "chunked-vol", size_mb: 8 });
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const a = await send(port(), message("POST", "/v1/volumes", [["Content-Type", "application/json"], ["Transfer-Encoding", "chunked"]], chunked));
    expectBare401(a, "chunked POST");
    expect((await api(backend(), "GET", "/v1/volumes")).body.data.volumes.map((v: { name: string }) => v.name)).not.toContain("chunked-vol");
  });

  it("answers oversized headers before routing, revealing nothing", async () => {
    const a = await send(port(), message("GET", "/v1/instances", [["X-Pad", "a".repeat(64 * 1024)]]));
    expect(a.status).toBe(431);
    expect(a.body).not.toContain("keep-");
  });

  it("left everything as it was", async () => {
    const b = backend();
    const now = await observe(b);
    expect(now.instances.map((i) => [i.name, i.delete_lock, i.state])).toEqual([["keep-inst", false, "stopped"]]);
    expect(now.volumes.map((v) => v.name)).toEqual(["keep-vol"]);
  });
});

describe("with the token", () => {
  it("still answers GET and HEAD /healthz to anyone, and nothing else", async () => {
    expect((await send(port(), message("GET", "/healthz"))).status).toBe(200);
    expect((await send(port(), message("HEAD", "/healthz"))).status).toBe(200);
    expect((await send(port(), message("GET", "/healthz?x=1"))).status).toBe(200);
    expectBare401(await send(port(), message("GET", "/healthz/")), "GET /healthz/");
    expectBare401(await send(port(), message("POST", "/healthz")), "POST /healthz");
  });

  it("answers GET and HEAD /openapi.json to anyone, and nothing else on that path", async () => {
    const a = await send(port(), message("GET", "/openapi.json"));
    expect(a.status).toBe(200);
    expect(a.json.openapi).toBe("3.1.0");
    expect(a.body).not.toContain("keep-");
    expect((await send(port(), message("HEAD", "/openapi.json"))).status).toBe(200);
    expectBare401(await send(port(), message("POST", "/openapi.json")), "POST /openapi.json");
    expectBare401(await send(port(), message("GET", "/openapi.json/")), "GET /openapi.json/");
    expectBare401(await send(port(), message("GET", "/openapi.json/../v1/instances")), "GET /openapi.json/../v1/instances");
    const foreign = await send(port(), message("GET", "/openapi.json", [["Host", "evil.example"]]));
    expect(foreign.status).toBe(403);
  });

  it("serves the lineage page's static files to anyone, with nothing of the server in them, and nothing else under /ui", async () => {
    for (const path of ["/ui", "/ui/app.js", "/ui/style.css"]) {
      const a = await send(port(), message("GET", path));
      expect({ path, status: a.status }).toEqual({ path, status: 200 });
      expect(a.headers["content-security-policy"]).toContain("default-src 'none'");
      expect(a.body).not.toContain("keep-");
      expect(a.body).not.toContain("s3cret");
    }
    expectBare401(await send(port(), message("POST", "/ui")), "POST /ui");
    expectBare401(await send(port(), message("GET", "/ui/index.html")), "GET /ui/index.html");
    expectBare401(await send(port(), message("GET", "/ui/../v1/instances")), "GET /ui/../v1/instances");
    expect((await send(port(), message("GET", "/ui", [["Host", "evil.example"]]))).status).toBe(403);
  });

  it("tells a token holder what is missing: 404 for unknown paths, 405 for another method, 400 for a malformed target", async () => {
    const auth: [string, string] = ["Authorization", `Bearer ${backend().token}`];
    expect((await send(port(), message("GET", "/v2/instances", [auth]))).json.errors[0].code).toBe("ROUTE_NOT_FOUND");
    expect((await send(port(), message("POST", "/v1/images", [auth]))).json.errors[0].code).toBe("METHOD_NOT_ALLOWED");
    const bad = await send(port(), message("GET", "/v1/instances/%", [auth]));
    expect([bad.status, bad.json.errors[0].code]).toEqual([400, "VALIDATION_FAILED"]);
    // The spellings the router decodes reach the same route, for the token holder too.
    expect((await send(port(), message("GET", "/%761/instances", [auth]))).status).toBe(200);
  });
});

describe("the Host of a request to a loopback listener", () => {
  it.each([["127.0.0.1"], ["127.0.0.1:PORT"], ["localhost:PORT"], ["LOCALHOST"], ["[::1]:PORT"], ["app.localhost:PORT"]])("accepts %s", async (host) => {
    const auth: [string, string] = ["Authorization", `Bearer ${backend().token}`];
    const a = await send(port(), message("GET", "/v1/images", [["Host", host.replace("PORT", String(port()))], auth]));
    expect(a.status).toBe(200);
  });

  it.each([["evil.example"], ["evil.example:PORT"], ["127.0.0.1.evil.example"], ["10.0.2.2:PORT"], ["0.0.0.0:PORT"], ["localhost.evil.example"]])(
    "refuses %s with 403, for the token holder and on /healthz alike",
    async (host) => {
      const h = host.replace("PORT", String(port()));
      const auth: [string, string] = ["Authorization", `Bearer ${backend().token}`];
      const a = await send(port(), message("GET", "/v1/images", [["Host", h], auth]));
      expect([a.status, a.json.errors[0].code]).toEqual([403, "HOST_NOT_ALLOWED"]);
      expect((await send(port(), message("GET", "/healthz", [["Host", h]]))).status).toBe(403);
    },
  );

  it("judges an absolute-form target by its own authority", async () => {
    const auth: [string, string] = ["Authorization", `Bearer ${backend().token}`];
    expect((await send(port(), message("GET", "http://evil.example/healthz"))).status).toBe(403);
    expect((await send(port(), message("GET", "http://evil.example/v1/images", [auth]))).status).toBe(403);
    expect((await send(port(), message("GET", `http://127.0.0.1:${port()}/v1/images`, [auth]))).status).toBe(200);
  });

  it("answers a request without Host (HTTP/1.0) on a public route", async () => {
    const a = await send(port(), "GET /healthz HTTP/1.0\r\n\r\n");
    expect(a.status).toBe(200);
  });
});

describe("published host ports", () => {
  it("refuses a privileged host port unless the operator allows them", async () => {
    const b = backend();
    const before = await observe(b);
    const res = await raw(b, "POST", "/v1/instances", { body: { name: "low", image: "base", autostart: false, ports: [{ guest_port: 80, host_port: 80 }] } });
    expectError(res, 400, "VALIDATION_FAILED", "Host port 80 is privileged (below 1024); this server does not publish such ports (the operator allows them with --allow-privileged-ports)", "ports");
    expect(await observe(b)).toEqual(before);

    const permissive = await startBackend({ args: ["--allow-privileged-ports"] });
    try {
      const inst = instanceOf(await api(permissive, "POST", "/v1/instances", { name: "low", image: "base", autostart: false, ports: [{ guest_port: 80, host_port: 80 }] }));
      expect(inst.ports).toEqual([expect.objectContaining({ guest_port: 80, host_port: 80 })]);
    } finally {
      await permissive.stop();
    }
  });
});

it("refuses a guessable token from the environment", async () => {
  await expect(startBackend({ env: { VMBRANCH_TOKEN: randomBytes(4).toString("hex") } })).rejects.toThrow(/VMBRANCH_TOKEN must be at least 16 characters/);
});

describe("listening off loopback", () => {
  it("refuses to start without TLS, naming the two ways", async () => {
    await expect(startBackend({ args: ["--listen", "0.0.0.0:0"] })).rejects.toThrow(
      /listening on '0\.0\.0\.0' \(not loopback\) needs TLS: give --tls-cert and --tls-key, or --insecure-listen/,
    );
  });

  it("serves plain HTTP only when the operator insists, warning about it, and still wants the token", async () => {
    const b = await startBackend({ args: ["--listen", "0.0.0.0:0", "--insecure-listen"] });
    try {
      expect(b.serveLog()).toMatch(/WARNING: serving plain HTTP on '0\.0\.0\.0' \(--insecure-listen\)/);
      const p = Number(new URL(b.url).port);
      expectBare401(await send(p, message("GET", "/v1/instances")), "GET /v1/instances");
      // Off loopback, names are the operator's business: no Host check.
      expect((await send(p, message("GET", "/healthz", [["Host", "vmbranch.example"]]))).status).toBe(200);
    } finally {
      await b.stop();
    }
  });

  it("serves HTTPS with the operator's certificate and key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vmbranch-test-tls-"));
    try {
      const [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
      execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], { stdio: "ignore" });
      const b = await startBackend({ args: ["--listen", "0.0.0.0:0", "--tls-cert", cert, "--tls-key", key] });
      try {
        expect(b.url).toMatch(/^https:\/\//);
        const p = Number(new URL(b.url).port);
        const get = (path: string, token?: string) =>
          new Promise<number>((resolve, reject) => {
            const req = httpsRequest({ host: "127.0.0.1", port: p, path, ca: readFileSync(cert), headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
              res.resume();
              resolve(res.statusCode!);
            });
            req.on("error", reject);
            req.end();
          });
        expect(await get("/healthz")).toBe(200);
        expect(await get("/v1/images")).toBe(401);
        expect(await get("/v1/images", b.token)).toBe(200);
        // Plain HTTP to the TLS port gets no answer of the API.
        const plain = await send(p, message("GET", "/healthz")).catch(() => ({ status: 0 }));
        expect(plain.status).not.toBe(200);
      } finally {
        await b.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
