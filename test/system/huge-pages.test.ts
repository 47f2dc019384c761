// Guest RAM in 2 MiB huge pages (`serve --huge-pages`, docs/benchmarks.md): a boot takes its
// memory from the host's reserved pool (its RAM mapping has 2 MiB pages, the pool's free pages drop
// by its memory), a live branch of it continues its memory and disk on the usual copy-on-write RAM
// image (ordinary pages), a suspend gives the pages back and the resume continues (on the standby
// image, as every restore), and a boot the pool cannot hold is a 507 that makes nothing. The pool is enlarged for this file and given back afterwards.
import { readFileSync, writeFileSync } from "node:fs";
import type { VmbranchClient } from "../../sdk";
import { startBackend, type TestBackend } from "../helpers/backend";
import { counterProgram, parseTicks, type Tick } from "../helpers/guest-programs";

jest.setTimeout(240_000);

const POOL = "/proc/sys/vm/nr_hugepages";
const POOL_DIR = "/sys/kernel/mm/hugepages/hugepages-2048kB";
/** Pages reserved for this file: a 256 MiB guest and a little more, less than the 1 GiB boot refused below. */
const PAGES = 200;

let poolBefore: number | null = null;
let backend: TestBackend;
let client: VmbranchClient;

/** Pages of the pool no guest holds or has reserved (a guest reserves all of its pages at its start). */
const freePages = () => Number(readFileSync(`${POOL_DIR}/free_hugepages`, "utf8")) - Number(readFileSync(`${POOL_DIR}/resv_hugepages`, "utf8"));

beforeAll(async () => {
  poolBefore = Number(readFileSync(POOL, "utf8"));
  const freeBefore = freePages();
  writeFileSync(POOL, String(poolBefore + PAGES));
  if (freePages() < freeBefore + PAGES) throw new Error(`the kernel made ${freePages() - freeBefore} of ${PAGES} huge pages (memory too fragmented?)`);
  backend = await startBackend({ args: ["--huge-pages"] });
  client = backend.client;
});
afterAll(async () => {
  await backend?.stop();
  if (poolBefore !== null) writeFileSync(POOL, String(poolBefore));
});

async function ticks(name: string): Promise<Tick[]> {
  return parseTicks((await client.instances.log(name, { limit: 4 * 1024 * 1024 })).output);
}

async function waitTicks(name: string, pred: (t: Tick[]) => boolean): Promise<Tick[]> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const t = await ticks(name);
    if (pred(t)) return t;
    if (Date.now() > deadline) throw new Error(`${name}: condition not met; last ticks ${JSON.stringify(t.slice(-3))}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The page size, in kB, of the guest RAM mapping (exactly `memoryMb`) of QEMU process `pid`. */
function guestPageKb(pid: number, memoryMb: number): number | null {
  for (const block of readFileSync(`/proc/${pid}/smaps`, "utf8").split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(block)?.[1] ?? NaN);
    if (kb("Size") === memoryMb * 1024) return kb("KernelPageSize");
  }
  return null;
}

/** The QEMU process of instance `uuid` (its `-name vmbranch-<uuid>`). */
function pidOf(uuid: string): number {
  const pid = backend.vmPids().find((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").includes(`vmbranch-${uuid}`));
  if (pid === undefined) throw new Error(`no QEMU process for ${uuid}`);
  return pid;
}

it("boots a guest with its RAM in 2 MiB pages of the pool, branches it from memory, and suspends and resumes it", async () => {
  const free = freePages();
  const made = await client.instances.create({ name: "hp", image: "base", memory_mb: 256, args: counterProgram(), volumes: [{ name: "hp-data", size_mb: 16, at: "/data" }] });
  await client.instances.waitFor("hp", "running", { timeoutMs: 120_000 });
  expect(guestPageKb(pidOf(made.uuid), 256)).toBe(2048);
  expect(free - freePages()).toBe(128);
  const before = await waitTicks("hp", (t) => t.length >= 3);

  // The branch starts from the snapshot's RAM image, a file in the RAM directory like any other:
  // its memory (the counter) and disk (the lines) continue from the source's.
  const branch = await client.instances.create({ name: "hp-b", branch_from: { name: "hp" } });
  expect(branch.branch!.source_pause_ms).toBeGreaterThan(0);
  await client.instances.waitFor("hp-b", "running", { timeoutMs: 120_000 });
  expect(guestPageKb(pidOf(branch.uuid), 256)).toBe(4);
  const b = await waitTicks("hp-b", (t) => t.length >= 2 && t.some((x) => x.fork === 1));
  expect(b[0]!.tick).toBeGreaterThanOrEqual(before.at(-1)!.tick);
  expect(b[0]!.f0).toBeGreaterThanOrEqual(before.at(-1)!.f0);
  await client.instances.delete("hp-b");

  // Suspended, its QEMU and pages go; resumed from the standby image, it counts on.
  const seen = (await ticks("hp")).length;
  await client.instances.suspend("hp");
  expect(freePages()).toBe(free);
  await client.instances.start("hp");
  const resumed = await waitTicks("hp", (t) => t.length >= seen + 2);
  expect(resumed.map((x) => x.tick)).toEqual(resumed.map((_, i) => i + 1));
  await client.instances.delete("hp");
  expect(freePages()).toBe(free);
});

it("refuses a boot the pool cannot hold with 507, making nothing", async () => {
  const res = await backend.http("POST", "/v1/instances", { name: "too-big", image: "base", memory_mb: 1024 });
  expect(res.status).toBe(507);
  expect(res.body.errors[0]).toMatchObject({
    code: "INSUFFICIENT_MEMORY",
    message: `Not enough free huge pages to start instance 'too-big': needs 1024 MiB of 2 MiB pages, ${freePages() * 2} MiB free in the host's pool (vm.nr_hugepages)`,
  });
  expect((await backend.http("GET", "/v1/instances/too-big")).status).toBe(404);
  expect(backend.vmPids()).toEqual([]);
});
