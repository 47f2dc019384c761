// The two npm packages stay what docs/provider.md ("Install") and backend/README.md promise: the
// provider package depends on undici and zod only, puts the resource plugin on PATH, with a peer @pulumi/pulumi ^3.259.0 and types
// for every entry point (typesVersions for `moduleResolution: node`); the server package carries
// the `vmbranch` command and needs only its SQLite addon at run time; both have one version,
// which the SDK reports and the server builds in.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SDK_VERSION } from "vmbranch/sdk";

const REPO = join(__dirname, "..", "..");
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- package.json read field by field
const read = (file: string): any => JSON.parse(readFileSync(join(REPO, file), "utf8"));

test("the provider package: provider and SDK only, built, typed, publishable", () => {
  const pkg = read("package.json");
  expect(pkg.name).toBe("vmbranch");
  expect(pkg.private).toBeUndefined();
  expect(Object.keys(pkg.dependencies).sort()).toEqual(["undici", "zod"]);
  expect(pkg.peerDependencies).toEqual({ "@pulumi/pulumi": "^3.259.0" });
  expect(pkg.files).toEqual(["dist/provider/", "dist/sdk/", "dist/bin/", "bin/"]);
  expect(pkg.scripts.prepack).toBe("node scripts/build.mjs lib");
  // The resource plugin on PATH (a launcher of dist/bin/plugin.js, which the lib build bundles).
  expect(pkg.bin).toEqual({ "pulumi-resource-vmbranch": "bin/pulumi-resource-vmbranch" });
  expect(readFileSync(join(REPO, pkg.bin["pulumi-resource-vmbranch"]), "utf8")).toContain('require("../dist/bin/plugin.js")');
  expect(Object.keys(pkg.exports).sort()).toEqual([".", "./package.json", "./provider/*", "./sdk"]);
  expect(pkg.typesVersions).toEqual({ "*": { sdk: ["dist/sdk/index.d.ts"], "provider/*": ["dist/provider/*"] } });
  expect(pkg.workspaces).toEqual(["backend"]);
});

test("the server package: the vmbranch command, its SQLite addon as the one run-time dependency", () => {
  const pkg = read("backend/package.json");
  expect(pkg.name).toBe("vmbranch-server");
  expect(pkg.bin).toEqual({ vmbranch: "dist/vmbranch.js" });
  expect(Object.keys(pkg.dependencies)).toEqual(["better-sqlite3"]);
  expect(pkg.files).toEqual(["dist/vmbranch.js", "dist/vmbranch.js.map", "dist/guest/", "dist/ui/"]);
});

test("one version for both packages and the SDK", () => {
  expect(read("backend/package.json").version).toBe(read("package.json").version);
  expect(SDK_VERSION).toBe(read("package.json").version);
});
