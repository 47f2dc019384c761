// The OpenAPI description: generated from the zod schemas, valid OpenAPI 3.1 (checked by a
// maintained validator), naming exactly the routes the app registers, and in step with docs/api.md
// (every operation with its success status and error codes; every status in the status table).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { validate } from "@readme/openapi-parser";
import { buildApp } from "../../backend/api/build-app";
import { errorCodesOf, openApiDocument } from "../../backend/api/openapi/document";
import { commonErrors, OPERATIONS } from "../../backend/api/openapi/operations";
import { ERROR_REGISTRY } from "../../backend/core/errors";
import type { Core } from "../../backend/core/service";

const apiMd = readFileSync(join(__dirname, "../../docs/api.md"), "utf8");
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const doc = openApiDocument("0.0.0-test") as any;

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1", async () => {
    const result = await validate(structuredClone(doc));
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe("3.1.0");
  });

  it("names exactly the routes the app registers", async () => {
    // Registering routes touches no core service but the outcome subscription of the metrics.
    const core = { figures: { onOutcome: () => () => {} } } as unknown as Core;
    const app = buildApp({ core, token: "t".repeat(32), version: "0.0.0-test" });
    const registered: string[] = [];
    app.addHook("onRoute", (r) => {
      // The lineage page is HTML for browsers, not API (operations.ts).
      if (r.url.startsWith("/ui")) return;
      for (const m of [r.method].flat()) if (m !== "HEAD") registered.push(`${m} ${r.url.replace(/:([^/]+)/g, "{$1}")}`);
    });
    await app.ready();
    // Routes added before the hook (buildApp's own, outside /v1) are found with hasRoute.
    for (const o of OPERATIONS.filter((op) => !op.path.startsWith("/v1/")))
      if (app.hasRoute({ method: o.method, url: o.path })) registered.push(`${o.method} ${o.path}`);
    await app.close();
    const documented = OPERATIONS.map((o) => `${o.method} ${o.path}`);
    expect([...registered].sort()).toEqual([...documented].sort());
  });

  it("describes bodies, queries and answers from the SDK schemas", () => {
    const create = doc.paths["/v1/instances"].post;
    expect(Object.keys(create.requestBody.content["application/json"].schema.properties)).toEqual(expect.arrayContaining(["name", "image", "branch_from"]));
    // Requests are strict (an unknown field is a 400), answers may carry fields a client does not know yet.
    expect(create.requestBody.content["application/json"].schema.additionalProperties).toBe(false);
    expect(create.responses["201"].content["application/json"].schema.additionalProperties).toBeUndefined();
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(["201", "400", "401", "404", "409", "507"]));
    expect(create.responses["409"].content["application/json"]["x-error-codes"]).toContain("BRANCH_PENDING_SNAPSHOT");
    expect(doc.paths["/v1/instances"].get.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(["tags", "uuid", "name", "details"]));
    expect(doc.paths["/healthz"].get.security).toEqual([]);
    expect(doc.paths["/v1/images"].get.security).toBeUndefined();
  });
});

describe("docs/api.md", () => {
  const rows = new Map(
    [...apiMd.matchAll(/^\| `(GET|POST|PUT|PATCH|DELETE) (\/[^`]*)` \| (\d{3})( \(bulk\))? \| (.*) \|$/gm)].map((m) => [
      `${m[1]} ${m[2]}`,
      { status: Number(m[3]), bulk: m[4] !== undefined, errors: m[5] === "—" ? [] : m[5]!.split(", ") },
    ]),
  );

  it("lists every operation once, with its success status and its own error codes", () => {
    for (const op of OPERATIONS) {
      const errors = [...new Set(op.errors)].map((c) => `${ERROR_REGISTRY[c].status} \`${c}\``);
      expect({ op: `${op.method} ${op.path}`, ...rows.get(`${op.method} ${op.path}`) }).toEqual({
        op: `${op.method} ${op.path}`,
        status: op.status ?? 200,
        bulk: op.bulk === true,
        errors: expect.arrayContaining(errors),
      });
      expect(rows.get(`${op.method} ${op.path}`)!.errors).toHaveLength(errors.length);
    }
    expect([...rows.keys()].sort()).toEqual(OPERATIONS.map((o) => `${o.method} ${o.path}`).sort());
  });

  it("names the codes every operation can answer, and every status the document has", () => {
    const list = apiMd.slice(apiMd.indexOf("### The list"));
    for (const op of OPERATIONS) for (const code of commonErrors(op)) expect(list).toContain(`${ERROR_REGISTRY[code].status} ${code}`);
    const statusTable = apiMd.slice(apiMd.indexOf("### Status codes"), apiMd.indexOf("### Addressing"));
    const statuses = new Set(OPERATIONS.flatMap((op) => [op.status ?? 200, ...errorCodesOf(op).map((c) => ERROR_REGISTRY[c].status)]));
    for (const s of statuses) expect(statusTable).toMatch(new RegExp(`^\\| ${s} \\|`, "m"));
  });
});
