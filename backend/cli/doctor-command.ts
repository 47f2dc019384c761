/**
 * `vmbranch doctor [--url URL] [--data-dir DIR] [--repair] [--json]`: asks a running serve to
 * compare its store with the host (`GET /v1/doctor`, read-only) or to fix what is safe to fix
 * (`POST /v1/doctor/repair`), prints each disagreement, and exits 1 while any is left. Serve runs
 * the same repair at every start.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { DoctorReport } from "vmbranch/sdk";
import { UsageError, type CliCommand } from "./command-registry";
import { resolveDataDir } from "./data-dir";

const USAGE = [
  "usage: vmbranch doctor [--url URL] [--data-dir DIR] [--repair] [--json]",
  "",
  "Compares the store of a running `vmbranch serve` with QEMU processes, files, mounts and backing",
  "chains, and prints each disagreement; exit status 1 while any is left.",
  "--repair: fix what is safe to fix (what the store does not own and nothing uses).",
  "URL: $VMBRANCH_URL, else http://127.0.0.1:7480. Token: $VMBRANCH_TOKEN, else <data-dir>/token.",
];

/** The `doctor` subcommand. */
export const doctorCommand: CliCommand = {
  name: "doctor",
  summary: "compare the store with the host; --repair fixes what is safe",
  usage: USAGE,
  async run(args, ctx) {
    let values;
    try {
      ({ values } = parseArgs({ args, strict: true, options: { url: { type: "string" }, "data-dir": { type: "string" }, repair: { type: "boolean" }, json: { type: "boolean" } } }));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const url = ((values.url as string | undefined) ?? ctx.env.VMBRANCH_URL ?? "http://127.0.0.1:7480").replace(/\/+$/, "");
    const token = ctx.env.VMBRANCH_TOKEN?.trim() || readFileSync(join(resolveDataDir(values["data-dir"] as string | undefined, ctx.env), "token"), "utf8").trim();
    const repair = values.repair === true;
    const res = await fetch(`${url}/v1/doctor${repair ? "/repair" : ""}`, { method: repair ? "POST" : "GET", headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { data?: { doctor?: DoctorReport[] }; message?: string };
    const report = body.data?.doctor?.[0];
    if (!res.ok || !report) throw new Error(`${url} answered ${res.status}: ${body.message ?? JSON.stringify(body)}`);
    if (values.json === true) ctx.stdout(JSON.stringify(report, null, 2) + "\n");
    else {
      for (const f of report.repaired ?? []) ctx.stdout(`repaired  ${f.kind}  ${f.subject}: ${f.problem} (${f.repair})\n`);
      for (const f of report.findings) ctx.stdout(`${f.repair ? "fixable " : "manual  "}  ${f.kind}  ${f.subject}: ${f.problem}${f.repair ? ` (--repair: ${f.repair})` : ""}\n`);
      for (const vm of report.vms) if (vm.run_state !== "running") ctx.stdout(`vm        ${vm.name} (pid ${vm.pid}): QEMU reports '${vm.run_state}'\n`);
      if (report.findings.length === 0) ctx.stdout("doctor: the store and the host agree\n");
    }
    return report.findings.length === 0 ? 0 : 1;
  },
};
