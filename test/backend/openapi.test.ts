// `GET /openapi.json` from a real `vmbranch serve`: served without a token, valid OpenAPI 3.1 by a
// maintained validator, for this server's version; and real answers of the server match the
// schemas the document gives for them.
import { validate } from "@readme/openapi-parser";
import Ajv2020 from "ajv/dist/2020";
import { api, raw, useBackend } from "./support";

jest.setTimeout(60_000);
const backend = useBackend();

describe("GET /openapi.json", () => {
  it("is served without a token, valid, and names this server's version", async () => {
    const res = await raw(backend(), "GET", "/openapi.json", { token: false });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const health = await raw(backend(), "GET", "/healthz", { token: false });
    expect(res.body.info.version).toBe(health.body.version);
    const result = await validate(structuredClone(res.body));
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("describes what the server really answers, errors included", async () => {
    const doc = (await raw(backend(), "GET", "/openapi.json", { token: false })).body;
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema(doc.components.schemas.ErrorEnvelope, "#/components/schemas/ErrorEnvelope");
    const schemaOf = (path: string, method: string, status: number) => {
      const s = doc.paths[path][method].responses[String(status)].content["application/json"].schema;
      return s.$ref ? doc.components.schemas[s.$ref.split("/").pop()] : s;
    };
    const created = await api(backend(), "POST", "/v1/volumes", { name: "openapi-vol", size_mb: 8 });
    expect(created.status).toBe(201);
    expect([ajv.validate(schemaOf("/v1/volumes", "post", 201), created.body), ajv.errors]).toEqual([true, null]);
    const listed = await api(backend(), "GET", "/v1/volumes");
    expect(ajv.validate(schemaOf("/v1/volumes", "get", 200), listed.body)).toBe(true);
    const missing = await raw(backend(), "GET", "/v1/volumes/no-such-volume");
    expect(missing.status).toBe(404);
    expect(ajv.validate(schemaOf("/v1/volumes/{id}", "get", 404), missing.body)).toBe(true);
    expect(doc.paths["/v1/volumes/{id}"].get.responses["404"].content["application/json"]["x-error-codes"]).toContain(missing.body.errors[0].code);
    // A schema that cannot fail would prove nothing: a volume answer is not an error envelope.
    expect(ajv.validate(schemaOf("/v1/volumes/{id}", "get", 404), listed.body)).toBe(false);
  });
});
