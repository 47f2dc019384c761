// Hosts through real HTTP, no VM booted (docs/api.md, "Hosts"; docs/cluster.md): serve registers
// its machine under `--host-name` and reports its memory; GET /v1/hosts and /v1/hosts/{name};
// instances and volumes say which host they live on, inline volumes where their instance is; rows
// that name no host (a data dir from before hosts) are given serve's host when it starts. Bad
// `host` inputs answer their exact status and message and create nothing. A second and a third
// host are rows written into the store with no agent behind them: one reporting, one offline.
// Nothing is placed on either (test/cluster places on hosts that agents run).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Host } from "../../sdk";
import { CLI, startBackend, type TestBackend } from "../helpers/backend";
import { storeSql } from "../helpers/store-sql";
import { api, expectError, instanceOf, observe, raw, volumeOf } from "./support";

jest.setTimeout(60_000);

let b: TestBackend;
beforeAll(async () => {
  b = await startBackend({ args: ["--host-name", "box-1"] });
  // box-2 reports far ahead, so serve's heartbeats never find it stale during the test; box-3 stopped reporting.
  await storeSql(b, `INSERT INTO hosts (name, state, memory_total_mib, memory_free_mib, last_heartbeat, joined_at) VALUES (?, 'online', 8192, 100, ?, ?)`, [
    "box-2", "2999-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z",
  ]);
  await storeSql(b, `INSERT INTO hosts (name, state, memory_total_mib, memory_free_mib, last_heartbeat, joined_at) VALUES (?, 'offline', 8192, 8000, ?, ?)`, [
    "box-3", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z",
  ]);
}, 120_000);
afterAll(() => b?.stop(), 60_000);

const hostsOf = (res: { body: { data: { hosts: Host[] } } }) => res.body.data.hosts;

describe("GET /v1/hosts", () => {
  it("lists serve's own host, online, with its memory and last heartbeat, beside the others", async () => {
    const res = await api(b, "GET", "/v1/hosts");
    expect(res.status).toBe(200);
    const hosts = hostsOf(res);
    expect(hosts.map((h) => [h.name, h.state])).toEqual([["box-1", "online"], ["box-2", "online"], ["box-3", "offline"]]);
    const local = hosts[0]!;
    expect(local.memory_total_mib).toBeGreaterThan(0);
    expect(local.memory_free_mib).toBeGreaterThan(0);
    expect(local.memory_free_mib!).toBeLessThanOrEqual(local.memory_total_mib!);
    expect(Date.now() - Date.parse(local.last_heartbeat!)).toBeLessThan(30_000);
    expect(Date.parse(local.joined_at)).toBeLessThanOrEqual(Date.parse(local.last_heartbeat!));
  });

  it("gets one host by name, and answers 404 for a name it does not know", async () => {
    const one = await api(b, "GET", "/v1/hosts/box-3");
    expect(hostsOf(one)).toEqual([
      { name: "box-3", state: "offline", memory_total_mib: 8192, memory_free_mib: 8000, instances: 0, last_heartbeat: "2026-01-01T00:00:00.000Z", joined_at: "2026-01-01T00:00:00.000Z", status: "success" },
    ]);
    expectError(await api(b, "GET", "/v1/hosts/nowhere"), 404, "HOST_NOT_FOUND", "Host 'nowhere' not found");
  });

  it("lists and gets hosts through the SDK, with NotFoundError for a name it does not know", async () => {
    expect((await b.client.hosts.list()).map((h) => [h.name, h.state])).toEqual([["box-1", "online"], ["box-2", "online"], ["box-3", "offline"]]);
    expect(await b.client.hosts.get("box-2")).toMatchObject({ name: "box-2", state: "online", memory_free_mib: 100 });
    await expect(b.client.hosts.get("nowhere")).rejects.toMatchObject({ status: 404, code: "HOST_NOT_FOUND", message: "Host 'nowhere' not found" });
  });

  it("needs the token like every other route", async () => {
    expectError(await raw(b, "GET", "/v1/hosts", { token: false }), 401, "UNAUTHORIZED");
  });
});

describe("host of instances and volumes", () => {
  it("places an instance and its inline volume on the one host that has room, and counts it there", async () => {
    const before = hostsOf(await api(b, "GET", "/v1/hosts/box-1"))[0]!.instances;
    const inst = instanceOf(await api(b, "POST", "/v1/instances", { name: "placed", image: "base", autostart: false, volumes: [{ size_mb: 8, at: "/data" }] }));
    // box-2 has 100 MiB free, too little for 128 MiB; box-3 is offline.
    expect(inst.host).toBe("box-1");
    const inline = volumeOf(await api(b, "GET", `/v1/volumes/${inst.volumes[0]!.uuid}`));
    expect(inline.host).toBe("box-1");
    expect(hostsOf(await api(b, "GET", "/v1/hosts/box-1"))[0]!.instances).toBe(before + 1);
  });

  it("takes an explicit host, and keeps a volume where it was asked", async () => {
    const inst = instanceOf(await api(b, "POST", "/v1/instances", { name: "asked", image: "base", autostart: false, host: "box-1" }));
    expect(inst.host).toBe("box-1");
    const vol = volumeOf(await api(b, "POST", "/v1/volumes", { name: "near-asked", size_mb: 8, host: "box-1" }));
    expect(vol.host).toBe("box-1");
    expect(volumeOf(await api(b, "GET", "/v1/volumes/near-asked")).host).toBe("box-1");
  });

  it("gives rows that name no host (a data dir from before hosts) to serve's host when it starts", async () => {
    const inst = instanceOf(await api(b, "POST", "/v1/instances", { name: "legacy", image: "base", autostart: false }));
    const vol = volumeOf(await api(b, "POST", "/v1/volumes", { name: "legacy-vol", size_mb: 8 }));
    await storeSql(b, "UPDATE instances SET host = NULL WHERE uuid = ?", [inst.uuid]);
    await storeSql(b, "UPDATE volumes SET host = NULL WHERE uuid = ?", [vol.uuid]);
    await b.restart(["--host-name", "box-1"]);
    expect(instanceOf(await api(b, "GET", "/v1/instances/legacy")).host).toBe("box-1");
    expect(volumeOf(await api(b, "GET", "/v1/volumes/legacy-vol")).host).toBe("box-1");
  });
});

describe("bad host inputs", () => {
  /** Assert `body` POSTed to `path` answers the exact error and changes nothing. */
  async function refused(path: string, body: Record<string, unknown>, status: number, code: string, message: string, field?: string): Promise<void> {
    const before = await observe(b);
    expectError(await api(b, "POST", path, body), status, code, message, field);
    expect(await observe(b)).toEqual(before);
  }

  it("refuses an unknown host with a 400 naming the known ones", async () => {
    const message = "Unknown host 'elsewhere': the known hosts are 'box-1', 'box-2', 'box-3'";
    await refused("/v1/instances", { name: "lost", image: "base", autostart: false, host: "elsewhere" }, 400, "VALIDATION_FAILED", message, "host");
    await refused("/v1/volumes", { name: "lost-vol", size_mb: 8, host: "elsewhere" }, 400, "VALIDATION_FAILED", message, "host");
  });

  it("refuses a host name that is not a name", async () => {
    const res = await api(b, "POST", "/v1/instances", { name: "lost", image: "base", autostart: false, host: "no such host!" });
    expectError(res, 400, "VALIDATION_FAILED", /must be 1-63 characters/, "host");
  });

  it("refuses a host no agent of this serve runs, though its row says online, with a 409 saying so", async () => {
    const message = "Host 'box-2' has no agent connected to this control plane: nothing can be placed on it or act on what is there until one is (serve --agent)";
    await refused("/v1/instances", { name: "lost", image: "base", autostart: false, host: "box-2" }, 409, "HOST_OFFLINE", message, "host");
    await refused("/v1/volumes", { name: "lost-vol", size_mb: 8, host: "box-2" }, 409, "HOST_OFFLINE", message, "host");
  });

  it("refuses an offline host with a 409", async () => {
    const message = "Host 'box-3' is offline: nothing is placed on it until it heartbeats again";
    await refused("/v1/instances", { name: "lost", image: "base", autostart: false, host: "box-3" }, 409, "HOST_OFFLINE", message, "host");
    await refused("/v1/volumes", { name: "lost-vol", size_mb: 8, host: "box-3" }, 409, "HOST_OFFLINE", message, "host");
  });

  it("refuses an instance whose volumes are on two hosts, or a host away from its volume", async () => {
    await api(b, "POST", "/v1/volumes", { name: "near-vol", size_mb: 8 });
    // A volume on box-2, as its agent would have made it there.
    const far = volumeOf(await api(b, "POST", "/v1/volumes", { name: "far-vol-2", size_mb: 8 }));
    await storeSql(b, "UPDATE volumes SET host = 'box-2' WHERE uuid = ?", [far.uuid]);
    await refused(
      "/v1/instances",
      { name: "split", image: "base", autostart: false, volumes: [{ name: "near-vol", at: "/a" }, { name: "far-vol-2", at: "/b", readonly: true }] },
      409, "PLACEMENT_CONFLICT", "Cannot place the instance: volume 'near-vol' is on host 'box-1' and volume 'far-vol-2' on host 'box-2'",
    );
    await refused(
      "/v1/instances",
      { name: "split", image: "base", autostart: false, host: "box-1", volumes: [{ name: "far-vol-2", at: "/b" }] },
      409, "PLACEMENT_CONFLICT", "Cannot place the instance on host 'box-1': its volume 'far-vol-2' is on host 'box-2'", "host",
    );
  });

  it("refuses a branch or a volume clone sent to a host no agent runs, before anything is frozen or sent", async () => {
    await api(b, "POST", "/v1/instances", { name: "branch-src", image: "base", autostart: false, volumes: [{ name: "branch-src-vol", size_mb: 8, at: "/data" }] });
    const message = "Host 'box-2' has no agent connected to this control plane: nothing can be placed on it or act on what is there until one is (serve --agent)";
    await refused("/v1/instances", { name: "moved", branch_from: { name: "branch-src" }, host: "box-2" }, 409, "HOST_OFFLINE", message, "host");
    await refused("/v1/volumes/branch-src-vol/clone", { vol_name: "moved-vol", host: "box-2" }, 409, "HOST_OFFLINE", message, "host");
  });
});

describe("vmbranch serve --host-name", () => {
  it("keeps the name the data dir recorded at its first start, and refuses another one", async () => {
    // b started as box-1: a restart without the flag (a renamed machine, a container's new host
    // name) is still box-1, with its instances; asking to be another host is refused.
    await b.restart([]);
    expect((await b.client.hosts.list()).filter((h) => h.state === "online").map((h) => h.name)).toEqual(["box-1", "box-2"]);
    expect(instanceOf(await api(b, "GET", "/v1/instances/legacy")).host).toBe("box-1");
    await expect(b.restart(["--host-name", "box-9"])).rejects.toThrow(
      `vmbranch serve: --host-name 'box-9': this data dir is host 'box-1' (${join(b.dataDir, "host-name")}), the host its instances and volumes name; a host cannot be renamed`,
    );
    await b.relaunch({});
    expect((await b.client.hosts.list()).map((h) => h.name)).toEqual(["box-1", "box-2", "box-3"]);
    expect((await b.client.hosts.get("box-1")).state).toBe("online");
  });

  it("refuses a name that breaks the rules of names, before it starts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vmbranch-hostname-"));
    try {
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const proc = spawn(process.execPath, [CLI, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--host-name", "bad name!"], { stdio: ["ignore", "ignore", "pipe"] });
        let err = "";
        proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
        proc.once("error", reject);
        proc.once("exit", (c) => resolve({ code: c, stderr: err }));
      });
      expect(code).toBe(2);
      expect(stderr).toContain("vmbranch serve: --host-name 'bad name!' must be 1-63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
