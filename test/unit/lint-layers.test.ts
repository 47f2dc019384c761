// The one-way import rule (docs/architecture.md, "Layers"; tools/eslint/layers.mjs): wrong-way
// imports fail lint.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");

// ESLint loads its flat config as an ES module, which jest's sandbox cannot: lint in plain Node,
// all cases in one process, exactly as `npm run lint` would see these files.
const LINT = `
const { ESLint } = require("eslint");
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
(async () => {
  const eslint = new ESLint({ cwd: ${JSON.stringify(ROOT)} });
  const out = [];
  for (const [file, code] of cases) {
    const [r] = await eslint.lintText(code, { filePath: require("path").join(${JSON.stringify(ROOT)}, file) });
    out.push(r.messages.filter((m) => m.ruleId === "vmbranch/layers").map((m) => m.message));
  }
  process.stdout.write(JSON.stringify(out));
})();
`;

function lintAll(cases: [string, string][]): string[][] {
  return JSON.parse(execFileSync(process.execPath, ["-e", LINT], { cwd: ROOT, input: JSON.stringify(cases), encoding: "utf8" }));
}

jest.setTimeout(60_000);

const WRONG: [string, string][] = [
    ["sdk/schemas/x.ts", 'import "node:fs";\nexport {};'],
    ["sdk/schemas/x.ts", 'import { VmbranchClient } from "../client";\nexport { VmbranchClient };'],
    ["sdk/client/x.ts", 'import { Core } from "../../backend/core/service";\nexport { Core };'],
    ["provider/x.ts", 'import { InstanceSchema } from "../sdk/schemas";\nexport { InstanceSchema };'],
    ["provider/x.ts", 'import { z } from "zod";\nexport { z };'],
    ["backend/host/x.ts", 'import { Core } from "../core/service";\nexport { Core };'],
    ["backend/core/x.ts", 'import { buildApp } from "../api/build-app";\nexport { buildApp };'],
    ["backend/core/x.ts", 'import { run } from "../host/util/exec";\nexport { run };'],
    ["backend/core/x.ts", 'import type { FilesystemDriver } from "../host/storage/filesystems";\nexport type { FilesystemDriver };'],
    ["backend/core/x.ts", 'import { rm } from "node:fs/promises";\nexport { rm };'],
    ["backend/core/x.ts", 'import { readdirSync } from "node:fs";\nexport { readdirSync };'],
    ["backend/core/x.ts", 'import { stat } from "fs/promises";\nexport { stat };'],
    ["backend/api/x.ts", 'import { Store } from "../store/store";\nexport { Store };'],
    ["examples/x/index.ts", 'import { Core } from "../../backend/core/service";\nexport { Core };'],
    ["backend/agent/x.ts", 'import { Core } from "../core/service";\nexport { Core };'],
    ["backend/core/x.ts", 'import { RemoteVmDriver } from "../agent/remote-vm-driver";\nexport { RemoteVmDriver };'],
];
const RIGHT: [string, string][] = [
    ["sdk/client/x.ts", 'import { InstanceSchema } from "../schemas";\nexport { InstanceSchema };'],
    ["provider/x.ts", 'import { InstanceSchema } from "vmbranch/sdk";\nexport { InstanceSchema };'],
    ["backend/core/x.ts", 'import { Store } from "../store/store";\nimport type { VmDriver } from "../host/vm-driver";\nimport type { StorageDriver } from "../host/storage-driver";\nexport { Store };\nexport type { VmDriver, StorageDriver };'],
    ["backend/api/x.ts", 'import { Core } from "../core/service";\nexport { Core };'],
    ["backend/core/x.ts", 'import { join } from "node:path";\nexport { join };'],
    ["backend/host/x.ts", 'import { rm } from "node:fs/promises";\nexport { rm };'],
    ["backend/agent/x.ts", 'import type { VmDriver } from "../host/vm-driver";\nexport type { VmDriver };'],
    ["backend/cli/x.ts", 'import { connectAgent } from "../agent/connect";\nexport { connectAgent };'],
];

describe("vmbranch/layers", () => {
  const results = lintAll([...WRONG, ...RIGHT]);
  it.each(WRONG.map((c, i) => [c[0], i]))("refuses %s importing the wrong way (case %i)", (_file, i) => {
    expect(results[i as number]!.length).toBeGreaterThan(0);
  });
  it.each(RIGHT.map((c, i) => [c[0], WRONG.length + i]))("accepts %s importing the right way (case %i)", (_file, i) => {
    expect(results[i as number]).toEqual([]);
  });
});
