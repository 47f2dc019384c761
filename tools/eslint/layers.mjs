// ESLint rule `vmbranch/layers`: imports run one way (docs/architecture.md, "Layers").
//   examples ─▶ provider ─▶ sdk (client) ─▶ sdk/schemas (zod only)
//   backend/api ─▶ backend/core ─▶ backend/host, backend/store ─▶ sdk
//   backend/agent ─▶ backend/host (the agent's calls and the remote drivers; cli wires them)
// A file may import its own layer and the layers listed for it below; the SDK is reached by
// package name (`vmbranch/sdk`) from outside sdk/. Tests, benchmarks and scripts may import anything.
import path from "node:path";

const LAYERS = [
  // [layer, path prefix] — most specific first.
  ["sdk/schemas", "sdk/schemas/"],
  ["sdk", "sdk/"],
  ["provider", "provider/"],
  ["backend/host", "backend/host/"],
  ["backend/store", "backend/store/"],
  ["backend/agent", "backend/agent/"],
  ["backend/core", "backend/core/"],
  ["backend/api", "backend/api/"],
  ["backend/cli", "backend/cli/"],
  ["backend/ui", "backend/ui/"],
  ["examples", "examples/"],
];

const ALLOWED = {
  "sdk/schemas": [],
  sdk: ["sdk/schemas"],
  provider: ["sdk", "sdk/schemas"],
  "backend/host": ["sdk/schemas", "sdk"],
  "backend/store": ["sdk/schemas", "sdk"],
  "backend/core": ["backend/host", "backend/store", "sdk/schemas", "sdk"],
  "backend/api": ["backend/core", "sdk/schemas", "sdk"],
  // The agent protocol serves a host's drivers and implements them remotely: host below it, nothing above.
  "backend/agent": ["backend/host", "sdk/schemas", "sdk"],
  "backend/cli": ["backend/api", "backend/core", "backend/host", "backend/store", "backend/agent", "sdk/schemas", "sdk"],
  examples: ["provider", "sdk", "sdk/schemas"],
  // The lineage page runs in a browser: the wire types, nothing of the server.
  "backend/ui": ["sdk/schemas"],
};

// Which npm packages each layer may use (node: builtins are always fine except in sdk/schemas).
const PACKAGES = {
  "sdk/schemas": ["zod"],
  sdk: ["zod", "undici"],
  "backend/ui": [],
  // The resource plugin (provider/plugin) speaks gRPC with the stubs @pulumi/pulumi ships, and is bundled.
  provider: ["@pulumi/pulumi", "@grpc/grpc-js", "google-protobuf"],
  examples: ["@pulumi/pulumi"],
};

const layerOf = (rel) => LAYERS.find(([, prefix]) => rel.startsWith(prefix))?.[0];

// Core reaches the host only through its seam: the driver interfaces and their types, the shape of
// a host failure, and the failpoint registry (a test hook, inert unless armed). A future control
// plane puts a network there; nothing else of backend/host may leak into core.
const CORE_HOST_SEAM = ["backend/host/vm-driver", "backend/host/storage-driver", "backend/host/host-failure", "backend/host/failpoints"];

// Core does no file work of its own: files are the host's, asked for by name through the drivers
// (`removeRunDir`, `makeImportScratch`, …), so a driver on another host can do it as a remote call.
const CORE_REFUSED_BUILTINS = ["fs", "fs/promises"];

export default {
  meta: { type: "problem", schema: [], messages: { wrongWay: "{{from}} must not import {{to}} ({{spec}}): imports run one way (docs/architecture.md)" } },
  create(context) {
    const root = context.cwd;
    const file = path.relative(root, context.filename);
    const from = layerOf(file);
    if (!from) return {};
    function check(node, spec) {
      if (typeof spec !== "string") return;
      if (from === "backend/core" && CORE_REFUSED_BUILTINS.includes(spec.replace(/^node:/, "")))
        return context.report({ node, messageId: "wrongWay", data: { from, to: `${spec} (files are the host's: core asks a driver, vm-driver or storage-driver)`, spec } });
      let to;
      if (spec.startsWith(".")) {
        to = layerOf(path.relative(root, path.resolve(path.dirname(context.filename), spec)) + "/") ?? "outside";
        if (to !== from && (from === "provider" || from === "examples") && (to === "sdk" || to === "sdk/schemas")) {
          // Outside sdk/ the SDK is reached by package name, so the built package resolves the same way.
          return context.report({ node, messageId: "wrongWay", data: { from, to: `${to} by relative path`, spec } });
        }
      } else if (spec === "vmbranch" || spec.startsWith("vmbranch/provider")) to = "provider";
      else if (spec.startsWith("vmbranch/sdk")) to = "sdk";
      else if (spec.startsWith("node:") || !spec.startsWith("@") && !spec.includes("/") && isBuiltin(spec)) {
        if (from === "sdk/schemas") context.report({ node, messageId: "wrongWay", data: { from, to: "node builtins", spec } });
        return;
      } else {
        const pkg = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
        const allowed = PACKAGES[from];
        if (allowed && !allowed.includes(pkg)) context.report({ node, messageId: "wrongWay", data: { from, to: `package ${pkg}`, spec } });
        return;
      }
      if (to === from) return;
      if (!(ALLOWED[from] ?? []).includes(to)) context.report({ node, messageId: "wrongWay", data: { from, to, spec } });
      else if (from === "backend/core" && to === "backend/host") {
        const target = path.relative(root, path.resolve(path.dirname(context.filename), spec)).replace(/\.(ts|js)$/, "");
        if (!CORE_HOST_SEAM.includes(target)) context.report({ node, messageId: "wrongWay", data: { from, to: `${target} (core reaches the host only through ${CORE_HOST_SEAM.join(", ")})`, spec } });
      }
    }
    return {
      ImportDeclaration: (n) => check(n, n.source.value),
      ExportNamedDeclaration: (n) => n.source && check(n, n.source.value),
      ExportAllDeclaration: (n) => check(n, n.source.value),
      ImportExpression: (n) => check(n, n.source.value),
      CallExpression: (n) => {
        if (n.callee.type === "Identifier" && n.callee.name === "require" && n.arguments[0]?.type === "Literal") check(n, n.arguments[0].value);
      },
    };
  },
};

import { builtinModules } from "node:module";
function isBuiltin(spec) {
  return builtinModules.includes(spec);
}
