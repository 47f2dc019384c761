/**
 * `buildApp(deps)`: the fastify application of the REST API v1 — authentication, request IDs,
 * the envelope, error mapping and the routes — without listening (fastify's pattern), so tests
 * and `serve` build it the same way.
 */
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Core } from "../core/service";
import { ApiError } from "../core/errors";
import { unexpectedError } from "../core/host-errors";
import { accessCheck, installAccessControl, refuse } from "./access";
import { failure } from "./envelope";
import { installMetrics } from "./metrics/prometheus";
import { openApiDocument } from "./openapi/document";
import { uiRoutes } from "./routes/ui";
import { checkpointRoutes } from "./routes/checkpoints";
import { doctorRoutes } from "./routes/doctor";
import { hostRoutes } from "./routes/hosts";
import { imageRoutes } from "./routes/images";
import { instanceBulkRoutes } from "./routes/instance-bulk";
import { instanceReportRoutes } from "./routes/instance-reports";
import { instanceTemplateRoutes } from "./routes/instance-templates";
import { instanceRoutes } from "./routes/instances";
import { volumeBulkRoutes } from "./routes/volume-bulk";
import { volumeRoutes } from "./routes/volumes";

/** What the app needs. */
export interface AppDeps {
  core: Core;
  /** Bearer token every request but the public routes (access.ts) must carry. */
  token: string;
  /** True when listening on loopback only: requests must then be addressed to a loopback name. */
  loopbackOnly?: boolean;
  /** TLS key and certificate (PEM); plain HTTP without them. */
  tls?: { key: Buffer; cert: Buffer };
  version: string;
  /** The built lineage page (`ui/` beside the CLI bundle); without it `/ui` answers 404. */
  uiDir?: string;
  /** A pino logger (`serve`), or nothing (tests). */
  logger?: FastifyBaseLogger;
}

declare module "fastify" {
  interface FastifyRequest {
    startedNs: bigint;
  }
}

/** Build the application. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const check = accessCheck({ token: deps.token, loopbackOnly: deps.loopbackOnly ?? true });
  const app = Fastify({
    ...(deps.tls ? { https: deps.tls } : {}),
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    genReqId: (req) => (typeof req.headers["x-request-id"] === "string" && req.headers["x-request-id"].length <= 128 ? req.headers["x-request-id"] : randomUUID()),
    bodyLimit: 1024 * 1024,
    // Long-poll waits may hold a request for up to an hour.
    requestTimeout: 0,
    // A target the router cannot decode (`/%`) never reaches the hooks: answer it the same way.
    frameworkErrors: (error, req, reply) => {
      reply.header("x-request-id", req.id);
      const refused = check(req);
      if (refused) return refuse(reply as FastifyReply, refused, req.id);
      const err = new ApiError("VALIDATION_FAILED", error.code === "FST_ERR_BAD_URL" ? "The request target is not a valid URL" : error.message);
      return (reply as FastifyReply).code(err.status).send(failure(err, req.id));
    },
  });

  // JSON bodies; an empty one (e.g. a client that always sends the content type) is no body at all.
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    const text = (body as string).trim();
    if (text === "") return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new ApiError("INVALID_JSON", `The body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });

  // Every route's method and path, so an existing path with another method answers 405.
  const routes: { method: string; pattern: RegExp }[] = [];
  app.addHook("onRoute", (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const pattern = new RegExp(`^${r.url.replace(/:[^/]+/g, "[^/]+")}/?$`);
    for (const m of methods) routes.push({ method: m, pattern });
  });

  // Tar imports stream through untouched; the route reads them.
  app.addContentTypeParser(["application/x-tar", "application/octet-stream", "application/gzip", "application/x-gzip"], (_req, payload, done) =>
    done(null, payload),
  );

  app.addHook("onRequest", async (req: FastifyRequest, reply: FastifyReply) => {
    req.startedNs = process.hrtime.bigint();
    reply.header("x-request-id", req.id);
  });
  installAccessControl(app, check);

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string; validation?: unknown }, req, reply) => {
    let err: ApiError;
    if (ApiError.is(error)) err = error;
    else if (error.code === "FST_ERR_CTP_INVALID_JSON_BODY" || error instanceof SyntaxError || error.code === "FST_ERR_CTP_EMPTY_JSON_BODY")
      err = new ApiError("INVALID_JSON", `The body is not valid JSON: ${error.message}`);
    else if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") err = new ApiError("PAYLOAD_TOO_LARGE", "The request body is larger than 1 MiB");
    else if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE")
      err = new ApiError("UNSUPPORTED_MEDIA_TYPE", `Unsupported content type '${req.headers["content-type"] ?? ""}': send application/json`);
    else if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500)
      err = new ApiError("VALIDATION_FAILED", error.message);
    else err = unexpectedError(error, req.log);
    if (err.retryAfterMs !== undefined) reply.header("retry-after", Math.ceil(err.retryAfterMs / 1000)).header("retry-after-ms", err.retryAfterMs);
    reply.code(err.status).send(failure(err, req.id));
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split("?")[0]!;
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(path) && r.method !== "HEAD").map((r) => r.method))];
    if (allowed.length > 0) {
      reply.code(405).header("allow", allowed.join(", "));
      return reply.send(failure(new ApiError("METHOD_NOT_ALLOWED", `${req.method} is not allowed on ${path}; allowed: ${allowed.join(", ")}`), req.id));
    }
    reply.code(404).send(failure(new ApiError("ROUTE_NOT_FOUND", `No endpoint ${req.method} ${path}`), req.id));
  });

  app.get("/healthz", async () => ({ status: "ok", version: deps.version }));
  // Built on first request: the description is the same for the whole life of the process.
  let openApi: string | undefined;
  app.get("/openapi.json", async (_req, reply) => {
    openApi ??= JSON.stringify(openApiDocument(deps.version));
    return reply.type("application/json").send(openApi);
  });
  const stopMetrics = installMetrics(app, deps.core);
  app.addHook("onClose", async () => stopMetrics());
  app.register(instanceRoutes(deps.core), { prefix: "/v1" });
  app.register(instanceBulkRoutes(deps.core), { prefix: "/v1" });
  app.register(instanceTemplateRoutes(deps.core), { prefix: "/v1" });
  app.register(checkpointRoutes(deps.core), { prefix: "/v1" });
  app.register(instanceReportRoutes(deps.core), { prefix: "/v1" });
  app.register(volumeRoutes(deps.core), { prefix: "/v1" });
  app.register(volumeBulkRoutes(deps.core), { prefix: "/v1" });
  app.register(imageRoutes(deps.core), { prefix: "/v1" });
  app.register(doctorRoutes(deps.core), { prefix: "/v1" });
  app.register(hostRoutes(deps.core), { prefix: "/v1" });
  app.register(uiRoutes(deps.uiDir));
  return app;
}
