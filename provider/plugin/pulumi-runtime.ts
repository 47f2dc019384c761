/**
 * The parts of `@pulumi/pulumi`'s language runtime that the plugin's `Construct` runs a component
 * with, as its own provider host (`@pulumi/pulumi/provider`'s `construct`) uses them: pointing the
 * runtime at the engine's resource monitor for one request, the request's inputs as Outputs with
 * their dependencies, and waiting until every registration has been sent. Pulumi marks these
 * `@internal` (they are in its JavaScript, not in its typings), so they are declared here, in one
 * place, and a unit test fails when a Pulumi upgrade moves one. The monitor protocol itself stays
 * Pulumi's.
 */
import type { Inputs, Output } from "@pulumi/pulumi/output";

/** Runtime settings (`@pulumi/pulumi/runtime/settings`). */
interface Settings {
  resetOptions(project: string, stack: string, parallel: number, engineAddr: string, monitorAddr: string, preview: boolean, organization: string): void;
  awaitFeatureSupport(): Promise<void>;
  waitForRPCs(): Promise<void>;
}

/** The protobuf map of a request's per-input dependencies. */
export interface DependencyMap {
  get(key: string): { getUrnsList(): string[] } | undefined;
}

const settings = require("@pulumi/pulumi/runtime/settings") as Settings;
const state = require("@pulumi/pulumi/runtime/state") as { withLocalStorage<T>(fn: () => Promise<T>): Promise<T> };
const config = require("@pulumi/pulumi/runtime/config") as { setAllConfig(c: Record<string, string>, secretKeys?: string[]): void };
const server = require("@pulumi/pulumi/provider/server") as { deserializeInputs(inputs: unknown, deps: DependencyMap): Promise<Inputs> };
const internals = require("@pulumi/pulumi/provider/internals") as { parseArgs(args: string[]): { engineAddress: string } | undefined };

/** What one Construct request tells the runtime: where the monitor is, which stack, whether it previews, the stack's config. */
export interface RuntimeTarget {
  project: string;
  stack: string;
  organization: string;
  parallel: number;
  monitorAddr: string;
  engineAddr: string;
  dryRun: boolean;
  config: Record<string, string>;
  configSecretKeys: string[];
}

/**
 * Run `fn` against the engine of `target` in a runtime state of its own (concurrent requests do
 * not share one), and wait for every registration it started before returning its result.
 */
export function withRuntime<T>(target: RuntimeTarget, fn: () => Promise<T>): Promise<T> {
  return state.withLocalStorage(async () => {
    settings.resetOptions(target.project, target.stack, target.parallel, target.engineAddr, target.monitorAddr, target.dryRun, target.organization);
    // Which monitor features (resource references, output values, …) serialization may use.
    await settings.awaitFeatureSupport();
    config.setAllConfig(target.config, target.configSecretKeys);
    const result = await fn();
    await settings.waitForRPCs();
    return result;
  });
}

/** A request's inputs as the runtime's values: Outputs where they carry dependencies or secrets, resource references rehydrated. */
export function deserializeInputs(inputs: unknown, deps: DependencyMap): Promise<Inputs> {
  return server.deserializeInputs(inputs, deps);
}

/** The engine's address among the plugin's command-line arguments (flags such as `-v=9` and `--tracing X` skipped). */
export function engineAddress(argv: string[]): string | undefined {
  return internals.parseArgs(argv)?.engineAddress;
}

/** The value an Output resolves to (undefined when it is unknown, as in a preview); the runtime's own `promise()`. */
export function valueOf<T>(output: Output<T>): Promise<T | undefined> {
  return (output as unknown as { promise(): Promise<T | undefined> }).promise();
}
