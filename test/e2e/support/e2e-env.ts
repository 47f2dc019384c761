/**
 * Shared fixture of the end-to-end layer: one real `vmbranch serve` per test file
 * (test/helpers/backend.ts), inline-program stacks configured for it (test/helpers/pulumi.ts) and
 * their teardown (engine runs a timed-out test left are cancelled first), plus what the tests read
 * back the way a user would: the engine's steps per resource, the stack's state, the QEMU
 * processes of the backend, and everything the backend holds (test/backend/support.ts
 * `observe()`). Tests own their programs and their assertions.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { observe, type Observed } from "../../backend/support";
import { startBackend, type TestBackend } from "../../helpers/backend";
import { createInlineStack, type InlineStack } from "../../helpers/pulumi";
import { ensurePackageLink } from "../../provider/support/package-link";

/** A backend and the stacks pointed at it. */
export interface E2eEnv {
  backend: TestBackend;
  /** A stack of `program` with `vmbranch:endpoint` and the token (secret) set; removed by `teardown`. */
  stack(projectName: string, program: () => Promise<Record<string, unknown>>): Promise<InlineStack>;
  /** Destroys and removes every stack (errors ignored: the backend's stop kills what is left), then stops the backend. */
  teardown(): Promise<void>;
}

/** Start the backend of a test file. Call `teardown()` in `afterAll`, also when this failed half-way. */
export async function startE2e(): Promise<E2eEnv> {
  // The engine's provider process resolves `vmbranch/provider/impl/*` from the repository root.
  ensurePackageLink();
  // An engine run that fails (or is cancelled) leaves a late rejection behind in this process.
  const backend = await startBackend();
  const stacks: InlineStack[] = [];
  return {
    backend,
    async stack(projectName, program) {
      const s = await createInlineStack({
        projectName,
        program,
        config: { "vmbranch:endpoint": { value: backend.url }, "vmbranch:token": { value: backend.token, secret: true } },
      });
      stacks.push(s);
      return s;
    },
    async teardown() {
      // Each stack's cleanup first cancels a run a timed-out test left behind.
      for (const s of stacks.reverse()) await s.cleanup({ destroy: true }).catch(() => undefined);
      await backend.stop();
    },
  };
}

/** One resource step of an engine run, as a user reads it in the preview's table. */
export interface Step {
  op: string;
  /** Logical name (the last part of the URN). */
  name: string;
  /** Inputs whose change forces a replacement. */
  keys: string[];
  /** Inputs whose value differs between the old and the new step (none for a create or delete). */
  diffs: string[];
}

/**
 * Inputs that differ between a step's old and new inputs: what the preview shows as `[diff: ~x]`.
 * The dynamic-provider host passes no detailed diff, so the engine's own `diffs` stays empty.
 */
function changedInputs(olds?: Record<string, unknown>, news?: Record<string, unknown>): string[] {
  if (!olds || !news) return [];
  const keys = new Set([...Object.keys(olds), ...Object.keys(news)]);
  keys.delete("__provider"); // the serialized provider, not a user's input
  return [...keys].filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k])).sort();
}

/** The resource steps of an engine run (pass `onEvent: events.push` to preview/up), stack and providers left out. */
export function stepsOf(events: EngineEvent[]): Step[] {
  return events.flatMap((e) => {
    const m = e.resourcePreEvent?.metadata;
    if (!m || !m.type.startsWith("pulumi-nodejs:dynamic/vmbranch:")) return [];
    return [{ op: m.op, name: m.urn.split("::").pop() ?? "", keys: [...(m.keys ?? [])].sort(), diffs: changedInputs(m.old?.inputs, m.new?.inputs) }];
  });
}

/**
 * What a refresh changed, per resource: its outputs events (op `update` where the server drifted),
 * with the inputs that differ before and after, as the CLI's `[diff: ~x]` shows them.
 */
export function refreshedOf(events: EngineEvent[]): Step[] {
  return events.flatMap((e) => {
    const m = e.resOutputsEvent?.metadata;
    if (!m || !m.type.startsWith("pulumi-nodejs:dynamic/vmbranch:") || m.op === "same") return [];
    return [{ op: m.op, name: m.urn.split("::").pop() ?? "", keys: [...(m.keys ?? [])].sort(), diffs: changedInputs(m.old?.inputs, m.new?.inputs) }];
  });
}

/** Steps that change something (everything but `same`). */
export function changesOf(events: EngineEvent[]): Step[] {
  return stepsOf(events).filter((s) => s.op !== "same");
}

/** A resource of the stack's state. */
export interface StateResource {
  type: string;
  /** Logical name. */
  name: string;
  id?: string;
  outputs: Record<string, unknown>;
}

/** Every resource in the stack's state (the stack itself and the engine's providers included), in state order. */
export async function stateOf(stack: Stack): Promise<StateResource[]> {
  const resources = ((await stack.exportStack()).deployment.resources ?? []) as { type: string; urn: string; id?: string; outputs?: Record<string, unknown> }[];
  return resources.map((r) => ({ type: r.type, name: r.urn.split("::").pop() ?? "", id: r.id, outputs: r.outputs ?? {} }));
}

/** The vmbranch resources of the stack's state as "Type name" strings, sorted. */
export async function ourResources(stack: Stack): Promise<string[]> {
  return (await stateOf(stack))
    .filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/vmbranch:"))
    .map((r) => `${r.type.split(":").pop()} ${r.name}`)
    .sort();
}

/** A QEMU process of the backend: the VM it runs (its `-uuid`) and the memory it was given (`-m`). */
export interface VmProcess {
  pid: number;
  uuid: string;
  memory: string;
}

/** Every QEMU process of `backend`, read from /proc: what really runs, whatever the API says. */
export function vmProcesses(backend: TestBackend): VmProcess[] {
  return backend.vmPids().flatMap((pid) => {
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      return []; // exited meanwhile
    }
    const after = (flag: string) => args[args.indexOf(flag) + 1] ?? "";
    return [{ pid, uuid: after("-uuid"), memory: after("-m") }];
  });
}

/** What the backend holds: the list endpoints and the data dir's files (observe()), plus its RAM files of memory snapshots. */
export interface BackendContents extends Observed {
  ramFiles: string[];
}

/** Everything the backend holds right now. */
export async function backendContents(backend: TestBackend): Promise<BackendContents> {
  // The server records where it keeps RAM images of memory snapshots (backend/cli/private-paths.ts).
  const ram = backend.ramDir() ?? join(backend.dataDir, "ram");
  return { ...(await observe(backend)), ramFiles: existsSync(ram) ? readdirSync(ram).sort() : [] };
}
