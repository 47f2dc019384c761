#!/usr/bin/env node
// scripts/gen-sdks.mjs (`npm run sdks -- OUT_DIR [nodejs] [python] [go]`, all three by default):
// generates the SDKs of the schema-based plugin from its checked-in package schema,
// provider/plugin/schema.json, with `pulumi package gen-sdk`, and finishes each so it can be
// installed as it is:
// - OUT_DIR/nodejs: the npm package `@vmbranch/pulumi`, compiled into OUT_DIR/nodejs/bin with its
//   package.json beside it (version filled in), as Pulumi's providers publish their Node.js SDKs:
//   `npm install OUT_DIR/nodejs/bin`. Compiled by the `typescript` and against the `@pulumi/pulumi`
//   that resolve from OUT_DIR (a project's own), else by the repository's;
// - OUT_DIR/python: the Python package `pulumi_vmbranch` (`pip install OUT_DIR/python`);
// - OUT_DIR/go/vmbranch: the Go module `github.com/vmbranch/vmbranch/sdk/go/vmbranch`, with a go.mod
//   requiring `github.com/pulumi/pulumi/sdk/v3` and tidied (`go mod tidy`, which needs the Go
//   module proxy), for a program's go.mod to `replace` it.
// Each OUT_DIR/<language> is replaced. Needs the `pulumi` CLI and that language's host on PATH
// (every Pulumi install has them), and Go for `go`. The plugin layer's tests generate their SDKs
// with this script.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const root = new URL("..", import.meta.url).pathname;
const LANGUAGES = ["nodejs", "python", "go"];
const [outArg, ...chosen] = process.argv.slice(2);
if (!outArg || outArg.startsWith("-") || chosen.some((l) => !LANGUAGES.includes(l))) {
  process.stderr.write("usage: node scripts/gen-sdks.mjs OUT_DIR [nodejs] [python] [go]\n");
  process.exit(2);
}
const out = path.resolve(outArg);
const schemaFile = path.join(root, "provider", "plugin", "schema.json");
const schema = JSON.parse(readFileSync(schemaFile, "utf8"));
// One Pulumi SDK version for every language: the lowest the Node.js SDK accepts (`^3.259.0`).
const pulumiVersion = schema.language.nodejs.dependencies["@pulumi/pulumi"].replace(/^[\^~]/, "");

// Output goes to stderr: callers read nothing from stdout but errors.
const run = (command, args, options = {}) => execFileSync(command, args, { stdio: ["ignore", 2, 2], ...options });

for (const language of chosen.length > 0 ? chosen : LANGUAGES) {
  rmSync(path.join(out, language), { recursive: true, force: true });
  run("pulumi", ["package", "gen-sdk", schemaFile, "--language", language, "--out", out]);
  if (language === "nodejs") compileNode(path.join(out, "nodejs"));
  if (language === "go") goModule(path.join(out, "go", path.basename(schema.language.go.importBasePath)));
  process.stderr.write(`gen-sdks: ${language} SDK in ${path.join(out, language)}\n`);
}

/** Compile the Node.js SDK into `sdk/bin` and put its package.json, version filled in, beside the code. */
function compileNode(sdk) {
  const resolveFrom = (request, dirs) => {
    try {
      return createRequire(path.join(dirs[0], "x.js")).resolve(request, { paths: dirs });
    } catch {
      return undefined;
    }
  };
  const tsc = path.join(path.dirname(resolveFrom("typescript/package.json", [sdk, root])), "bin", "tsc");
  // The SDK imports @pulumi/pulumi: a project's beside OUT_DIR when there is one, else the
  // repository's, seen through a node_modules link that lives only while tsc runs.
  const link = resolveFrom("@pulumi/pulumi/package.json", [sdk]) ? undefined : path.join(sdk, "node_modules");
  if (link) symlinkSync(path.join(root, "node_modules"), link);
  try {
    run(process.execPath, [tsc, "-p", sdk], { cwd: sdk });
  } finally {
    if (link) rmSync(link, { force: true });
  }
  const bin = path.join(sdk, "bin");
  writeFileSync(path.join(bin, "package.json"), readFileSync(path.join(sdk, "package.json"), "utf8").replace("${VERSION}", schema.version));
}

/** Give the Go SDK a go.mod of its own (module path from the schema) and tidy it. */
function goModule(dir) {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "go.mod"), `module ${schema.language.go.importBasePath}\n\ngo 1.25\n\nrequire github.com/pulumi/pulumi/sdk/v3 v${pulumiVersion}\n`);
  run("go", ["mod", "tidy"], { cwd: dir, env: { ...process.env, GOFLAGS: "-mod=mod" } });
}
