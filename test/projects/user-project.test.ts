// vmbranch as a user gets it, outside this repository: the two packages from `npm pack`, the
// provider's installed with the newest @pulumi/pulumi 3.x the registry serves (no native build,
// no server dependencies), the server's installed on its own with `vmbranch` on PATH; then a
// Pulumi TypeScript project run by the real CLI and its Node.js language host: stack init, the
// token as a secret config value, up, preview with no changes, an edit, up, refresh, destroy.
// The project type-checks with Pulumi's own template tsconfig (`moduleResolution: node`).
import { execFile } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { IMAGE_DIR, startBackend, type TestBackend } from "../helpers/backend";
import { nativeAddons, releaseUserInstall, serverInstall, userInstall, userProject, type UserInstall, type UserProject } from "../helpers/user-install";
import { previewJson, runJson } from "./support/project-cli";

jest.setTimeout(600_000);

let install: UserInstall;
let serverBin: string;
let backend: TestBackend;
beforeAll(async () => {
  install = await userInstall();
  serverBin = await serverInstall(install);
  backend = await startBackend({ command: [path.join(serverBin, "vmbranch")] });
});
afterAll(async () => {
  await backend?.stop();
  releaseUserInstall();
});

const run = promisify(execFile);

test("the provider package holds only the provider, the SDK and the resource plugin's launcher, built, with their types", () => {
  const files = install.vmbranch.files;
  expect(files.filter((f) => !f.startsWith("dist/provider/") && !f.startsWith("dist/sdk/")).sort()).toEqual(["LICENSE", "README.md", "bin/pulumi-resource-vmbranch", "dist/bin/plugin.js", "package.json"]);
  expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
  // Every module has its declarations, and the paths 0.1.0 stored in users' states are there.
  for (const f of files.filter((x) => x.endsWith(".js") && !x.startsWith("dist/bin/"))) expect(files).toContain(f.replace(/\.js$/, ".d.ts"));
  for (const impl of ["instance", "volume", "volume-template", "volume-clone"]) expect(files).toContain(`dist/provider/impl/${impl}.js`);
  const pkg = JSON.parse(readFileSync(path.join(install.modules, "vmbranch", "package.json"), "utf8")) as Record<string, unknown>;
  expect(pkg.dependencies).toEqual({ undici: expect.any(String), zod: expect.any(String) });
  expect(pkg.peerDependencies).toEqual({ "@pulumi/pulumi": "^3.259.0" });
  expect(pkg.private).toBeUndefined();
  expect(install.vmbranch.size).toBeLessThan(300_000);
});

test("installing it beside the newest @pulumi/pulumi 3.x builds nothing native and brings no server dependency", () => {
  expect(Number(install.pulumiVersion.split(".")[1])).toBeGreaterThanOrEqual(259);
  expect(install.pulumiVersion.split(".")[0]).toBe("3");
  expect(nativeAddons(install.modules)).toEqual([]);
  for (const pkg of ["better-sqlite3", "fastify", "pino", "tar", "vmbranch-server"]) expect(existsSync(path.join(install.modules, pkg))).toBe(false);
});

test("the server package installs on its own and puts `vmbranch` on PATH", async () => {
  expect(install.server.files.sort()).toEqual([
    "LICENSE", "README.md", "dist/guest/agent", "dist/guest/init", "dist/guest/power-button", "dist/ui/app.js", "dist/ui/index.html", "dist/ui/style.css", "dist/vmbranch.js", "dist/vmbranch.js.map", "package.json",
  ]);
  const env = { ...process.env, PATH: `${serverBin}${path.delimiter}${process.env.PATH ?? ""}`, VMBRANCH_IMAGE_DIR: IMAGE_DIR };
  const { stdout: which } = await run("sh", ["-c", "command -v vmbranch"], { env });
  expect(which.trim()).toBe(path.join(serverBin, "vmbranch"));
  // The lineage page ships inside the package: the installed server serves it.
  expect((await fetch(`${backend.url}/ui/app.js`)).status).toBe(200);
  // Its image builder finds its guest files: the image the tests use is already built from the same inputs.
  const { stdout } = await run("vmbranch", ["image", "build", "base"], { env });
  expect(stdout).toMatch(/^image base is up to date \(cached\), nothing to do/);
  // This file's backend is that installed `vmbranch serve`.
  expect((await backend.client.health()).version).toBe(JSON.parse(readFileSync(path.join(install.root, "global", "lib", "node_modules", "vmbranch-server", "package.json"), "utf8")).version);
});

/** The project a user writes: Pulumi's TypeScript template files and a program using vmbranch. */
function projectFiles(): Record<string, string> {
  const program = readFileSync(path.join(__dirname, "fixtures", "shop", "index.ts"), "utf8");
  return {
    "Pulumi.yaml": "name: shop\nruntime: nodejs\ndescription: a web server, its data on a volume, and a branch of it for previews\n",
    "package.json": JSON.stringify({ name: "shop", main: "index.ts", dependencies: { "@pulumi/pulumi": `^${install.pulumiVersion}` }, devDependencies: { typescript: "^5", "@types/node": "^20" } }, null, 2),
    // Pulumi's template tsconfig, as `pulumi new typescript` writes it.
    "tsconfig.json": JSON.stringify(
      {
        compilerOptions: {
          strict: true,
          outDir: "bin",
          target: "es2020",
          module: "commonjs",
          moduleResolution: "node",
          sourceMap: true,
          experimentalDecorators: true,
          pretty: true,
          noFallthroughCasesInSwitch: true,
          noImplicitReturns: true,
          forceConsistentCasingInFileNames: true,
        },
        files: ["index.ts"],
      },
      null,
      2,
    ),
    "index.ts": program,
    "sdk-usage.ts": readFileSync(path.join(__dirname, "fixtures", "shop", "sdk-usage.ts"), "utf8"),
  };
}

describe("a Pulumi project outside the repository", () => {
  let project: UserProject;
  const get = async (url: string) => (await fetch(url)).text();

  beforeAll(() => {
    project = userProject(install, "shop", projectFiles());
  });

  test("type-checks with Pulumi's template tsconfig, and `vmbranch/sdk` has types under moduleResolution node", async () => {
    const tsc = path.join(install.modules, "typescript", "bin", "tsc");
    // The two checks are independent and each keeps one core busy: run side by side.
    await Promise.all([
      expect(run(process.execPath, [tsc, "--noEmit", "-p", project.dir])).resolves.toBeDefined(),
      // The SDK's types are zod's: they need esModuleInterop (or skipLibCheck), as zod 4 does.
      expect(run(process.execPath, [tsc, "--noEmit", "--strict", "--esModuleInterop", "--target", "es2022", "--moduleResolution", "node", "--module", "commonjs", path.join(project.dir, "sdk-usage.ts")])).resolves.toBeDefined(),
    ]);
  });

  test("stack init, the token as a secret, up: the instance serves and its branch starts with its data", async () => {
    await project.pulumi(["stack", "init", "dev"]);
    await project.pulumi(["config", "set", "vmbranch:endpoint", backend.url]);
    await project.pulumi(["config", "set", "--secret", "vmbranch:token", backend.token]);
    const up = await runJson(project, ["up", "--yes"]);
    expect(up.changes).toEqual({ create: 4 });
    const out = await project.outputs();
    expect(await get(out.url as string)).toBe("hello from the shop\n");
    expect(await get(out.previewUrl as string)).toBe("hello from the shop\n");
    expect(out.previewOf).toBe(out.web);
    // The token is a secret: ciphertext in the stack's config file, never in plain text in the state.
    expect(readFileSync(path.join(project.dir, "Pulumi.dev.yaml"), "utf8")).not.toContain(backend.token);
    expect(JSON.stringify(await project.exportStack())).not.toContain(backend.token);
  });

  test("a second preview reports no changes", async () => {
    await project.pulumi(["preview", "--expect-no-changes"]);
  });

  test("an edit is previewed and applied in place", async () => {
    await project.pulumi(["config", "set", "release", "r2"]);
    expect(await previewJson(project)).toEqual({ changes: { same: 2, update: 2 }, steps: ["update site", "update web"] });
    const up = await runJson(project, ["up", "--yes", "--skip-preview"]);
    expect(up.changes).toEqual({ same: 2, update: 2 });
    const out = await project.outputs();
    expect((await backend.client.instances.get(out.web as string)).tags.sort()).toEqual(["r2", "shop"]);
    expect((await backend.client.volumes.get(out.site as string)).tags.sort()).toEqual(["r2", "shop"]);
  });

  test("refresh finds nothing to change; drift made by hand is named, and up puts it back", async () => {
    const clean = await runJson(project, ["refresh", "--yes", "--skip-preview"]);
    expect(clean.steps).toEqual([]);
    const out = await project.outputs();
    await backend.client.instances.update(out.web as string, [{ prop: "tags", op: "add", value: ["by-hand"] }]);
    const drift = await runJson(project, ["refresh", "--yes", "--skip-preview"]);
    expect(drift.diffs).toEqual({ web: ["tags"] });
    expect(await previewJson(project)).toEqual({ changes: { same: 3, update: 1 }, steps: ["update web"] });
    await runJson(project, ["up", "--yes", "--skip-preview"]);
    expect((await backend.client.instances.get(out.web as string)).tags.sort()).toEqual(["r2", "shop"]);
  });

  test("destroy leaves nothing on the server", async () => {
    const destroy = await runJson(project, ["destroy", "--yes", "--skip-preview"]);
    expect(destroy.changes).toEqual({ delete: 4 });
    expect(await backend.client.instances.list()).toEqual([]);
    expect(await backend.client.volumes.list()).toEqual([]);
    await project.pulumi(["stack", "rm", "dev", "--yes"]);
    expect(readdirSync(project.dir).sort()).toEqual(["Pulumi.yaml", "index.ts", "node_modules", "package.json", "sdk-usage.ts", "tsconfig.json"]);
  });
});
