/**
 * The people's volume commands: `volumes ls`, `templates ls` (volume and instance templates) and
 * `clone` (a copy-on-write clone of a volume or volume template, followed until available).
 */
import type { Volume } from "vmbranch/sdk";
import { UsageError, type CliCommand } from "../command-registry";
import { CommandFailure, EXIT } from "./connection";
import { expectPositionals, operatorCommand, printJson } from "./operator-command";
import { progress } from "./progress";
import { age, stateText, table } from "./render";

function size(v: Volume): string {
  return v.size_mb === null ? "-" : `${v.size_mb}M`;
}

const volumes = operatorCommand("volumes", "list volumes (volumes ls)", ["usage: vmbranch volumes ls [--json]"], {}, async (inv) => {
  const [sub] = expectPositionals(inv, ["ls"]);
  if (sub !== "ls") throw new UsageError(`unknown subcommand '${sub}'`);
  const all = await inv.client().volumes.list();
  if (inv.json) printJson(inv.ctx, all);
  else
    inv.ctx.stdout(table(["NAME", "STATE", "KIND", "SIZE", "ATTACHED TO", "FROM", "AGE"],
      all.map((v) => [v.name, stateText(v), v.kind, size(v), v.attached_to.map((a) => a.name).join(",") || "-", v.clone?.source.name ?? v.template?.name ?? "-", age(v.created_at)])));
  return EXIT.OK;
});

const templates = operatorCommand("templates", "list volume and instance templates (templates ls)", ["usage: vmbranch templates ls [--json]"], {}, async (inv) => {
  const [sub] = expectPositionals(inv, ["ls"]);
  if (sub !== "ls") throw new UsageError(`unknown subcommand '${sub}'`);
  const c = inv.client();
  const [vols, insts] = await Promise.all([c.volumes.templates.list(), c.instances.templates.list()]);
  if (inv.json) printJson(inv.ctx, { volume_templates: vols, instance_templates: insts });
  else
    inv.ctx.stdout(table(["NAME", "KIND", "SIZE", "CLONES", "AGE"], [
      ...vols.map((v) => [v.name, "volume", size(v), String(v.clones), age(v.created_at)]),
      ...insts.map((i) => [i.name, "instance", `${i.memory_mb}M`, "-", age(i.created_at)]),
    ]));
  return EXIT.OK;
});

const clone = operatorCommand("clone", "clone a volume or volume template (copy-on-write)",
  ["usage: vmbranch clone SRC [--name NAME] [--no-wait] [--json]", "", "Waits until the clone is available, showing its progress on a terminal."],
  { name: { type: "string" }, "no-wait": { type: "boolean" } },
  async (inv) => {
    const [src] = expectPositionals(inv, ["SRC"]);
    const c = inv.client().volumes;
    const result = await c.cloneFrom(src!, inv.values.name ? { vol_name: inv.values.name as string } : {});
    let vol = await c.get(result.name!);
    if (!inv.values["no-wait"]) {
      const bar = progress(inv.ctx, `clone ${vol.name}`);
      const deadline = Date.now() + 300_000;
      while (vol.state === "pending" || vol.state === "initializing") {
        bar.phase(`${vol.state} ${vol.clone?.progress ?? 0}%`);
        if (Date.now() > deadline) throw new CommandFailure(`clone ${vol.name} is still ${vol.state} after 300s`, EXIT.UNREACHABLE);
        await new Promise((r) => setTimeout(r, 200));
        vol = await c.get(vol.uuid);
      }
      if (vol.state === "error") {
        bar.done("failed", false);
        throw new CommandFailure(`clone ${vol.name} failed: ${vol.error ?? vol.clone?.message ?? "unknown"}`, EXIT.ENDED_IN_ERROR);
      }
      bar.done(vol.state);
    }
    if (inv.json) printJson(inv.ctx, vol);
    else inv.ctx.stdout(`${vol.name}\n`);
    return EXIT.OK;
  });

/** The people's volume commands. */
export const volumeCommands: CliCommand[] = [volumes, templates, clone];
