/**
 * The people's instance commands: `ls`, `get`, `tree`, `branch`, `start`, `stop`, `suspend`, `rm`
 * and `logs` — on the SDK, with tables for people and `--json` for scripts (docs/cli.md).
 */
import type { ParseArgsConfig } from "node:util";
import type { Instance } from "vmbranch/sdk";
import { UsageError, type CliCommand } from "../command-registry";
import { CommandFailure, EXIT } from "./connection";
import { expectPositionals, operatorCommand, printJson, type Invocation } from "./operator-command";
import { progress } from "./progress";
import { age, hostText, lineage, lineageJson, lineageTable, millis, stateText, table } from "./render";

function ports(i: Instance): string {
  return i.ports.map((p) => `${p.host_port}->${p.guest_port}`).join(",") || "-";
}

const ls = operatorCommand("ls", "list instances", ["usage: vmbranch ls [--json]"], {}, async (inv) => {
  expectPositionals(inv, []);
  const all = await inv.client().instances.list();
  if (inv.json) printJson(inv.ctx, all);
  else
    inv.ctx.stdout(table(["NAME", "STATE", "IMAGE", "MEMORY", "PORTS", "BRANCHED FROM", "AGE"],
      all.map((i) => [i.name, stateText(i), i.image ?? "-", `${i.memory_mb}M`, ports(i), i.branch?.source.name ?? "-", age(i.created_at)])));
  return EXIT.OK;
});

const get = operatorCommand("get", "show one instance", ["usage: vmbranch get NAME [--json]"], {}, async (inv) => {
  const [name] = expectPositionals(inv, ["NAME"]);
  const i = await inv.client().instances.get(name!);
  if (inv.json) {
    printJson(inv.ctx, i);
    return EXIT.OK;
  }
  const rows: [string, string][] = [
    ["name", i.name], ["uuid", i.uuid], ["state", stateText(i)], ["host", hostText(i)], ["image", i.image ?? "-"], ["memory", `${i.memory_mb} MiB`], ["vcpus", String(i.vcpus)],
    ["ports", ports(i)], ["volumes", i.volumes.map((v) => `${v.name}:${v.at}${v.readonly ? ":ro" : ""}`).join(", ") || "-"],
    ["created", `${i.created_at} (${age(i.created_at)} ago)`],
  ];
  if (i.branch)
    rows.push(["branched from", i.branch.source.name], ["branch phase", i.branch.phase], ["source pause", millis(i.branch.source_pause_ms)],
      ["snapshot", millis(i.branch.snapshot_ms)], ["restore", millis(i.branch.restore_ms)]);
  if (i.stop_reason) rows.push(["stop reason", i.stop_reason]);
  const w = Math.max(...rows.map(([k]) => k.length));
  inv.ctx.stdout(rows.map(([k, v]) => `${(k + ":").padEnd(w + 1)} ${v}`).join("\n") + "\n");
  return EXIT.OK;
});

const tree = operatorCommand("tree", "show the branch lineage of instances as a tree", ["usage: vmbranch tree [--json]", "", "PAUSE is how long the source paused for a live branch; 'none' for a branch of a resting source."], {}, async (inv) => {
  expectPositionals(inv, []);
  const roots = lineage(await inv.client().instances.list());
  if (inv.json) printJson(inv.ctx, lineageJson(roots));
  else inv.ctx.stdout(lineageTable(roots));
  return EXIT.OK;
});

/** Wait for a new branch to run (or rest, without autostart), showing its phase; fails with its message. */
async function followBranch(inv: Invocation, name: string, timeoutS: number): Promise<Instance> {
  const bar = progress(inv.ctx, `branch ${name}`);
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const i = await inv.client().instances.get(name);
    bar.phase(i.branch?.phase ?? i.state);
    if (i.state === "running" || (i.branch?.phase === "Succeeded" && (i.state === "stopped" || i.state === "standby"))) {
      bar.done(`${i.state}, source paused ${millis(i.branch?.source_pause_ms)}`);
      return i;
    }
    if (i.state === "error" || i.branch?.phase === "Failed") {
      bar.done("failed", false);
      throw new CommandFailure(`branch ${name} failed: ${i.branch?.message ?? i.stop_reason ?? i.state}`, EXIT.ENDED_IN_ERROR);
    }
    if (Date.now() > deadline) {
      bar.done("still not running", false);
      throw new CommandFailure(`branch ${name} is not running after ${timeoutS}s (phase ${i.branch?.phase ?? "?"}, state ${i.state})`, EXIT.UNREACHABLE);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const branch = operatorCommand("branch", "branch an instance (running: memory and disks; resting: disks)",
  [
    "usage: vmbranch branch SRC [--name NAME] [--count N] [--no-wait] [--timeout SECONDS] [--json]", "",
    "Waits until the branch runs, showing its phase on a terminal, then prints its name.",
    "--count N makes N branches of one snapshot (named NAME-1 … NAME-N) and prints one name a line.",
  ],
  { name: { type: "string" }, count: { type: "string" }, "no-wait": { type: "boolean" }, timeout: { type: "string" } },
  async (inv) => {
    const [src] = expectPositionals(inv, ["SRC"]);
    const timeout = Number(inv.values.timeout ?? 300);
    if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout must be a positive number of seconds, not '${inv.values.timeout}'`);
    const count = Number(inv.values.count ?? 1);
    if (!Number.isInteger(count) || count < 1) throw new UsageError(`--count must be a whole number of branches, not '${inv.values.count}'`);
    const params = inv.values.name ? { name: inv.values.name as string } : {};
    const created = count === 1 ? [await inv.client().instances.branch(src!, params)] : await inv.client().instances.branchMany(src!, count, params);
    const results: Instance[] = [];
    for (const c of created) results.push(inv.values["no-wait"] ? c : await followBranch(inv, c.name, timeout));
    if (inv.json) printJson(inv.ctx, count === 1 ? results[0] : results);
    else inv.ctx.stdout(results.map((r) => `${r.name}\n`).join(""));
    return EXIT.OK;
  });

function action(name: "start" | "stop" | "suspend" | "rm", summary: string, extra: string): CliCommand {
  const opts: NonNullable<ParseArgsConfig["options"]> = name === "stop" ? { force: { type: "boolean" } } : {};
  return operatorCommand(name, summary, [`usage: vmbranch ${name} NAME... ${extra}[--json]`], opts, async (inv) => {
    const names = expectPositionals(inv, ["NAME"], true);
    const c = inv.client().instances;
    const out: unknown[] = [];
    for (const n of names) {
      if (name === "start") out.push(await c.start(n));
      else if (name === "stop") out.push(await c.stop(n, inv.values.force ? { force: true } : {}));
      else if (name === "suspend") out.push(await c.suspend(n));
      else out.push(await c.delete(n));
      if (!inv.json) inv.ctx.stdout(`${n}\n`);
    }
    if (inv.json) printJson(inv.ctx, out);
    return EXIT.OK;
  });
}

const logs = operatorCommand("logs", "print an instance's serial console", ["usage: vmbranch logs [-f] NAME", "", "-f, --follow  keep printing new output until the instance stops or Ctrl-C"],
  { follow: { type: "boolean", short: "f" } },
  async (inv) => {
    const [name] = expectPositionals(inv, ["NAME"]);
    const c = inv.client().instances;
    let offset = 0;
    let stopping = false;
    const onSignal = () => (stopping = true);
    process.once("SIGINT", onSignal);
    try {
      for (;;) {
        const log = await c.log(name!, { offset, limit: 1024 * 1024 });
        if (log.output) inv.ctx.stdout(log.output);
        offset = log.next_offset;
        if (log.next_offset < log.available) continue;
        if (!inv.values.follow || stopping || !["running", "starting", "stopping", "draining"].includes(log.state)) return EXIT.OK;
        await new Promise((r) => setTimeout(r, 500));
        if (stopping) return EXIT.OK;
      }
    } finally {
      process.off("SIGINT", onSignal);
    }
  });

/** The people's instance commands. */
export const instanceCommands: CliCommand[] = [
  ls, get, tree, branch,
  action("start", "start instances", ""),
  action("stop", "stop instances (gracefully; --force at once)", "[--force] "),
  action("suspend", "suspend instances (memory kept, resumed by start)", ""),
  action("rm", "delete instances", ""),
  logs,
];
