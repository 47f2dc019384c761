// Deleting an instance while a clone of its inline volume is being made (found by the stress run):
// the delete waits for the clone, which completes with the data the volume had, and no layer is
// left that nothing uses. The clone is held between its freeze and its head by a delay failpoint,
// so the delete lands inside it every time. No guest runs here.
import type { DoctorReport } from "../../sdk";
import { contentDigest, raw, storeQuery, volumeHead } from "../backend/support";
import { startBackend, type TestBackend } from "../helpers/backend";

jest.setTimeout(120_000);

let b: TestBackend;

beforeAll(async () => {
  b = await startBackend({ env: { VMBRANCH_FAILPOINTS: "clone.after-freeze=delay:3000" } });
});
afterAll(async () => {
  await b?.stop();
});

const headOf = (name: string) => volumeHead(b.dataDir, name);

async function volumeState(name: string): Promise<string> {
  const res = await raw(b, "GET", `/v1/volumes/${name}`);
  return (res.body as { data: { volumes: { state: string }[] } }).data.volumes[0]!.state;
}

it("waits for the clone, which keeps the volume's data, and leaves no layer behind", async () => {
  const created = await raw(b, "POST", "/v1/instances", {
    body: { name: "owner", image: "base", memory_mb: 128, autostart: false, volumes: [{ name: "inline-data", size_mb: 16, at: "/data" }] },
  });
  expect(created.status).toBe(201);
  const before = headOf("inline-data");
  const digest = contentDigest(before);

  expect((await raw(b, "POST", "/v1/volumes/clone", { body: { name: "inline-data", vol_name: "kept" } })).status).toBe(201);
  // The clone froze the inline volume (its head moved to a new overlay) and now waits in the failpoint.
  for (const deadline = Date.now() + 30_000; headOf("inline-data") === before; ) {
    if (Date.now() > deadline) throw new Error("the clone never froze its source");
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(await volumeState("kept")).toBe("pending");

  const deleted = await raw(b, "DELETE", "/v1/instances/owner");
  expect(deleted.status).toBe(200);
  expect(await volumeState("kept")).toBe("available");
  expect((await raw(b, "GET", "/v1/volumes/inline-data")).status).toBe(404);
  expect(contentDigest(headOf("kept"))).toBe(digest);

  const report = (await raw(b, "GET", "/v1/doctor")).body as { data: { doctor: DoctorReport[] } };
  expect(report.data.doctor[0]!.findings).toEqual([]);
  expect((await raw(b, "DELETE", "/v1/volumes/kept")).status).toBe(200);
  expect(storeQuery(b.dataDir, "SELECT count(*) FROM disks")).toBe("0");
});
