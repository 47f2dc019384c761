/**
 * Who may use the API. Decided on the route fastify matched, never on the raw request target, so
 * every spelling the router accepts (percent-encoding, absolute-form, query or fragment) meets the
 * same check as the plain one. Only the routes in PUBLIC_ROUTES answer without the bearer token;
 * everything else, including targets that match no route or a route with another method, gets 401
 * first, so a client without the token learns nothing about which endpoints or resources exist.
 * When the service listens on loopback only, the Host (or an absolute-form target's authority)
 * must also name loopback: a web page that re-binds its DNS name to 127.0.0.1 is refused.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ApiError } from "../core/errors";
import { failure } from "./envelope";
import { UI_ROUTES } from "./routes/ui";

/**
 * `METHOD url-pattern` of the routes anyone may call: what holds no data of the server (its
 * health, the API's description, the lineage page's static files, which fetch data with the token).
 */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(["GET /healthz", "HEAD /healthz", "GET /openapi.json", "HEAD /openapi.json", ...UI_ROUTES]);

/** What the access check needs. */
export interface AccessPolicy {
  /** The bearer token. */
  token: string;
  /** True when the service listens on loopback only: then Host must be a loopback name. */
  loopbackOnly: boolean;
}

/** True for `localhost`, names under `.localhost`, 127.0.0.0/8 and ::1 (with or without brackets). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || /^(0{1,4}:){7}0{0,3}1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

/** The host part of a Host header value (`name`, `name:port`, `[v6]:port`), or null when malformed. */
export function hostOf(value: string): string | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]@/\s]+)(?::\d{1,5})?$/.exec(value.trim());
  return m ? m[1]! : null;
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

/** Compares a presented token with the expected one in constant time (digests, so lengths do not leak). */
export function tokenMatches(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

/**
 * Why `req` is refused before routing, or null when it may go on. The token comes first, so a
 * client without it gets 401 whatever Host it sends; a token holder (or anyone on a public
 * route) addressing a foreign Host gets 403.
 */
export function refusal(req: FastifyRequest, policy: AccessPolicy, expected: Buffer, isPublic: boolean): ApiError | null {
  if (!isPublic) {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "");
    if (!m) return new ApiError("UNAUTHORIZED", "Missing 'Authorization: Bearer <token>' header");
    if (!tokenMatches(m[1]!, expected)) return new ApiError("UNAUTHORIZED", "Invalid bearer token");
  }
  if (policy.loopbackOnly && !addressedToLoopback(req)) {
    return new ApiError("HOST_NOT_ALLOWED", "This service answers only requests addressed to a loopback name (localhost, 127.0.0.1, [::1])");
  }
  return null;
}

/** True when neither Host nor an absolute-form target's authority (which HTTP/1.1 says wins) names a non-loopback host. */
function addressedToLoopback(req: FastifyRequest): boolean {
  const target = req.raw.url ?? "";
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(target)?.[1];
  for (const value of [req.headers.host, authority]) {
    if (value === undefined) continue;
    const host = hostOf(value.replace(/^[^@]*@/, ""));
    if (host === null || !isLoopbackHost(host)) return false;
  }
  return true;
}

/** Sends the refusal envelope (401 with a Bearer challenge, or 403 for a foreign Host). */
export function refuse(reply: FastifyReply, err: ApiError, requestId: string): FastifyReply {
  if (err.code === "UNAUTHORIZED") reply.header("www-authenticate", "Bearer");
  return reply.code(err.status).send(failure(err, requestId));
}

/** The access check of `policy` for one request: the refusal to send, or null to go on. */
export function accessCheck(policy: AccessPolicy): (req: FastifyRequest) => ApiError | null {
  const expected = digest(policy.token);
  return (req) => {
    const route = req.routeOptions.url;
    const isPublic = route !== undefined && PUBLIC_ROUTES.has(`${req.method} ${route}`);
    return refusal(req, policy, expected, isPublic);
  };
}

/** Runs `check` on every request of `app` (matched, unmatched, any method) before anything else it does. */
export function installAccessControl(app: FastifyInstance, check: (req: FastifyRequest) => ApiError | null): void {
  app.addHook("onRequest", async (req, reply) => {
    const err = check(req);
    if (err) return refuse(reply, err, req.id);
  });
}
