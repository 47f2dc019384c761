// Other local users get nothing from vmbranch's files: a real `vmbranch serve` keeps its data dir
// 0700 and its database and token 0600, fixing what an earlier `vmbranch image build` or an older
// version left wider at every start; it refuses a token file that is a symbolic link or a data dir
// owned by someone else; its RAM directory in /dev/shm has a name nobody can predict, is 0700 and
// its own, and a directory swapped in for it is never used; and a VM's sockets live only in
// directories closed to others (a deep data dir's short links in /run/vmbranch, not /tmp).
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startBackend, type TestBackend } from "../helpers/backend";
import { testAccelerator } from "../helpers/vm-image";

jest.setTimeout(120_000);

const mode = (p: string) => lstatSync(p).mode & 0o777;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A data dir laid out as `vmbranch image build` and an older, careless version left it: wide open. */
function wideDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "vmbranch-test-wide-"));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, "images"), { mode: 0o755 });
  mkdirSync(join(dir, "disks"), { mode: 0o755 });
  chmodSync(join(dir, "disks"), 0o755);
  writeFileSync(join(dir, "token"), "a-token-an-older-version-wrote-0644\n", { mode: 0o644 });
  chmodSync(join(dir, "token"), 0o644);
  return dir;
}

async function started(opts: Parameters<typeof startBackend>[0]): Promise<TestBackend> {
  const b = await startBackend(opts);
  cleanups.push(() => b.stop());
  return b;
}

it("fixes the data dir to 0700 and the token, database and its journal to 0600 at every start", async () => {
  const dataDir = wideDataDir();
  // The token comes from the file here, as it does for users without VMBRANCH_TOKEN.
  const b = await started({ dataDir, env: { VMBRANCH_TOKEN: "" } });
  expect(mode(dataDir)).toBe(0o700);
  for (const d of ["disks", "run", "snapshots", "tmp"]) expect({ [d]: mode(join(dataDir, d)) }).toEqual({ [d]: 0o700 });
  for (const f of ["token", "vmbranch.db", "vmbranch.db-wal", "vmbranch.db-shm", "ram-dir"].filter((f) => existsSync(join(dataDir, f))))
    expect({ [f]: mode(join(dataDir, f)) }).toEqual({ [f]: 0o600 });
  expect(existsSync(join(dataDir, "vmbranch.db"))).toBe(true);
  // Widened again while stopped: the next start narrows it again.
  await b.restart([]);
  chmodSync(dataDir, 0o755);
  chmodSync(join(dataDir, "vmbranch.db"), 0o644);
  await b.restart([]);
  expect([mode(dataDir), mode(join(dataDir, "vmbranch.db"))]).toEqual([0o700, 0o600]);
});

it("refuses a token file that is a symbolic link, and a data dir that belongs to someone else", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "vmbranch-test-link-"));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const elsewhere = join(dataDir, "elsewhere");
  writeFileSync(elsewhere, "a-token-somebody-planted-long-enough\n");
  symlinkSync(elsewhere, join(dataDir, "token"));
  await expect(startBackend({ dataDir, env: { VMBRANCH_TOKEN: "" } })).rejects.toThrow(/token' is a symbolic link; refusing to use it/);

  const foreign = mkdtempSync(join(tmpdir(), "vmbranch-test-foreign-"));
  cleanups.push(() => rmSync(foreign, { recursive: true, force: true }));
  chownSync(foreign, 65534, 65534);
  await expect(startBackend({ dataDir: foreign })).rejects.toThrow(/belongs to uid 65534, not to this service/);
});

it("keeps RAM images in an unpredictable 0700 directory of its own, and never in one swapped in for it", async () => {
  const b = await started({});
  const ram = b.ramDir()!;
  expect(dirname(ram)).toBe("/dev/shm");
  expect(ram).toMatch(/^\/dev\/shm\/vmbranch-[A-Za-z0-9]{6}$/);
  const st = lstatSync(ram);
  expect([st.isDirectory(), st.uid, st.mode & 0o777]).toEqual([true, process.getuid!(), 0o700]);

  // While the service is down, another user replaces the directory with a link to their own.
  await b.halt();
  const theirs = mkdtempSync(join(tmpdir(), "vmbranch-test-theirs-"));
  cleanups.push(() => rmSync(theirs, { recursive: true, force: true }));
  rmSync(ram, { recursive: true, force: true });
  symlinkSync(theirs, ram);
  cleanups.push(() => rmSync(ram, { force: true }));
  const again = await started({ dataDir: b.dataDir });
  const now = again.ramDir()!;
  expect(now).not.toBe(ram);
  expect(lstatSync(now).isDirectory()).toBe(true);
  expect(again.serveLog()).toMatch(/RAM directory '.*' is gone or no longer private/);
});

it("puts a deep data dir's VM sockets behind short links in a root-only directory, not in /tmp", async () => {
  const deep = join(mkdtempSync(join(tmpdir(), "vmbranch-test-deep-")), "d".repeat(80));
  mkdirSync(deep, { mode: 0o700 });
  cleanups.push(() => rmSync(dirname(deep), { recursive: true, force: true }));
  await testAccelerator();
  const b = await started({ dataDir: deep });
  const inst = await b.client.instances.create({ name: "deep", image: "base", memory_mb: 128, args: ["sh", "-c", "sleep 600"] });
  const runDir = join(deep, "run", inst.uuid);
  const cmdline = readFileSync(`/proc/${b.vmPids()[0]}/cmdline`, "utf8").split("\0");
  const qmp = cmdline[cmdline.indexOf("-qmp") + 1]!.replace(/^unix:/, "").split(",")[0]!;
  expect(qmp).toMatch(/^\/run\/vmbranch\/vmb-[0-9a-f]{16}\/qmp\.sock$/);
  const linkDir = dirname(dirname(qmp));
  expect([statSync(linkDir).uid, mode(linkDir)]).toEqual([0, 0o700]);
  expect(mode(runDir)).toBe(0o700);
  expect(lstatSync(dirname(qmp)).isSymbolicLink()).toBe(true);
  await b.client.instances.delete("deep");
  expect(existsSync(dirname(qmp))).toBe(false);
  // Nothing of vmbranch's lands in the shared temp dir.
  expect(readdirSync(tmpdir()).filter((n) => /^vmb-(mig|[0-9a-f]{16})/.test(n))).toEqual([]);
});
