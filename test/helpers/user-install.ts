/**
 * The repository's packages as a user gets them, outside the repository: `npm pack` of `vmbranch`
 * (the provider and SDK) and of `vmbranch-server` (backend/), the first installed into a
 * directory in the system's temp dir together with the newest `@pulumi/pulumi` 3.x the registry
 * serves (and TypeScript 5, as Pulumi's templates pin it), the second installed globally into a
 * prefix of its own (`npm install -g --prefix`), as `npm install -g vmbranch-server` would.
 * Pulumi projects made here (`userProject`) use that install and run the real `pulumi` CLI with
 * its Node.js language host (scripts/install-language-host), from their own directories.
 *
 * Made once per `npm test` run (scripts/test names the directory after the run and removes it at
 * the end; the first of the layer's workers to ask makes it, the other waits), or once per test file
 * when run alone (`releaseUserInstall` removes it then).
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT, pulumiBinDir, runPulumi } from "./pulumi";

/** One packed package: the tarball and what `npm pack --json` said about it. */
export interface Packed {
  file: string;
  /** Bytes of the tarball. */
  size: number;
  /** Paths inside the package. */
  files: string[];
}

/** The packages installed as a user installs them. */
export interface UserInstall {
  /** The directory holding all of it (outside the repository). */
  root: string;
  vmbranch: Packed;
  server: Packed;
  /** node_modules with `vmbranch` (from its tarball), `@pulumi/pulumi`, `typescript`, `@types/node`. */
  modules: string;
  /** The `@pulumi/pulumi` version npm chose (the newest 3.x). */
  pulumiVersion: string;
  /** PATH for the CLI: the CLI, its Node.js language host, the dynamic-provider plugin of the installed @pulumi/pulumi. */
  path: string;
}

const run = promisify(execFile);

/** The environment for a nested npm: the outer `npm test`'s own settings (npm_*) left out. */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("npm_") && k !== "INIT_CWD"));
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, env: npmEnv(), maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Directory of the Node.js language host (may build it: see scripts/install-language-host). */
export function languageHostDir(): string {
  const out = execFileSync(path.join(REPO_ROOT, "scripts", "install-language-host"), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const dir = out.trim().split("\n").pop() ?? "";
  if (!path.isAbsolute(dir)) throw new Error(`scripts/install-language-host printed no directory: ${out}`);
  return dir;
}

async function pack(args: string[], dest: string): Promise<Packed> {
  // `prepack` builds the package first, as for a release.
  const [info] = JSON.parse(await npm(["pack", ...args, "--json", "--pack-destination", dest], REPO_ROOT)) as { filename: string; size: number; files: { path: string }[] }[];
  if (!info) throw new Error(`npm pack ${args.join(" ")} said nothing`);
  return { file: path.join(dest, info.filename), size: info.size, files: info.files.map((f) => f.path).sort() };
}

function installRoot(): { root: string; shared: boolean } {
  const runId = process.env.VMBRANCH_TEST_RUN;
  if (runId) return { root: path.join(tmpdir(), `vmbranch-user-${runId}`), shared: true };
  return { root: mkdtempSync(path.join(tmpdir(), "vmbranch-user-")), shared: false };
}

let current: Promise<UserInstall> | undefined;
let ownRoot: string | undefined;

/** The user install of this run, made on first use. */
export function userInstall(): Promise<UserInstall> {
  current ??= makeUserInstall();
  return current;
}

/**
 * Runs `fn` holding an exclusive flock(1) on the file `lock`: jest runs a layer's files in two
 * worker processes, and both may ask for the run's shared install at once. The `flock` child holds
 * it while its stdin is open, so the kernel gives it back when this worker ends, however it ends
 * (a worker killed mid-install leaves no lock behind to wait on). The file itself stays: whoever
 * owns the directory it is in removes it.
 */
async function withLock<T>(lock: string, fn: () => Promise<T>): Promise<T> {
  const holder = spawn("flock", ["--exclusive", lock, "sh", "-c", "echo held; exec cat >/dev/null"], { stdio: ["pipe", "pipe", "inherit"] });
  const released = new Promise((resolve) => holder.once("close", resolve));
  await new Promise<void>((resolve, reject) => {
    holder.once("error", reject);
    holder.once("exit", (code) => reject(new Error(`flock on ${lock} ended (${code}) before it held the lock`)));
    holder.stdout!.once("data", () => resolve());
  });
  try {
    return await fn();
  } finally {
    holder.stdin!.end();
    await released;
  }
}

async function makeUserInstall(): Promise<UserInstall> {
  const { root, shared } = installRoot();
  if (shared) return withLock(`${root}.lock`, () => makeUserInstallIn(root, true));
  // Its own directory: no other worker ever asks for it.
  ownRoot = root;
  return makeUserInstallIn(root, false);
}

async function makeUserInstallIn(root: string, shared: boolean): Promise<UserInstall> {
  const ready = path.join(root, "install.json");
  if (existsSync(ready)) return JSON.parse(readFileSync(ready, "utf8")) as UserInstall;
  rmSync(root, { recursive: true, force: true });
  const packs = path.join(root, "packs");
  const deps = path.join(root, "deps");
  mkdirSync(packs, { recursive: true });
  mkdirSync(deps, { recursive: true });
  // In a run of `npm test` the build step made these files already, and another worker may be
  // starting a serve from backend/dist meanwhile: `prepack` would rewrite it under that worker.
  const scripts = shared ? ["--ignore-scripts"] : [];
  const vmbranch = await pack(scripts, packs);
  const server = await pack([...scripts, "--workspace", "backend"], packs);
  writeFileSync(path.join(deps, "package.json"), JSON.stringify({ name: "infrastructure", private: true }, null, 2));
  await npm(["install", vmbranch.file, "@pulumi/pulumi@^3", "typescript@^5", "@types/node@^20"], deps);
  const modules = path.join(deps, "node_modules");
  const pulumiRoot = path.join(modules, "@pulumi", "pulumi");
  const pulumiVersion = (JSON.parse(readFileSync(path.join(pulumiRoot, "package.json"), "utf8")) as { version: string }).version;
  const install: UserInstall = {
    root,
    vmbranch,
    server,
    modules,
    pulumiVersion,
    path: [pulumiBinDir(), languageHostDir(), pulumiRoot, process.env.PATH ?? ""].join(path.delimiter),
  };
  writeFileSync(ready, JSON.stringify(install, null, 2));
  return install;
}

/** `vmbranch-server` installed globally into a prefix of its own; returns the prefix's bin directory. */
export async function serverInstall(install: UserInstall): Promise<string> {
  const prefix = path.join(install.root, "global");
  const bin = path.join(prefix, "bin");
  await withLock(path.join(install.root, "global.lock"), async () => {
    if (!existsSync(path.join(bin, "vmbranch"))) await npm(["install", "--global", "--prefix", prefix, install.server.file], install.root);
  });
  return bin;
}

/** Remove the install when this process made it for itself (a test file run alone). */
export function releaseUserInstall(): void {
  if (ownRoot) rmSync(ownRoot, { recursive: true, force: true });
  ownRoot = undefined;
  current = undefined;
}

/** Every file under `dir` whose name ends with `.node` (a native addon: something was built). */
export function nativeAddons(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(".node")) out.push(path.join(entry.parentPath, entry.name));
  }
  return out;
}

/** A Pulumi project directory using the user install, and the CLI run in it. */
export interface UserProject {
  dir: string;
  /** Run `pulumi ...args` in the project; rejects with the CLI's output on failure. */
  pulumi(args: string[], opts?: { env?: Record<string, string>; input?: string }): Promise<string>;
  /** `pulumi ... --json`, parsed. */
  pulumiJson<T = unknown>(args: string[], opts?: { env?: Record<string, string> }): Promise<T>;
  /** The stack's outputs (secrets shown). */
  outputs(): Promise<Record<string, unknown>>;
  /** `pulumi stack export`, parsed. */
  exportStack(): Promise<{ deployment: { resources?: StateResource[] } }>;
  /** Write `file` of the project (an edit of the program). */
  write(file: string, text: string): void;
}

/** A resource of an exported deployment. */
export interface StateResource {
  urn: string;
  type: string;
  id?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  external?: boolean;
}

/**
 * A project named `name` in the user install: `files` written into it (or a directory copied, its
 * node_modules left out), its node_modules the install's, and a local file backend of its own.
 * `package.json`, when the project has one, is rewritten to depend on what is installed.
 */
export function userProject(install: UserInstall, name: string, files: Record<string, string> | { copyFrom: string }): UserProject {
  const dir = path.join(install.root, "projects", name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if ("copyFrom" in files) cpSync(files.copyFrom, dir, { recursive: true, filter: (src) => !/node_modules|package-lock\.json$/.test(path.relative(files.copyFrom, src)) });
  else for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, file), text);
  const pkgFile = path.join(dir, "package.json");
  if (existsSync(pkgFile)) {
    const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as { dependencies?: Record<string, string> };
    pkg.dependencies = { ...pkg.dependencies, vmbranch: `file:${install.vmbranch.file}` };
    writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
  }
  symlinkSync(install.modules, path.join(dir, "node_modules"));
  const stateDir = path.join(install.root, "state", name);
  const home = path.join(install.root, "pulumi-home");
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  mkdirSync(home, { recursive: true });
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    ...npmEnv(),
    PATH: install.path,
    PULUMI_BACKEND_URL: `file://${stateDir}`,
    PULUMI_CONFIG_PASSPHRASE: "vmbranch-test",
    PULUMI_HOME: home,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    ...extra,
  });
  const pulumi = (args: string[], opts: { env?: Record<string, string> } = {}): Promise<string> => runPulumi(args, dir, env(opts.env));
  return {
    dir,
    pulumi,
    async pulumiJson<T>(args: string[], opts: { env?: Record<string, string> } = {}) {
      return JSON.parse(await pulumi([...args, "--json"], opts)) as T;
    },
    async outputs() {
      return JSON.parse(await pulumi(["stack", "output", "--json", "--show-secrets"])) as Record<string, unknown>;
    },
    async exportStack() {
      return JSON.parse(await pulumi(["stack", "export"])) as { deployment: { resources?: StateResource[] } };
    },
    write: (file, text) => writeFileSync(path.join(dir, file), text),
  };
}
