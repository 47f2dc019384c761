/**
 * What the faults tests ask a running serve after every case: its doctor report, and whether an
 * instance's guest still writes (the counter program's ticks in its console log keep growing).
 */
import type { DoctorReport } from "../../sdk";
import { raw } from "../backend/support";
import type { TestBackend } from "./backend";
import { parseTicks } from "./guest-programs";

/** `GET /v1/doctor` on `b`: its one report (asserting the request answered 200). */
export async function doctorReport(b: TestBackend): Promise<DoctorReport> {
  const res = await raw(b, "GET", "/v1/doctor");
  expect(res.status).toBe(200);
  return (res.body as { data: { doctor: DoctorReport[] } }).data.doctor[0]!;
}

/** Wait until instance `name` of `b` (a counter program's guest) wrote two more ticks; throws after 90 s. */
export async function waitWriting(b: TestBackend, name: string): Promise<void> {
  const count = async () => parseTicks((await b.client.instances.log(name, { limit: 4 * 1024 * 1024 })).output).length;
  const from = await count();
  const deadline = Date.now() + 90_000;
  while ((await count()) < from + 2) {
    if (Date.now() > deadline) throw new Error(`${name} stopped writing`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
