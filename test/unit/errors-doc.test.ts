// docs/errors.md must list exactly the codes of the error registry, with their HTTP statuses.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_REGISTRY } from "../../backend/core/errors";

const doc = readFileSync(join(__dirname, "../../docs/errors.md"), "utf8");
const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => ({ code: m[1]!, status: Number(m[2]) }));

describe("docs/errors.md", () => {
  it("lists every registry code with its status", () => {
    for (const [code, e] of Object.entries(ERROR_REGISTRY)) expect(rows).toContainEqual({ code, status: e.status });
  });
  it("lists no code the registry does not have", () => {
    const codes = Object.keys(ERROR_REGISTRY);
    expect(rows.map((r) => r.code).filter((c) => !codes.includes(c))).toEqual([]);
  });
});
