// The provider's connection settings (per setting: environment when set, then stack config, then
// defaults), a missing token reported by every resource's check, and how its failures reach the
// engine: API refusals with the API's words and nothing recorded, partial states with id and
// __provider, 404 on delete as success, a Volume left pending finished by its update. Against
// the SDK's fake server.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as connection from "vmbranch/provider/impl/connection";
import * as instance from "vmbranch/provider/impl/instance";
import * as volume from "vmbranch/provider/impl/volume";
import * as volumeClone from "vmbranch/provider/impl/volume-clone";
import * as volumeTemplate from "vmbranch/provider/impl/volume-template";
import { FakeApi, envelope, errorReply, fakeVolume } from "../helpers/fake-api";

let api: FakeApi;
beforeEach(async () => {
  api = await FakeApi.start({ token: "secret-token" });
});
afterEach(async () => {
  connection.resetConnection();
  await api.close();
});

const configure = (values: Record<string, string>) => connection.configure({ get: (k) => values[k] });

describe("connection settings", () => {
  // Made in beforeAll, not while the file is collected: a run whose -t filter skips this block
  // skips its afterAll too, which left the directory behind.
  const noFiles = { VMBRANCH_DATA_DIR: "" };
  beforeAll(() => {
    noFiles.VMBRANCH_DATA_DIR = mkdtempSync(join(tmpdir(), "vmb-no-token-"));
  });
  afterAll(() => rmSync(noFiles.VMBRANCH_DATA_DIR, { recursive: true, force: true }));

  it("the environment wins when set (a rotated token for refresh and destroy), then stack config, then the defaults", () => {
    configure({ "vmbranch:endpoint": "http://config:1", "vmbranch:token": "from-config" });
    expect(connection.connectionSettings({ VMBRANCH_ENDPOINT: "http://env:2", VMBRANCH_TOKEN: "from-env" })).toMatchObject({ options: { endpoint: "http://env:2", token: "from-env" }, endpointSource: "environment" });
    // Per setting: a token from the environment, the endpoint from the stack config.
    expect(connection.connectionSettings({ VMBRANCH_TOKEN: "rotated" })).toMatchObject({ options: { endpoint: "http://config:1", token: "rotated" }, endpointSource: "config" });
    // Set but empty is unset.
    expect(connection.connectionSettings({ VMBRANCH_ENDPOINT: "", VMBRANCH_TOKEN: "" })).toMatchObject({ options: { endpoint: "http://config:1", token: "from-config" } });
    connection.resetConnection();
    expect(connection.connectionSettings({ VMBRANCH_ENDPOINT: "http://env:2", VMBRANCH_TOKEN: "from-env" })).toMatchObject({ options: { endpoint: "http://env:2", token: "from-env" }, endpointSource: "environment" });
    configure({ "vmbranch:token": "only-token" });
    expect(connection.connectionSettings({ ...noFiles })).toMatchObject({ options: { endpoint: "http://127.0.0.1:7480", token: "only-token" }, endpointSource: "default" });
  });

  it("says where to put the token when there is none", () => {
    expect(() => connection.connectionSettings({ ...noFiles })).toThrow(
      `No vmbranch token: set it with 'pulumi config set --secret vmbranch:token <token>' or the environment variable VMBRANCH_TOKEN (no token file at ${join(noFiles.VMBRANCH_DATA_DIR, "token")} either)`,
    );
  });

  it("a missing token is a check failure of every resource, so preview reports it before up changes anything", async () => {
    const saved = process.env.VMBRANCH_DATA_DIR;
    const savedToken = process.env.VMBRANCH_TOKEN;
    process.env.VMBRANCH_DATA_DIR = noFiles.VMBRANCH_DATA_DIR;
    delete process.env.VMBRANCH_TOKEN;
    try {
      const reason = expect.stringMatching(/^No vmbranch token: set it with 'pulumi config set --secret vmbranch:token <token>'/);
      const results = [
        (await instance.check({}, { namePrefix: "vm", image: "base" })).failures,
        (await volume.check({}, { namePrefix: "v", sizeMb: 8 })).failures,
        (await volumeTemplate.check({}, { namePrefix: "t", sourceVolume: "v" })).failures,
        (await volumeClone.check({}, { namePrefix: "c", source: "t" })).failures,
      ];
      for (const failures of results) expect(failures).toEqual([{ property: "", reason }]);
      configure({ "vmbranch:token": "t" });
      expect((await volume.check({}, { namePrefix: "v", sizeMb: 8 })).failures).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.VMBRANCH_DATA_DIR;
      else process.env.VMBRANCH_DATA_DIR = saved;
      if (savedToken !== undefined) process.env.VMBRANCH_TOKEN = savedToken;
    }
  });

  it("sends the configured token", async () => {
    configure({ "vmbranch:endpoint": api.url, "vmbranch:token": "secret-token" });
    api.route("GET", "/v1/volumes/:id", { body: envelope("volumes", [fakeVolume({ name: "d" })]) });
    expect((await volume.read("d")).props).toMatchObject({ name: "d" });
    configure({ "vmbranch:endpoint": api.url, "vmbranch:token": "wrong" });
    await expect(volume.read("d")).rejects.toThrow(/reading volume 'd' failed: Missing or invalid bearer token/);
  });
});

describe("failures as the engine sees them", () => {
  beforeEach(() => configure({ "vmbranch:endpoint": api.url, "vmbranch:token": "secret-token" }));

  it("a refused create is a plain error with the API's message: nothing to record", async () => {
    api.route("POST", "/v1/instances", errorReply(409, "NAME_TAKEN", "An instance named 'web' already exists"));
    const err = (await instance.create({ name: "web", image: "base" }).catch((e: unknown) => e)) as Error & { id?: string };
    expect(err.message).toBe("vmbranch: creating instance 'web' failed: An instance named 'web' already exists");
    expect(err.id).toBeUndefined();
  });

  it("a clone that stays pending past the deadline is a partial create with its id and __provider", async () => {
    const pending = fakeVolume({ name: "c", state: "pending", clone: { source: { uuid: "00000000-0000-4000-8000-000000000001", name: "g" }, progress: 10, started_at: "2026-01-01T00:00:00Z", finished_at: null, message: null } });
    api.route("POST", "/v1/volumes/clone", { status: 201, body: envelope("volumes", [{ status: "success", uuid: pending.uuid, name: "c", state: "pending" }]) });
    api.route("GET", "/v1/volumes/:id", { body: envelope("volumes", [pending]) });
    const err = (await volumeClone.create({ name: "c", source: "g", timeouts: { create: 1 }, __provider: "serialized provider" }).catch((e: unknown) => e)) as {
      id: string;
      properties: Record<string, unknown>;
      reasons: string[];
      message: string;
    };
    expect(err.id).toBe(pending.uuid);
    expect(err.message).toMatch(/volume clone 'c' was created but its data is not ready within 1s/);
    expect(err.properties).toMatchObject({ uuid: pending.uuid, state: "pending", source: "g", __provider: "serialized provider" });
    expect(err.reasons).toEqual([err.message]);
  });

  it("a Volume a partial create left pending is waited for by its update before anything else", async () => {
    const pending = fakeVolume({ name: "d", state: "pending", tags: [] });
    const ready = { ...pending, state: "available" as const };
    api.queue("GET", "/v1/volumes/:id", { body: envelope("volumes", [pending]) });
    api.queue("GET", "/v1/volumes/:id", { body: envelope("volumes", [pending]) });
    api.route("GET", "/v1/volumes/:id", { body: envelope("volumes", [ready]) });
    api.route("PATCH", "/v1/volumes/:id", { body: envelope("volumes", [{ ...ready, tags: ["t"] }]) });
    const { outs } = await volume.update(pending.uuid, { name: "d", uuid: pending.uuid, state: "pending" }, { name: "d", tags: ["t"], timeouts: { update: 30 } });
    expect(outs).toMatchObject({ state: "available", tags: ["t"] });
    // The PATCH comes only after a GET answered `available` (two answered `pending` first).
    const calls = api.requests.map((r) => r.method);
    expect(calls.slice(0, calls.indexOf("PATCH")).filter((m) => m === "GET")).toHaveLength(3);
  });

  it("delete: 404 is done, anything else carries the API's message", async () => {
    api.queue("DELETE", "/v1/volumes/:id", errorReply(404, "VOLUME_NOT_FOUND", "Volume 'x' not found"));
    await expect(volume.remove("x", { name: "x" })).resolves.toBeUndefined();
    api.queue("DELETE", "/v1/volumes/:id", errorReply(409, "VOLUME_IN_USE", "Volume 'x' is attached to 'web'; detach it first"));
    await expect(volume.remove("x", { name: "x" })).rejects.toThrow("vmbranch: deleting volume 'x' failed: Volume 'x' is attached to 'web'; detach it first");
    api.queue("GET", "/v1/instances/:id", errorReply(404, "INSTANCE_NOT_FOUND", "Instance 'i' not found"));
    await expect(instance.remove("i", { name: "i" })).resolves.toBeUndefined();
  });
});
