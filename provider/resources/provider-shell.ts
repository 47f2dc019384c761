/**
 * The part of each dynamic provider that Pulumi serializes into the state: a thin object whose
 * methods load the real implementation at run time, in the engine's provider process, with
 * `require("vmbranch/provider/impl/<resource>")` (resolved through the package's exports). It
 * captures nothing but the loader function itself: no clients, Maps or settings read at program
 * time (docs/provider.md, "How it runs inside Pulumi"). One shell per resource type, built once
 * at module load, so Pulumi serializes each provider once per program.
 *
 * Public API since 0.1.0: states keep the serialized shell, and `refresh` and `destroy` run the
 * stored one, so every later version must keep the module paths under `vmbranch/provider/impl/`
 * (0.1.0's `instance`, `volume`, `volume-template`, `volume-clone`; `checkpoint` since 0.2) and
 * the seven methods of `ProviderImpl` with these arguments (test/projects/upgrade-from-0.1.0.test.ts
 * holds 0.1.0's state).
 */
import type * as pulumi from "@pulumi/pulumi";

/** What an implementation module under provider/impl exports for one resource type. */
export interface ProviderImpl {
  configure(config: { get(key: string): string | undefined }): void;
  check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<{ inputs: object; failures: { property: string; reason: string }[] }>;
  diff(id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<{ changes: boolean; replaces: string[]; deleteBeforeReplace: boolean }>;
  create(inputs: Record<string, unknown>): Promise<{ id: string; outs: object }>;
  read(id: string, props?: Record<string, unknown>): Promise<{ id?: string; props?: object; inputs?: object }>;
  update(id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<{ outs: object }>;
  remove(id: string, props: Record<string, unknown>): Promise<void>;
}

/**
 * A dynamic provider whose every method calls `load()` first. `load` must only `require` its
 * implementation module by package name, so the serialized text resolves it where it runs.
 */
export function providerShell(load: () => ProviderImpl): pulumi.dynamic.ResourceProvider {
  return {
    configure: async (req) => load().configure(req.config),
    check: (olds, news) => load().check(olds, news),
    diff: (id, olds, news) => load().diff(id, olds, news),
    create: (inputs) => load().create(inputs),
    read: (id, props) => load().read(id, props),
    update: (id, olds, news) => load().update(id, olds, news),
    delete: (id, props) => load().remove(id, props),
  };
}

/** `undefined` for each computed output, so Pulumi registers them as outputs of the resource. */
export function computedOutputs(keys: readonly string[]): Record<string, undefined> {
  return Object.fromEntries(keys.map((k) => [k, undefined]));
}
