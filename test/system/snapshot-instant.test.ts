// Memory snapshots of one source guest (issue 13): a branch taken under write load has disk and
// memory of one instant, and a snapshot records its versioned machine type, so a QEMU that cannot
// load it refuses to restore it with a clear 409 and changes nothing.
import { probeQemuMachine, type QemuMachine } from "../../backend/host/qemu/machine-types";
import type { VmbranchClient } from "../../sdk";
import { startBackend, type TestBackend } from "../helpers/backend";
import { storeSql } from "../helpers/store-sql";
import { consoleOf, seqs, sequenceWriterProgram, waitSeq } from "../helpers/guest-programs";

jest.setTimeout(300_000);

let backend: TestBackend;
let client: VmbranchClient;
let qemu: QemuMachine;

beforeAll(async () => {
  qemu = await probeQemuMachine();
  backend = await startBackend();
  client = backend.client;
  await client.instances.create({ name: "writer", image: "base", memory_mb: 128, args: sequenceWriterProgram(), volumes: [{ name: "writer-data", size_mb: 64, at: "/data" }] });
  await client.instances.waitFor("writer", "running", { timeoutMs: 120_000 });
  await waitSeq(client, "writer", 40);
});
afterAll(async () => {
  await backend?.stop();
});

/** The machine JSON of instance `name`'s standby snapshot, read and changed in the server's own database (SQLite or PostgreSQL). */
async function withSnapshotMachine(name: string, change: (machine: Record<string, unknown>) => Record<string, unknown> | null): Promise<Record<string, unknown>> {
  const rows = await storeSql<{ uuid: string; machine: string }>(backend, "SELECT s.uuid, s.machine FROM snapshots s JOIN instances i ON i.snapshot_uuid = s.uuid WHERE i.name = ?", [name]);
  if (rows.length !== 1) throw new Error(`instance ${name}: ${rows.length} standby snapshots in the store`);
  const row = rows[0]!;
  const machine = JSON.parse(row.machine) as Record<string, unknown>;
  const next = change(machine);
  if (next) await storeSql(backend, "UPDATE snapshots SET machine = ? WHERE uuid = ?", [JSON.stringify(next), row.uuid]);
  return machine;
}

describe("a branch under write load", () => {
  it("has disk and memory of one instant: every branch finds on its disk exactly the sequence number its memory last wrote", async () => {
    for (const name of ["w1", "w2", "w3"]) {
      const created = await client.instances.create({ name, branch_from: { name: "writer" } });
      expect(created.branch!.from_memory).toBe(true);
      await client.instances.waitFor(name, "running", { timeoutMs: 120_000 });
      // Every line in a branch's console was printed after its restore; each loop checked first.
      const log = await waitSeq(client, name, 3);
      expect(log).not.toContain("MISMATCH");
      expect(seqs(log)[0]).toBeGreaterThan(40);
    }
    // The source kept writing through every snapshot and never saw a torn state either.
    const source = await waitSeq(client, "writer", seqs(await consoleOf(client, "writer")).length + 3);
    expect(source).not.toContain("MISMATCH");
    for (const name of ["w1", "w2", "w3"]) await client.instances.delete(name);
  });
});

describe("the machine type of a snapshot", () => {
  const message = (type: string, version: string) =>
    `Cannot restore the memory snapshot of 'writer': it was taken with machine type '${type}' (QEMU ${version}), which this QEMU (${qemu.qemuVersion}) does not offer; ` +
    "only a host with that QEMU can restore it (a standby instance can be stopped instead, which discards its memory)";

  beforeAll(async () => {
    await client.instances.suspend("writer");
  });

  it("is the pinned versioned type, recorded with the QEMU version", async () => {
    expect(qemu.type).toMatch(/^pc-i440fx-\d+\.\d+$/);
    expect(await withSnapshotMachine("writer", () => null)).toMatchObject({ machineType: qemu.type, qemuVersion: qemu.qemuVersion });
  });

  it("refuses to restore a snapshot of a machine type this QEMU lacks, and changes nothing", async () => {
    await withSnapshotMachine("writer", (m) => ({ ...m, machineType: "pc-i440fx-1.99", qemuVersion: "1.99.0" }));
    const before = { instances: await client.instances.list(), volume: await client.volumes.get("writer-data") };

    const start = await backend.http("PUT", "/v1/instances/writer/start");
    expect(start.status).toBe(409);
    expect(start.body.errors[0]).toMatchObject({ status: 409, code: "SNAPSHOT_INCOMPATIBLE", message: message("pc-i440fx-1.99", "1.99.0") });
    const branch = await backend.http("POST", "/v1/instances", { name: "w4", branch_from: { name: "writer" } });
    expect(branch.status).toBe(409);
    expect(branch.body.errors[0]).toMatchObject({ code: "SNAPSHOT_INCOMPATIBLE", message: message("pc-i440fx-1.99", "1.99.0") });

    expect(await client.instances.list()).toEqual(before.instances);
    expect((await client.instances.get("writer")).state).toBe("standby");
    expect((await client.volumes.get("writer-data")).chain_depth).toBe(before.volume.chain_depth);
    expect(backend.vmPids()).toEqual([]);
  });

  it("gives a snapshot written before types were recorded the pinned type at start, and restores it", async () => {
    await withSnapshotMachine("writer", (m) => {
      const { machineType: _t, qemuVersion: _v, ...legacy } = m;
      return legacy;
    });
    await backend.restart([]);
    expect(await withSnapshotMachine("writer", () => null)).toMatchObject({ machineType: qemu.type, qemuVersion: qemu.qemuVersion });
    await client.instances.start("writer");
    expect((await client.instances.get("writer")).state).toBe("running");
    const log = await waitSeq(client, "writer", seqs(await consoleOf(client, "writer")).length + 2);
    expect(log).not.toContain("MISMATCH");
    await client.instances.delete("writer");
  });
});
