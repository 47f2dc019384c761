/**
 * The one fixture of the operator layer: a real `vmbranch serve` with a real lineage — a running
 * source `db` with two branches (`db-a`, `db-b`) and a branch of a branch (`db-a-1`), plus a volume,
 * a volume template made from it and a clone of that template, with `db-b` suspended (standby) — booted once and shared by the
 * metrics, CLI and lineage-page tests of the one test file.
 */
import { startBackend, type TestBackend } from "../../helpers/backend";

/** What the fixture made. */
export interface Lineage {
  backend: TestBackend;
  /** Milliseconds the source was paused for each branch, by branch name. */
  pauses: Record<string, number>;
}

const LOOP = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo tick=$i; sleep 1; done"];

/** Start a backend and build the lineage; the caller stops `backend` in afterAll. */
export async function makeLineage(): Promise<Lineage> {
  const backend = await startBackend();
  try {
    const c = backend.client;
    await c.instances.create({ name: "db", image: "base", memory_mb: 128, args: LOOP, volumes: [{ name: "db-data", size_mb: 8, at: "/data" }] });
    await c.instances.waitFor("db", "running", { timeoutMs: 180_000 });
    const pauses: Record<string, number> = {};
    for (const [name, from] of [["db-a", "db"], ["db-b", "db"], ["db-a-1", "db-a"]] as const) {
      const created = await c.instances.create({ name, branch_from: { name: from } });
      const running = await c.instances.waitFor(name, "running", { timeoutMs: 180_000 });
      pauses[name] = running.branch?.source_pause_ms ?? created.branch!.source_pause_ms!;
    }
    // A suspended branch keeps its memory as a RAM image: the lineage shows a standby state too.
    await c.instances.suspend("db-b");
    await c.instances.waitFor("db-b", "standby", { timeoutMs: 120_000 });
    await c.volumes.create({ name: "seed", size_mb: 8 });
    for (const [path, body] of [["/v1/volumes/templates", { name: "seed", mode: "copy", template_name: "seed-tpl" }], ["/v1/volumes/clone", { name: "seed-tpl", vol_name: "seed-copy" }]] as const) {
      const res = await backend.http("POST", path, body);
      if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    await c.volumes.waitFor("seed-copy", "available", { timeoutMs: 60_000 });
    return { backend, pauses };
  } catch (err) {
    await backend.stop();
    throw err;
  }
}
