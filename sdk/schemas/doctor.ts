/**
 * The report of `vmbranch doctor` (`GET /v1/doctor`): each disagreement between the store and the
 * host (processes, files, mounts, backing chains), and each VM's run state as QEMU reports it.
 * Zod only.
 */
import { z } from "zod";
import { TimestampSchema, UuidSchema } from "./common";
import { envelopeSchema } from "./envelope";

/** What kind of disagreement a finding is. */
export const DoctorFindingKindSchema = z.enum([
  "loader", "unowned-vm", "vm-paused", "vm-missing", "orphan-file", "unreferenced-disk", "missing-file", "backing-chain", "raw-view",
]);

export type DoctorFindingKind = z.infer<typeof DoctorFindingKindSchema>;

/** One disagreement, and what a repair does about it (null: left to the operator). */
export const DoctorFindingSchema = z.object({
  kind: DoctorFindingKindSchema,
  /** The process, file, directory or instance it is about. */
  subject: z.string(),
  problem: z.string(),
  repair: z.string().nullable(),
});
export type DoctorFinding = z.infer<typeof DoctorFindingSchema>;

/** A doctor run: what disagrees (after a repair: what is left), what a repair fixed, and the VMs' run states. */
export const DoctorReportSchema = z.object({
  checked_at: TimestampSchema,
  findings: z.array(DoctorFindingSchema),
  repaired: z.array(DoctorFindingSchema).optional(),
  vms: z.array(z.object({ instance: UuidSchema, name: z.string(), pid: z.number().int(), run_state: z.string() })),
});
export type DoctorReport = z.infer<typeof DoctorReportSchema>;

/** The answer of `GET /v1/doctor` and `POST /v1/doctor/repair`: the report under `data.doctor`. */
export const DoctorEnvelopeSchema = envelopeSchema("doctor", DoctorReportSchema);
