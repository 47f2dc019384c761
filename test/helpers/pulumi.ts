// test/helpers/pulumi.ts: runs the real Pulumi engine from jest through the Automation API, offline,
// and the CLI in project directories (`runPulumi`). Owns finding the `pulumi` binary (scripts/install-pulumi), the sandbox a stack lives in (local file
// backend, PULUMI_HOME, a work directory inside the repository) and removing all of it again.
// Callers own their programs, what they assert, and destroying what their stacks created.
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { LocalWorkspace, PulumiCommand, type PulumiFn, type Stack } from "@pulumi/pulumi/automation";

/** Root of the repository. */
export const REPO_ROOT = path.resolve(__dirname, "..", "..");

// Inside the repository so programs resolve @pulumi/pulumi and vmbranch (pulumi #5578); git-ignored,
// and a cache that stays, so concurrent runs never race to remove it.
const SANDBOX_PARENT = path.join(REPO_ROOT, ".cache");

let binDir: string | undefined;

/** Directory holding a suitable `pulumi` binary. May build the CLI (minutes) on a fresh machine. */
export function pulumiBinDir(): string {
  if (binDir === undefined) {
    // install-pulumi decides what is suitable (PATH, then the cache, then a build); 0.15 s when ready.
    const out = execFileSync(path.join(REPO_ROOT, "scripts", "install-pulumi"), {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    binDir = out.trim().split("\n").pop() ?? "";
    if (!path.isAbsolute(binDir)) throw new Error(`scripts/install-pulumi printed no directory: ${out}`);
  }
  return binDir;
}

const execFileAsync = promisify(execFile);

/**
 * Run the `pulumi` CLI as a user runs it in a project directory: `pulumi ...args --non-interactive`
 * in `cwd` with `env` (which must put the CLI on PATH). Resolves with stdout; rejects with
 * everything the CLI printed.
 */
export async function runPulumi(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout } = await execFileAsync("pulumi", [...args, "--non-interactive"], { cwd, env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`pulumi ${args.join(" ")} failed:\n${e.stdout ?? ""}\n${e.stderr ?? e.message}`);
  }
}

/** Root of the installed @pulumi/pulumi package: it holds the dynamic-provider plugin. */
export function pulumiPackageRoot(): string {
  return path.dirname(require.resolve("@pulumi/pulumi/package.json"));
}

/** A throwaway home for one stack: state, PULUMI_HOME and a work directory, all under `root`. */
export interface PulumiSandbox {
  /** Everything below is inside it; `cleanup` removes it. */
  root: string;
  /** Project directory for the workspace (inside the repository). */
  workDir: string;
  /** Local file backend holding the stack's state. */
  stateDir: string;
  /** PULUMI_HOME: plugins, workspace settings, credentials. */
  homeDir: string;
  /** Environment for the CLI: offline settings, and PATH with the CLI and the dynamic-provider plugin. */
  env: Record<string, string>;
  /** Removes `root`. Safe to call twice. */
  cleanup(): void;
}

/** Creates an empty sandbox. The caller must call `cleanup()`. */
export function createPulumiSandbox(): PulumiSandbox {
  mkdirSync(SANDBOX_PARENT, { recursive: true });
  const root = mkdtempSync(path.join(SANDBOX_PARENT, "pulumi-test-"));
  const [workDir, stateDir, homeDir] = ["work", "state", "home"].map((d) => path.join(root, d)) as [string, string, string];
  for (const d of [workDir, stateDir, homeDir]) mkdirSync(d);
  const env = {
    PULUMI_BACKEND_URL: `file://${stateDir}`,
    PULUMI_CONFIG_PASSPHRASE: "vmbranch-test",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    // Every plugin is local: the engine must never try to download one.
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_HOME: homeDir,
    PATH: [pulumiBinDir(), pulumiPackageRoot(), process.env.PATH ?? ""].join(path.delimiter),
  };
  return {
    root,
    workDir,
    stateDir,
    homeDir,
    env,
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

let command: Promise<PulumiCommand> | undefined;

/** The Automation API's handle on our `pulumi` binary (version-checked once per process). */
export function pulumiCommand(): Promise<PulumiCommand> {
  const dir = pulumiBinDir();
  // PulumiCommand wants an install root holding bin/pulumi; any other directory came from PATH.
  command ??= path.basename(dir) === "bin" ? PulumiCommand.get({ root: path.dirname(dir) }) : PulumiCommand.get();
  return command;
}

/** What `createInlineStack` needs: the program and the names it runs under. */
export interface InlineStackOptions {
  projectName: string;
  /** Defaults to "test". */
  stackName?: string;
  program: PulumiFn;
  /** Stack configuration, e.g. `{ "vmbranch:token": { value: t, secret: true } }`. */
  config?: Record<string, { value: string; secret?: boolean }>;
}

/** A stack of an inline program in its own sandbox. */
export interface InlineStack {
  stack: Stack;
  sandbox: PulumiSandbox;
  /**
   * Removes the stack, its state and its PULUMI_HOME. With `destroy: true` it first runs
   * `pulumi destroy` (for tests that may stop half-way). Safe to call twice.
   */
  cleanup(opts?: { destroy?: boolean }): Promise<void>;
}

/** Creates (or selects) a stack for an inline program with the local file backend. */
const ENGINE_OPS = ["up", "preview", "refresh", "destroy"] as const;

/**
 * Make every engine run of `stack` cancellable by its cleanup: a test that timed out leaves its
 * `pulumi` process running. Aborting sends it SIGINT (the Automation API's `signal`): the CLI
 * cancels, finishes the steps under way, saves the state and exits.
 */
function cancellable(stack: Stack): Map<Promise<unknown>, AbortController> {
  const running = new Map<Promise<unknown>, AbortController>();
  for (const op of ENGINE_OPS) {
    const original = stack[op].bind(stack) as (opts?: { signal?: AbortSignal }) => Promise<unknown>;
    const wrapped = (opts: { signal?: AbortSignal } = {}) => {
      const controller = new AbortController(); // one per run: a shared signal would collect a listener per run
      const run = original({ signal: controller.signal, ...opts });
      running.set(run, controller);
      const forget = () => running.delete(run);
      run.then(forget, forget);
      return run;
    };
    Object.assign(stack, { [op]: wrapped });
  }
  return running;
}

export async function createInlineStack(opts: InlineStackOptions): Promise<InlineStack> {
  const stackName = opts.stackName ?? "test";
  const sandbox = createPulumiSandbox();
  try {
    const stack = await LocalWorkspace.createOrSelectStack(
      { stackName, projectName: opts.projectName, program: opts.program },
      { workDir: sandbox.workDir, pulumiHome: sandbox.homeDir, envVars: sandbox.env, pulumiCommand: await pulumiCommand() },
    );
    if (opts.config) await stack.setAllConfig(opts.config);
    const running = cancellable(stack);
    let done = false;
    const cleanup = async (c: { destroy?: boolean } = {}) => {
      if (done) return;
      done = true;
      try {
        // A run a timed-out test left holds the stack's lock and would write into the removed sandbox.
        for (const controller of running.values()) controller.abort();
        await Promise.allSettled([...running.keys()]);
        if (c.destroy) await stack.destroy();
        await stack.workspace.removeStack(stackName, { force: true });
      } finally {
        sandbox.cleanup();
      }
    };
    return { stack, sandbox, cleanup };
  } catch (err) {
    sandbox.cleanup();
    throw err;
  }
}
