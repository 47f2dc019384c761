// Instance templates (warm, from standby), volume templates made from a running volume while it
// stays writable, and volume clones of a volume a running VM writes (issue 4, items 7–9).
import type { VmbranchClient } from "../../sdk";
import { startBackend, type TestBackend } from "../helpers/backend";
import { counterProgram, parseTicks } from "../helpers/guest-programs";

jest.setTimeout(240_000);

let backend: TestBackend;
let client: VmbranchClient;

beforeAll(async () => {
  backend = await startBackend();
  client = backend.client;
});
afterAll(async () => {
  await backend?.stop();
});

async function consoleOf(name: string): Promise<string> {
  return (await client.instances.log(name, { limit: 4 * 1024 * 1024 })).output;
}

async function waitConsole(name: string, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = (await consoleOf(name)).match(pattern);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`${name}: ${pattern} not seen; console ends with ${(await consoleOf(name)).slice(-300)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("instance templates", () => {
  it("converts a standby instance and its volume into templates, and starts instances from it warm", async () => {
    await client.instances.create({ name: "golden", image: "base", args: counterProgram(), volumes: [{ name: "golden-data", size_mb: 16, at: "/data" }] });
    await client.instances.waitFor("golden", "running", { timeoutMs: 120_000 });
    await waitConsole("golden", /tick=3 /);
    await client.instances.suspend("golden");
    const lastTick = Math.max(...parseTicks(await consoleOf("golden")).map((t) => t.tick));
    const tpl = await client.instances.templates.create({ name: "golden" });
    expect(tpl!.state).toBe("template");
    expect(tpl!.snapshot).not.toBeNull();
    const volTemplates = await client.volumes.templates.list();
    expect(volTemplates.map((v) => v.name)).toEqual(["golden-data"]);
    expect(volTemplates[0]!.state).toBe("template");
    // A template is not an instance any more.
    expect((await client.instances.list()).map((i) => i.name)).not.toContain("golden");

    const a = await client.instances.create({ name: "from-a", template: { name: "golden" } });
    const b = await client.instances.create({ name: "from-b", template: { name: "golden" } });
    expect(a.template).toEqual({ uuid: tpl!.uuid, name: "golden" });
    expect(a.volumes[0]!.uuid).not.toBe(b.volumes[0]!.uuid);
    for (const n of ["from-a", "from-b"]) {
      await client.instances.waitFor(n, "running", { timeoutMs: 60_000 });
      const m = await waitConsole(n, /tick=(\d+) fork=1 /);
      // Warm: the counter continues from the template's memory instead of booting again.
      expect(Number(m[1])).toBe(lastTick + 1);
    }
    const vt = await client.volumes.templates.get("golden-data");
    expect(vt.clones).toBe(2);

    const refused = await backend.http("DELETE", "/v1/instances/templates/golden");
    expect(refused.status).toBe(409);
    expect(refused.body.errors[0].code).toBe("VOLUME_HAS_CLONES");
    await client.instances.delete("from-a");
    await client.instances.delete("from-b");
    await client.instances.templates.delete("golden");
    expect(await client.volumes.templates.list()).toEqual([]);
  });

  it("refuses to convert a running instance", async () => {
    await client.instances.create({ name: "busy", image: "base", args: ["sleep", "600"], autostart: false });
    await client.instances.start("busy");
    const res = await backend.http("POST", "/v1/instances/templates", [{ name: "busy" }]);
    expect(res.status).toBe(409);
    expect(res.body.errors[0].message).toMatch(/Cannot convert instance 'busy' in state '(starting|running)' into a template/);
    await client.instances.delete("busy");
  });
});

describe("volumes a running VM writes", () => {
  beforeAll(async () => {
    await client.volumes.create({ name: "wvol", size_mb: 16 });
    await client.instances.create({ name: "writer", image: "base", args: counterProgram("/w", 0.2), volumes: [{ name: "wvol", at: "/w" }] });
    await client.instances.waitFor("writer", "running", { timeoutMs: 120_000 });
    await waitConsole("writer", /tick=5 /);
  });

  it("clones it consistently through the VM (pending, then available) and the clone mounts with the data", async () => {
    const res = await backend.http("POST", "/v1/volumes/clone", [{ name: "wvol", vol_name: "wclone" }]);
    expect(res.status).toBe(201);
    expect(res.body.data.volumes[0]).toMatchObject({ status: "success", name: "wclone", state: "pending" });
    const clone = await client.volumes.waitFor("wclone", "available", { timeoutMs: 60_000 });
    expect(clone.clone).toMatchObject({ source: { name: "wvol" }, progress: 100 });
    expect((await client.volumes.get("wvol")).state).toBe("mounted");
    await client.instances.create({ name: "reader", image: "base", args: ["sh", "-c", "echo lines=$(wc -l < /r/log)"], volumes: [{ name: "wclone", at: "/r", readonly: true }] });
    const m = await waitConsole("reader", /lines=(\d+)/);
    expect(Number(m[1])).toBeGreaterThanOrEqual(5);
    await waitConsole("reader", /VMBRANCH-EXIT 0/);
    await client.instances.delete("reader");
  });

  it("freezes its contents into a template while it stays attached and writable", async () => {
    const [tpl] = (await client.volumes.templates.createMany([{ name: "wvol", mode: "copy", template_name: "wtpl" }])).items;
    expect(tpl).toMatchObject({ name: "wtpl", state: "template" });
    const vol = await client.volumes.get("wvol");
    expect(vol.state).toBe("mounted");
    expect(vol.attached_to.map((a) => a.name)).toEqual(["writer"]);
    const before = parseTicks(await consoleOf("writer")).length;
    await waitConsole("writer", new RegExp(`tick=${before + 3} `));
    const fromTpl = await client.volumes.create({ name: "from-wtpl", template: { name: "wtpl" } });
    expect(fromTpl.template).toMatchObject({ name: "wtpl" });
    const res = await backend.http("PATCH", "/v1/volumes/templates/wtpl", [{ prop: "size_mb", op: "set", value: 64 }]);
    expect(res.status).toBe(409);
    expect(res.body.errors[0].code).toBe("VOLUME_IS_TEMPLATE");
    await client.volumes.delete("from-wtpl");
    await client.volumes.templates.delete("wtpl");
  });

  afterAll(async () => {
    await client.instances.delete("writer");
    await client.volumes.delete("wclone");
    await client.volumes.delete("wvol");
  });
});
