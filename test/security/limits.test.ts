// Limits a token holder's requests cannot get past, on a real `vmbranch serve`: an import whose body
// trickles and stalls is dropped after the idle timeout (408) and its volume is free again at once;
// an archive larger than its volume, or with more entries than the volume could hold, is refused
// (413) before it fills the host; and a start the host has no memory for answers 507 naming what is
// short, leaving nothing behind.
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { c as tarCreate } from "tar";
import { api, expectError, observe, raw, volumeOf } from "../backend/support";
import { startBackend, type TestBackend } from "../helpers/backend";
import { open, parseAnswer, readAll } from "./support/raw-http";

jest.setTimeout(90_000);

let b: TestBackend;
let work: string;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "vmbranch-test-limits-"));
  b = await startBackend({ args: ["--import-idle-timeout-s", "2"] });
}, 60_000);
afterAll(async () => {
  await b?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A tar archive of the directory `dir` (its contents at the root). */
async function tarOf(dir: string): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of tarCreate({ cwd: dir, portable: true }, ["."]) as AsyncIterable<Buffer>) chunks.push(c);
  return new Uint8Array(Buffer.concat(chunks));
}

async function importBody(name: string, body: Uint8Array) {
  return raw(b, "PUT", `/v1/volumes/${name}/import`, { body, headers: { "content-type": "application/x-tar" } });
}

it("drops an import that stalls, answering 408, and the volume is free and empty again", async () => {
  volumeOf(await api(b, "POST", "/v1/volumes", { name: "trickle", size_mb: 8 }));
  const before = await observe(b);
  const s = await open(Number(new URL(b.url).port));
  const answer = readAll(s);
  s.write(
    `PUT /v1/volumes/trickle/import HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${b.token}\r\n` +
      "Content-Type: application/x-tar\r\nContent-Length: 10485760\r\n\r\n",
  );
  s.write(Buffer.alloc(1024)); // a trickle, then nothing
  const t0 = Date.now();
  const a = parseAnswer(await answer);
  expect([a.status, a.json.errors[0].code]).toEqual([408, "IMPORT_STALLED"]);
  expect(a.json.errors[0].message).toBe("Import into volume 'trickle' failed: the upload sent nothing for 2 s; import abandoned");
  expect(Date.now() - t0).toBeLessThan(20_000);
  expect(await observe(b)).toEqual(before);
  // The lock is released: a real import goes through, and the data is there.
  const src = join(work, "ok");
  mkdirSync(src);
  writeFileSync(join(src, "hello.txt"), "hello\n");
  const res = await importBody("trickle", await tarOf(src));
  expect(res.status).toBe(200);
});

it("refuses an archive whose files add up to more than the volume, before writing them", async () => {
  volumeOf(await api(b, "POST", "/v1/volumes", { name: "small", size_mb: 8 }));
  const src = join(work, "big");
  mkdirSync(src);
  writeFileSync(join(src, "huge.bin"), "");
  truncateSync(join(src, "huge.bin"), 16 * 1024 * 1024); // sparse here, 16 MiB in the archive
  const body = await tarOf(src);
  const before = await observe(b);
  expectError(await importBody("small", body), 413, "IMPORT_TOO_LARGE", "Import into volume 'small' (8 MiB) refused: the archive's files add up to more than the volume's 8 MiB");
  expect(await observe(b)).toEqual(before);
});

it("refuses an archive with more entries than the volume could hold (an inode bomb)", async () => {
  volumeOf(await api(b, "POST", "/v1/volumes", { name: "inodes", size_mb: 8 }));
  const src = join(work, "many");
  mkdirSync(src);
  for (let i = 0; i < 2100; i++) writeFileSync(join(src, `f${i}`), "");
  const before = await observe(b);
  expectError(await importBody("inodes", await tarOf(src)), 413, "IMPORT_TOO_LARGE", "Import into volume 'inodes' (8 MiB) refused: the archive has more than 2048 entries, more than the volume can hold");
  expect(await observe(b)).toEqual(before);
});

it("answers 507 naming host memory when a start does not fit, and leaves nothing behind", async () => {
  // Keep (almost) all of the host's memory in reserve: no VM fits any more.
  await b.restart(["--import-idle-timeout-s", "2", "--host-reserve-mb", String(1024 * 1024)]);
  const before = await observe(b);
  const res = await raw(b, "POST", "/v1/instances", { body: { name: "too-big", image: "base", memory_mb: 256 } });
  expectError(res, 507, "INSUFFICIENT_MEMORY", /^Not enough host memory to start instance 'too-big': needs 320 MiB, \d+ MiB available and 1048576 MiB kept in reserve$/);
  expect(await observe(b)).toEqual(before);
  expect(b.vmPids()).toEqual([]);
  // Created stopped, it is there; starting it is refused the same way and it stays stopped.
  await api(b, "POST", "/v1/instances", { name: "later", image: "base", memory_mb: 256, autostart: false });
  expectError(await raw(b, "PUT", "/v1/instances/later/start"), 507, "INSUFFICIENT_MEMORY");
  expect((await b.client.instances.get("later")).state).toBe("stopped");
});
