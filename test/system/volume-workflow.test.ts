// The volume workflow of Unikraft Cloud's volumes guide (examples/volume-workflow-sdk/README.md) on
// real guests, by running the example `examples/volume-workflow-sdk` against a fresh `vmbranch
// serve`: a web server appends a timestamp to /mnt/log.txt on a volume per request; after stop,
// detach, delete and attaching the volume to a new instance, the old lines are still there with one
// new line below. Also: a volume a guest has written is no longer empty, so an import must not
// replace its data.
import { GUEST_PORT, runVolumeWorkflow } from "../../examples/volume-workflow-sdk/index";
import { expectError, raw, readFromDisk, tarWithEntry } from "../backend/support";
import { startBackend, type TestBackend } from "../helpers/backend";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

jest.setTimeout(300_000);

let b: TestBackend;
beforeAll(async () => {
  b = await startBackend();
}, 60_000);
afterAll(async () => {
  await b?.stop();
}, 60_000);

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const lines = (body: string) => body.split("\n").filter((l) => l !== "");

it("keeps the web server's log on the volume across instances (the reference's workflow)", async () => {
  const result = await runVolumeWorkflow(b.client, { prefix: "wf-", requests: 3, bootTimeoutMs: 180_000 });

  // Each request added one timestamp and answered with the whole file.
  expect(result.firstResponses.map((r) => lines(r).length)).toEqual([1, 2, 3]);
  for (let i = 1; i < 3; i++) expect(lines(result.firstResponses[i]!).slice(0, i)).toEqual(lines(result.firstResponses[i - 1]!));
  for (const l of lines(result.firstResponses[2]!)) expect(l).toMatch(TIMESTAMP);

  // The first instance was stopped and had nothing attached when it was deleted.
  expect(result.firstInstance).toMatchObject({ name: "wf-web-1", state: "stopped", volumes: [] });

  // The new instance sees the old lines, plus one new line at the bottom.
  const final = lines(result.finalResponse);
  expect(final.slice(0, 3)).toEqual(lines(result.firstResponses[2]!));
  expect(final).toHaveLength(4);
  expect(final[3]).toMatch(TIMESTAMP);
  expect(result.secondInstance.volumes).toEqual([expect.objectContaining({ uuid: result.volume.uuid, at: "/mnt", readonly: false, inline: false })]);
  expect(result.secondInstance.ports.map((p) => p.guest_port)).toEqual([GUEST_PORT]);
  expect(result.volume).toMatchObject({ name: "wf-my-volume", state: "mounted", attached_to: [{ uuid: result.secondInstance.uuid, name: "wf-web-2" }] });

  // The workflow cleaned up after itself: no instance, volume, VM or disk file is left.
  expect(await b.client.instances.list()).toEqual([]);
  expect(await b.client.volumes.list()).toEqual([]);
  expect(b.vmPids()).toEqual([]);
  const disks = join(b.dataDir, "disks");
  expect(existsSync(disks) ? readdirSync(disks) : []).toEqual([]);
});

it("refuses to import into a volume a guest has written, keeping its data", async () => {
  const vol = await b.client.volumes.create({ name: "written", size_mb: 8 });
  // The guest writes a file and exits on its own; its exit status is reported.
  const inst = await b.client.instances.create({ name: "writer", image: "base", args: ["sh", "-c", "echo kept > /data/kept.txt; sync; exit 3"], volumes: [{ name: "written", at: "/data" }] });
  const stopped = await b.client.instances.waitFor(inst.uuid, "stopped", { timeoutMs: 180_000 });
  expect(stopped.exit_code).toBe(3);
  await b.client.volumes.detach(vol.uuid);

  const res = await raw(b, "PUT", `/v1/volumes/${vol.uuid}/import`, { body: tarWithEntry("replacement.txt", "new\n"), headers: { "content-type": "application/x-tar" } });
  expectError(res, 409, "VOLUME_NOT_EMPTY");
  // The guest's file is still in the volume (its one disk file, read on the host).
  const disks = readdirSync(join(b.dataDir, "disks"));
  expect(disks).toHaveLength(1);
  expect(readFromDisk(join(b.dataDir, "disks", disks[0]!), "/kept.txt")).toBe("kept\n");
});
