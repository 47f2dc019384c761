/**
 * The people's host command: `hosts ls`, the machines instances and volumes are placed on, with
 * their heartbeat state, memory and instance count (docs/cli.md, docs/cluster.md).
 */
import type { Host } from "vmbranch/sdk";
import { UsageError, type CliCommand } from "../command-registry";
import { EXIT } from "./connection";
import { expectPositionals, operatorCommand, printJson } from "./operator-command";
import { age, table } from "./render";

function mib(n: number | null): string {
  return n === null ? "-" : `${n}M`;
}

function row(h: Host): string[] {
  return [h.name, h.state, mib(h.memory_free_mib), mib(h.memory_total_mib), String(h.instances), h.last_heartbeat ? `${age(h.last_heartbeat)} ago` : "never"];
}

const hosts = operatorCommand("hosts", "list hosts (hosts ls)", ["usage: vmbranch hosts ls [--json]"], {}, async (inv) => {
  const [sub] = expectPositionals(inv, ["ls"]);
  if (sub !== "ls") throw new UsageError(`unknown subcommand '${sub}'`);
  const all = await inv.client().hosts.list();
  if (inv.json) printJson(inv.ctx, all);
  else inv.ctx.stdout(table(["NAME", "STATE", "FREE", "MEMORY", "INSTANCES", "LAST HEARTBEAT"], all.map(row)));
  return EXIT.OK;
});

/** The people's host commands. */
export const hostCommands: CliCommand[] = [hosts];
