/**
 * Reading what the `pulumi` CLI says in a project directory, as a user's scripts would: the
 * line-delimited engine events of `pulumi up|refresh|destroy --json`, and the step list of
 * `pulumi preview --json`. Owns parsing only; the tests own what they run and assert.
 */
import type { UserProject } from "../../helpers/user-install";

/** What one engine run did: the summary's counts and each vmbranch resource step as "op name". */
export interface RunResult {
  changes: Record<string, number>;
  steps: string[];
  /** Input names that differ before and after each step that changed something, per resource name. */
  diffs: Record<string, string[]>;
}

interface StepMetadata {
  op: string;
  urn: string;
  type: string;
  old?: { inputs?: Record<string, unknown> };
  new?: { inputs?: Record<string, unknown> };
}

const name = (urn: string) => urn.split("::").pop() ?? "";
const ours = (type: string) => type.startsWith("pulumi-nodejs:dynamic/vmbranch:");

function changedInputs(olds?: Record<string, unknown>, news?: Record<string, unknown>): string[] {
  if (!olds || !news) return [];
  const keys = new Set([...Object.keys(olds), ...Object.keys(news)]);
  keys.delete("__provider");
  return [...keys].filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k])).sort();
}

/** Run `pulumi <command> --json` (up, refresh, destroy: they print one engine event per line) and summarise it. */
export async function runJson(project: UserProject, command: string[], env?: Record<string, string>): Promise<RunResult> {
  const out = await project.pulumi([...command, "--json"], { env });
  const result: RunResult = { changes: {}, steps: [], diffs: {} };
  for (const line of out.split("\n")) {
    // One event per line; a preview shown before the update is one multi-line object: skipped.
    if (!line.startsWith('{"')) continue;
    const e = JSON.parse(line) as { resourcePreEvent?: { metadata: StepMetadata }; resOutputsEvent?: { metadata: StepMetadata }; summaryEvent?: { resourceChanges: Record<string, number> } };
    if (e.summaryEvent) result.changes = e.summaryEvent.resourceChanges;
    const pre = e.resourcePreEvent?.metadata;
    if (pre && ours(pre.type) && pre.op !== "same" && pre.op !== "refresh") result.steps.push(`${pre.op} ${name(pre.urn)}`);
    const done = e.resOutputsEvent?.metadata;
    if (done && ours(done.type) && done.op !== "same") {
      const d = changedInputs(done.old?.inputs, done.new?.inputs);
      if (d.length > 0) result.diffs[name(done.urn)] = d;
    }
  }
  return result;
}

/** `pulumi preview --json`: the change summary and the vmbranch steps that change something. */
export async function previewJson(project: UserProject, env?: Record<string, string>): Promise<{ changes: Record<string, number>; steps: string[] }> {
  const p = await project.pulumiJson<{ changeSummary: Record<string, number>; steps: { op: string; urn: string }[] }>(["preview"], { env });
  return { changes: p.changeSummary, steps: p.steps.filter((s) => s.op !== "same" && s.urn.includes("dynamic/vmbranch:")).map((s) => `${s.op} ${name(s.urn)}`) };
}
