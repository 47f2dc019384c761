/**
 * The OpenAPI 3.1 description of the API, generated from OPERATIONS and the SDK's zod schemas
 * (zod's own JSON Schema output, draft 2020-12, which OpenAPI 3.1 uses as its schema dialect), so
 * the wire contract has one source. `GET /openapi.json` serves it.
 */
import { ApiErrorItemSchema, BulkRefSchema, ErrorEnvelopeSchema, ItemFailureSchema, PatchEchoSchema, RefSchema } from "vmbranch/sdk";
import { z } from "zod";
import { ERROR_REGISTRY, type ErrorCode } from "../../core/errors";
import { commonErrors, OPERATIONS, type Operation } from "./operations";

type Json = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: "input" | "output"): Json {
  const out = z.toJSONSchema(schema, {
    io,
    target: "draft-2020-12",
    unrepresentable: "any",
    // A plain z.object lets unknown fields through (answers may grow new fields); only strict objects refuse them.
    override: (ctx) => {
      const def = (ctx.zodSchema as unknown as { _zod: { def: { type: string; catchall?: unknown } } })._zod.def;
      if (def.type === "object" && def.catchall === undefined) delete ctx.jsonSchema.additionalProperties;
    },
  }) as Json;
  delete out.$schema;
  return out;
}

function requestBody(op: Operation): Json | undefined {
  const body = op.body;
  if (!body) return undefined;
  if ("raw" in body) {
    const tar = { schema: { type: "string", contentMediaType: "application/x-tar" } };
    return { required: true, content: { "application/x-tar": tar, "application/octet-stream": tar, "application/gzip": tar } };
  }
  let schema: Json;
  if ("one" in body) schema = jsonSchema(body.one, "input");
  else {
    // A bulk item names its resource; a PATCH item adds one operation of the resource's grammar.
    const item = body.patch ? { allOf: [jsonSchema(BulkRefSchema, "input"), jsonSchema(body.items, "input")] } : jsonSchema(body.items, "input");
    schema = { oneOf: [item, { type: "array", items: item }] };
  }
  return { required: !("one" in body) || !body.one.safeParse({}).success, content: { "application/json": { schema } } };
}

function parameters(op: Operation): Json[] {
  const params: Json[] = [];
  if (op.path.includes("{id}")) {
    params.push({ name: "id", in: "path", required: true, description: "The resource's UUID or name", schema: { type: "string" } });
  }
  if (op.path.includes("{name}")) {
    params.push({ name: "name", in: "path", required: true, description: "The resource's name", schema: { type: "string" } });
  }
  if (op.query) {
    const shape = op.query.shape as Record<string, z.ZodType>;
    for (const [name, field] of Object.entries(shape)) {
      const schema = jsonSchema(field, "input");
      const repeatable = JSON.stringify(schema).includes('"array"');
      params.push({ name, in: "query", required: false, schema, ...(repeatable ? { style: "form", explode: true } : {}) });
    }
  }
  return params;
}

function successResponse(op: Operation): Json {
  if ("text" in op.response && !(op.response instanceof z.ZodType)) {
    if (op.response.text === "prometheus")
      return { description: "Prometheus text exposition format 0.0.4", content: { "text/plain; version=0.0.4": { schema: { type: "string" } } } };
    return { description: "An OpenAPI 3.1 document", content: { "application/json": { schema: { type: "object" } } } };
  }
  let schema = jsonSchema(op.response as z.ZodType, "output");
  if (op.bulk) schema = { ...schema, description: "Items that failed keep their place in `data` as {status: 'error', message, error}; see #/components/schemas/ItemFailure." };
  return { description: op.status === 201 ? "Created" : "Success", content: { "application/json": { schema } } };
}

function errorResponses(op: Operation): Record<string, Json> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodesOf(op)) {
    const status = ERROR_REGISTRY[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, Json> = {};
  for (const [status, codes] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: codes.map((c) => `\`${c}\`: ${ERROR_REGISTRY[c].describe}`).join("\n\n"),
      ...(status === 401 ? { headers: { "WWW-Authenticate": { schema: { type: "string", const: "Bearer" } } } } : {}),
      content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorEnvelope" }, "x-error-codes": codes } },
    };
  }
  return out;
}

/** The error codes `op` can answer with, by HTTP status (what the document lists). */
export function errorCodesOf(op: Operation): ErrorCode[] {
  return [...new Set([...commonErrors(op), ...op.errors])];
}

/** The OpenAPI 3.1 document of the API, for a server of `version`. */
export function openApiDocument(version: string): Json {
  const paths: Record<string, Json> = {};
  for (const op of OPERATIONS) {
    const body = requestBody(op);
    const params = parameters(op);
    const operation: Json = {
      operationId: `${op.method.toLowerCase()}${op.path.replace(/\{id\}/g, "ById").replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? "").toUpperCase())}`,
      tags: [op.tag],
      summary: op.summary,
      ...(op.public ? { security: [] } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(body ? { requestBody: body } : {}),
      responses: { [String(op.status ?? 200)]: successResponse(op), ...errorResponses(op) },
    };
    (paths[op.path] ??= {})[op.method.toLowerCase()] = operation;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "vmbranch",
      version,
      description: "REST API of `vmbranch serve`: QEMU VMs that branch (docs/api.md). Every `/v1` answer is an envelope; errors carry a stable code (docs/errors.md).",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    servers: [{ url: "http://127.0.0.1:7480", description: "vmbranch serve on its default address" }],
    security: [{ bearer: [] }],
    tags: [...new Set(OPERATIONS.map((o) => o.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "The server's token (`<data-dir>/token` or `$VMBRANCH_TOKEN`)" } },
      schemas: {
        ErrorEnvelope: jsonSchema(ErrorEnvelopeSchema, "output"),
        ApiErrorItem: jsonSchema(ApiErrorItemSchema, "output"),
        ItemFailure: jsonSchema(ItemFailureSchema, "output"),
        Ref: jsonSchema(RefSchema, "input"),
        PatchEcho: jsonSchema(PatchEchoSchema, "output"),
      },
    },
  };
}
