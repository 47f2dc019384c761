// Every Pulumi TypeScript example (a directory of examples/ with a Pulumi.yaml of runtime nodejs;
// golden-image-yaml is Pulumi YAML, deployed by the plugin layer) type-checks with its own
// tsconfig.json, against this repository's sources: `vmbranch` and `vmbranch/sdk` map to
// provider/ and sdk/ (no build, no per-example `npm install`), and @pulumi/pulumi and the Node
// types resolve from the repository's node_modules, found by walking up from examples/.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

jest.setTimeout(180_000);

const REPO = join(__dirname, "..", "..");
const EXAMPLES = join(REPO, "examples");
const WORK = join(REPO, ".cache", "examples-typecheck");
const isNodeProject = (d: string) => existsSync(join(EXAMPLES, d, "Pulumi.yaml")) && /^runtime: nodejs$/m.test(readFileSync(join(EXAMPLES, d, "Pulumi.yaml"), "utf8"));
const pulumiExamples = readdirSync(EXAMPLES).filter(isNodeProject);

afterAll(() => rmSync(WORK, { recursive: true, force: true }));

test("the Pulumi TypeScript examples are the three the provider documents", () => {
  expect(pulumiExamples.sort()).toEqual(["branch-database", "golden-image", "volume-workflow"]);
});

test.each(pulumiExamples)("examples/%s type-checks", async (name) => {
  const dir = join(EXAMPLES, name);
  for (const f of ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts", "program.ts"]) expect(existsSync(join(dir, f))).toBe(true);
  // A tsconfig that extends the example's and only adds where `vmbranch` is in this repository.
  const work = join(WORK, name);
  mkdirSync(work, { recursive: true });
  const config = {
    extends: join(dir, "tsconfig.json"),
    compilerOptions: {
      noEmit: true,
      baseUrl: REPO,
      paths: { vmbranch: ["provider/index.ts"], "vmbranch/sdk": ["sdk/index.ts"], "vmbranch/provider/*": ["provider/*"] },
    },
    files: [join(dir, "index.ts"), join(dir, "program.ts")],
  };
  writeFileSync(join(work, "tsconfig.json"), JSON.stringify(config, null, 2));
  const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
  const result = await promisify(execFile)(process.execPath, [tsc, "-p", join(work, "tsconfig.json")], { cwd: work }).then(
    () => "",
    (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ""}${err.stderr ?? ""}`,
  );
  expect(result).toBe("");
});
