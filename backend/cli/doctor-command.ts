/**
 * `vmbranch doctor [--repair] [--json]`: asks a running serve to compare its store with the host
 * (`GET /v1/doctor`, read-only) or to fix what is safe to fix (`POST /v1/doctor/repair`), prints
 * each disagreement, and exits 1 while any is left. It connects like every people's command
 * (operator/connection.ts: `--endpoint`, `--token`, `--data-dir` and their fallbacks); `--url` and
 * `$VMBRANCH_URL` are kept as aliases of `--endpoint` and `$VMBRANCH_ENDPOINT` for older scripts.
 * Serve runs the same repair at every start.
 */
import { DoctorEnvelopeSchema, type DoctorReport } from "vmbranch/sdk";
import type { CliCommand } from "./command-registry";
import { EXIT } from "./operator/connection";
import { operatorCommand, expectPositionals, printJson } from "./operator/operator-command";

const USAGE = [
  "usage: vmbranch doctor [--repair] [--json]",
  "",
  "Compares the store of a running `vmbranch serve` with QEMU processes, files, mounts and backing",
  "chains, and prints each disagreement; exit status 1 while any is left.",
  "--repair: fix what is safe to fix (what the store does not own and nothing uses).",
  "--url URL and $VMBRANCH_URL: aliases of --endpoint and $VMBRANCH_ENDPOINT, kept for older scripts.",
];

/** Print a report for people: what was repaired, what is left (fixable or manual), VMs not running. */
function printReport(out: (s: string) => void, report: DoctorReport): void {
  for (const f of report.repaired ?? []) out(`repaired  ${f.kind}  ${f.subject}: ${f.problem} (${f.repair})\n`);
  for (const f of report.findings) out(`${f.repair ? "fixable " : "manual  "}  ${f.kind}  ${f.subject}: ${f.problem}${f.repair ? ` (--repair: ${f.repair})` : ""}\n`);
  for (const vm of report.vms) if (vm.run_state !== "running") out(`vm        ${vm.name} (pid ${vm.pid}): QEMU reports '${vm.run_state}'\n`);
  if (report.findings.length === 0) out("doctor: the store and the host agree\n");
}

const doctor = operatorCommand("doctor", "compare the store with the host; --repair fixes what is safe", USAGE, { repair: { type: "boolean" } }, async (inv) => {
  expectPositionals(inv, []);
  const repair = inv.values.repair === true;
  const res = await inv.client().request(repair ? "POST" : "GET", `/v1/doctor${repair ? "/repair" : ""}`, { schema: DoctorEnvelopeSchema });
  const report = res.data.data?.doctor[0];
  if (!report) throw new Error("the server answered without a doctor report");
  if (inv.json) printJson(inv.ctx, report);
  else printReport(inv.ctx.stdout, report);
  return report.findings.length === 0 ? EXIT.OK : EXIT.FAILED;
});

/** The `doctor` subcommand: `--url` / `$VMBRANCH_URL` become `--endpoint` / `$VMBRANCH_ENDPOINT` before the shared parsing. */
export const doctorCommand: CliCommand = {
  ...doctor,
  run(args, ctx) {
    const env = ctx.env.VMBRANCH_ENDPOINT === undefined && ctx.env.VMBRANCH_URL !== undefined ? { ...ctx.env, VMBRANCH_ENDPOINT: ctx.env.VMBRANCH_URL } : ctx.env;
    const mapped = args.map((a) => (a === "--url" ? "--endpoint" : a.startsWith("--url=") ? `--endpoint=${a.slice(6)}` : a));
    return doctor.run(mapped, { ...ctx, env });
  },
};
