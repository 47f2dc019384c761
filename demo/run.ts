/**
 * `npm run demo`: the main job end to end. Starts `vmbranch serve` on its embedded defaults (or
 * reuses the one running), deploys examples/branch-database with the real Pulumi engine (a running
 * key-value database on a volume, branched twice while it runs), and prints who came from whom, how
 * long the source paused, and how to reach each branch. A second run changes nothing.
 * `npm run demo -- --destroy` removes the stack's resources and stops the service.
 */
import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { VmbranchClient } from "vmbranch/sdk";
import { program } from "../examples/branch-database/program";
import { report } from "./report";
import { ensureService, stopService } from "./service";

const REPO = join(__dirname, "..");
const EXAMPLE = join(REPO, "examples", "branch-database");

function say(msg: string): void {
  process.stdout.write(`demo: ${msg}\n`);
}

async function stack(dataDir: string): Promise<Stack> {
  mkdirSync(join(dataDir, "pulumi-state"), { recursive: true });
  const pulumiRoot = join(REPO, "node_modules", "@pulumi", "pulumi");
  return LocalWorkspace.createOrSelectStack(
    { stackName: "demo", projectName: "vmbranch-branch-database", program: () => Promise.resolve(program()) },
    {
      workDir: EXAMPLE,
      envVars: {
        // A local state backend and no network: the demo needs nothing but this machine.
        PULUMI_BACKEND_URL: `file://${join(dataDir, "pulumi-state")}`,
        PULUMI_HOME: join(dataDir, "pulumi-home"),
        PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "vmbranch-demo",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        // The dynamic-provider plugin ships inside @pulumi/pulumi.
        PATH: `${pulumiRoot}:${process.env.PATH ?? ""}`,
      },
    },
  );
}

async function main(): Promise<void> {
  const destroy = process.argv.includes("--destroy");
  const dataDir = process.env.VMBRANCH_DATA_DIR || join(homedir(), ".vmbranch");
  if (destroy) {
    const svc = await ensureService(REPO, dataDir).catch(() => null);
    const s = await stack(dataDir);
    if (svc) {
      await s.setConfig("vmbranch:endpoint", { value: svc.url });
      await s.setConfig("vmbranch:token", { value: svc.token, secret: true });
      say("destroying the demo's instances and volumes…");
      await s.destroy({ onOutput: (o) => process.stdout.write(o) });
    }
    await s.workspace.removeStack("demo");
    say((await stopService(dataDir)) ? "vmbranch serve stopped." : "vmbranch serve was not running.");
    return;
  }
  const svc = await ensureService(REPO, dataDir);
  say(`${svc.startedHere ? "started" : "using"} vmbranch serve at ${svc.url} (data in ${dataDir}, log in ${join(dataDir, "serve.log")})`);
  const s = await stack(dataDir);
  await s.setConfig("vmbranch:endpoint", { value: svc.url });
  await s.setConfig("vmbranch:token", { value: svc.token, secret: true });
  say("pulumi up of examples/branch-database (a running database, branched twice)…");
  const up = await s.up({ onOutput: (o) => process.stdout.write(o) });
  const changes = Object.entries(up.summary.resourceChanges ?? {}).filter(([k]) => k !== "same");
  say(changes.length === 0 ? "no changes: everything was already deployed." : `changes: ${changes.map(([k, v]) => `${v} ${k}`).join(", ")}`);

  const client = new VmbranchClient({ endpoint: svc.url, token: svc.token });
  try {
    const names = [up.outputs.db?.value as string, ...((up.outputs.branches?.value ?? []) as { name: string }[]).map((b) => b.name)];
    const instances = await Promise.all(names.map((n) => client.instances.get(n)));
    process.stdout.write(`\n${report(instances)}\n\n`);
    const first = instances.find((i) => i.branch);
    const db = instances[0]!;
    const port = (i: (typeof instances)[number]) => i.ports.find((p) => p.guest_port === 8080)?.host_port;
    say(`try: curl 'http://127.0.0.1:${port(db)}/cgi-bin/kv?set=color=blue'   # write to the database…`);
    if (first) say(`     curl 'http://127.0.0.1:${port(first)}/cgi-bin/kv'              # …and see the branch keep its own data`);
    say("run 'npm run demo' again (it changes nothing) or 'npm run demo -- --destroy' to remove it all.");
  } finally {
    await client.close();
  }
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
