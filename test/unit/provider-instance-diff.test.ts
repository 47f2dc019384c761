// Instance `diff` and outputs: every row of the replace/update table (docs/provider.md), triggers
// and the provider's own inputs, no diffs from server-assigned values (ports, MACs, uuids),
// branches, restarts, refresh drift and the inputs a refresh reports, state written by 0.1.0, and
// plain-JSON outputs.
import type { Instance } from "vmbranch/sdk";
import { diffInstance } from "vmbranch/provider/impl/instance-diff";
import type { InstanceInputs } from "vmbranch/provider/impl/instance-model";
import { instanceInputsAfterRefresh, instanceInputsFromServer, instanceOutputs, refreshInstanceOutputs, upgradeInstanceOutputs } from "vmbranch/provider/impl/instance-outputs";
import { UNKNOWN } from "vmbranch/provider/impl/values";
import { fakeInstance } from "../helpers/fake-api";

const base: InstanceInputs = {
  name: "web-1a2b3c4",
  namePrefix: "web",
  autoNamed: true,
  image: "base",
  memoryMb: 256,
  args: ["httpd"],
  env: { A: "1" },
  volumes: [{ volume: "data", at: "/data" }],
  ports: [{ guestPort: 8080 }],
  tags: ["web"],
  annotations: { team: "a" },
};

function serverFor(i: InstanceInputs, over: Partial<Instance> = {}): Instance {
  return fakeInstance({
    name: i.name,
    memory_mb: i.memoryMb ?? 128,
    args: i.args ?? [],
    env: i.env ?? {},
    tags: i.tags ?? [],
    annotations: i.annotations ?? {},
    ports: (i.ports ?? []).map((p) => ({ guest_port: p.guestPort, host_port: p.hostPort ?? 40000 + p.guestPort, host_ip: "127.0.0.1", protocol: p.protocol ?? "tcp" })),
    volumes: (i.volumes ?? []).map((v, n) => ({ uuid: `00000000-0000-4000-8000-00000000000${n}`, name: v.volume ?? `inline-${n}`, at: v.at, readonly: v.readonly ?? false, kind: "block", inline: v.sizeMb !== undefined })),
    ...over,
  });
}

const stored = (i: InstanceInputs = base, over: Partial<Instance> = {}) => instanceOutputs(serverFor(i, over), i) as unknown as Record<string, unknown>;
const diff = (news: Partial<InstanceInputs>, olds = stored()) => diffInstance(olds, { ...base, ...news, __provider: "p" } as Record<string, unknown>);

describe("instance diff follows the replace/update table", () => {
  it("reports no changes for the same inputs (and ignores __provider)", () => {
    expect(diff({})).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });

  it.each([
    ["name", { name: "other", autoNamed: false }],
    ["image", { image: "other" }],
    ["template", { template: "tpl" }],
    ["branchFrom", { branchFrom: "db" }],
    ["memoryMb", { memoryMb: 512 }],
    ["vcpus", { vcpus: 2 }],
    ["args", { args: ["sh"] }],
    ["env", { env: { A: "2" } }],
    ["cloneOptions", { cloneOptions: { newSmbiosSerial: "x" } }],
    ["hostname", { hostname: "other" }],
    ["host", { host: "box-2" }],
  ])("replaces on %s", (field, news) => {
    const d = diff(news as Partial<InstanceInputs>);
    expect(d.changes).toBe(true);
    expect(d.replaces).toEqual([field]);
  });

  it.each([
    ["tags", { tags: ["web", "blue"] }],
    ["annotations", { annotations: { team: "b" } }],
    ["deleteLock", { deleteLock: true }],
    ["state", { state: "stopped" as const }],
    ["state (standby)", { state: "standby" as const }],
    ["volumes (attach an existing one)", { volumes: [{ volume: "data", at: "/data" }, { volume: "logs", at: "/logs", readonly: true }] }],
    ["volumes (detach)", { volumes: [] }],
    ["ports", { ports: [{ guestPort: 8080 }, { guestPort: 53, protocol: "udp" as const }] }],
  ])("updates %s in place", (_what, news) => {
    expect(diff(news as Partial<InstanceInputs>)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });

  it("reports where the server placed it, and a host that names that place is no change", () => {
    const olds = stored();
    expect(olds.host).toBe("box-1");
    expect(diff({ host: "box-1" }, olds).changes).toBe(false);
    expect(diff({ host: UNKNOWN }, olds)).toMatchObject({ changes: true, replaces: ["host"] });
  });

  it("reports its host's state as last seen, null from a server that sends none, and never diffs on it", () => {
    expect(stored().hostState).toBe("online");
    const offline = refreshInstanceOutputs(instanceOutputs(serverFor(base), base), serverFor(base, { host_state: "offline" }));
    expect(offline.hostState).toBe("offline");
    expect(diff({}, offline as unknown as Record<string, unknown>).changes).toBe(false);
    expect(stored(base, { host: undefined, host_state: undefined })).toMatchObject({ host: null, hostState: null });
  });

  it("replaces when an inline volume changes (it lives and dies with the instance)", () => {
    expect(diff({ volumes: [{ volume: "data", at: "/data" }, { sizeMb: 16, at: "/scratch" }] }).replaces).toEqual(["volumes"]);
  });

  it("compares tags as sets and ports and volumes in any order", () => {
    const i = { ...base, tags: ["a", "b"], ports: [{ guestPort: 1 }, { guestPort: 2 }] };
    expect(diff({ tags: ["b", "a", "a"], ports: [{ guestPort: 2, protocol: "tcp" }, { guestPort: 1 }] }, stored(i)).changes).toBe(false);
  });

  it("does not manage inputs left unset, except state (running) and deleteLock (false)", () => {
    const olds = stored(base, { delete_lock: false });
    const d = diffInstance(olds, { name: base.name, autoNamed: true, image: "base" });
    expect(d).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    expect(diffInstance(stored({ ...base, deleteLock: true }, { delete_lock: true }), { ...base }).changes).toBe(true);
  });

  it("treats unknown values as changes, replacing for replace fields", () => {
    expect(diff({ branchFrom: UNKNOWN })).toMatchObject({ changes: true, replaces: ["branchFrom"] });
    expect(diff({ tags: [UNKNOWN] })).toMatchObject({ changes: true, replaces: [] });
    expect(diff({ volumes: [{ volume: UNKNOWN, at: "/data" }] })).toMatchObject({ changes: true, replaces: [] });
  });

  it("asks for delete-before-replace when old and new cannot coexist", () => {
    expect(diff({ memoryMb: 512, volumes: [] }).deleteBeforeReplace).toBe(false);
    expect(diff({ memoryMb: 512 }).deleteBeforeReplace).toBe(true); // read-write volume 'data'
    expect(diff({ memoryMb: 512, volumes: [{ volume: "data", at: "/data", readonly: true }] }).deleteBeforeReplace).toBe(false);
    expect(diff({ memoryMb: 512, volumes: [], ports: [{ guestPort: 80, hostPort: 8080 }] }).deleteBeforeReplace).toBe(true);
    expect(diff({ memoryMb: 512, volumes: [], name: "fixed", autoNamed: false }).deleteBeforeReplace).toBe(true);
    expect(diff({ tags: ["x"] }).deleteBeforeReplace).toBe(false);
  });

  it("deletes first when a named inline volume would be created twice (volume names are unique)", () => {
    const i = { ...base, volumes: [{ volume: "cache", sizeMb: 10, at: "/cache" }] };
    expect(diff({ volumes: i.volumes, memoryMb: 512 }, stored(i))).toEqual({ changes: true, replaces: ["memoryMb"], deleteBeforeReplace: true });
    // An unnamed inline volume gets a fresh name: the new instance can come first.
    const unnamed = { ...base, volumes: [{ sizeMb: 10, at: "/cache" }] };
    expect(diff({ volumes: unnamed.volumes, memoryMb: 512 }, stored(unnamed))).toEqual({ changes: true, replaces: ["memoryMb"], deleteBeforeReplace: false });
  });
});

describe("triggers and the provider's own inputs", () => {
  it("replaces when a trigger changes, is added, removed or not known yet", () => {
    const i = { ...base, volumes: [], triggers: ["v1", { job: 1 }] };
    const olds = stored(i);
    expect(diff({ volumes: [], triggers: ["v1", { job: 1 }] }, olds)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    expect(diff({ volumes: [], triggers: ["v2", { job: 1 }] }, olds)).toEqual({ changes: true, replaces: ["triggers"], deleteBeforeReplace: false });
    expect(diff({ volumes: [], triggers: ["v1", UNKNOWN] }, olds)).toMatchObject({ changes: true, replaces: ["triggers"] });
    expect(diff({ volumes: [] }, olds)).toMatchObject({ changes: true, replaces: ["triggers"] });
    expect(diff({ volumes: [], triggers: ["v1"] }, stored({ ...base, volumes: [] }))).toMatchObject({ changes: true, replaces: ["triggers"] });
  });

  it.each([
    ["timeouts", { timeouts: { delete: "10m" } }, {}],
    ["readiness", { readiness: { guestPort: 8080 } }, {}],
    ["waitForExit", { waitForExit: true }, { state: "stopped" as const, exit_code: 0 }],
  ])("an update stores a change of %s alone (delete reads its deadline from the state)", (_what, news, server) => {
    expect(diff(news as Partial<InstanceInputs>)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    const withIt = stored({ ...base, ...(news as Partial<InstanceInputs>) }, server);
    expect(diff(news as Partial<InstanceInputs>, withIt).changes).toBe(false);
    // Removing it is a change too: the default applies again.
    expect(diff({}, withIt).changes).toBe(true);
  });

  it("reads state written by 0.1.0 (no triggers, no managedInputs) without a diff", () => {
    const { triggers: _t, managedInputs: _m, ...old } = stored();
    expect(diffInstance(old, { ...base })).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    expect(upgradeInstanceOutputs(old)).toMatchObject({ triggers: null, managedInputs: null });
  });
});

describe("the inputs a refresh reports", () => {
  const outs = (i: InstanceInputs = base, over: Partial<Instance> = {}) => refreshInstanceOutputs(upgradeInstanceOutputs(stored(i)), serverFor(i, over));

  it("are the inputs the program gave, as the program wrote them, when nothing drifted", () => {
    expect(instanceInputsAfterRefresh(outs())).toEqual({ ...base, volumes: [{ volume: "data", at: "/data" }], ports: [{ guestPort: 8080 }] });
  });

  it("carry the server's values where they drifted, and state or lock drift even when the program left them out", () => {
    const drifted = instanceInputsAfterRefresh(outs(base, { tags: ["web", "by-hand"], state: "stopped", delete_lock: true }));
    expect(drifted).toMatchObject({ tags: ["web", "by-hand"], state: "stopped", deleteLock: true });
    expect(Object.keys(drifted ?? {}).sort()).toEqual([...Object.keys(base), "deleteLock", "state"].sort());
  });

  it("are left to the engine for state written before managedInputs existed", () => {
    const { managedInputs: _m, ...old } = stored();
    expect(instanceInputsAfterRefresh(refreshInstanceOutputs(upgradeInstanceOutputs(old), serverFor(base)))).toBeUndefined();
  });

  it("describe an instance the state does not hold yet (a lookup by id) by what it was made from", () => {
    expect(instanceInputsFromServer(serverFor(base))).toEqual({
      name: base.name, image: "base", memoryMb: 256, vcpus: 1, args: ["httpd"], env: { A: "1" }, hostname: "web", tags: ["web"], annotations: { team: "a" },
      deleteLock: false, state: "running", ports: [{ guestPort: 8080 }], volumes: [{ volume: "data", at: "/data" }],
    });
  });
});

describe("no perpetual diffs from what the server decides", () => {
  it("ignores host ports, MACs, uuids, boot times and restarts", () => {
    const olds = stored(base, { ports: [{ guest_port: 8080, host_port: 45555, host_ip: "127.0.0.1", protocol: "tcp" }] });
    const refreshed = refreshInstanceOutputs(upgradeInstanceOutputs(olds), serverFor(base, {
      uuid: "11111111-2222-4333-8444-555555555555",
      network_interfaces: [{ name: "eth0", mac: "02:aa:bb:cc:dd:ee", private_ip: "10.0.2.15" }],
      ports: [{ guest_port: 8080, host_port: 46666, host_ip: "127.0.0.1", protocol: "tcp" }],
      start_count: 5,
      boot_time_ms: 1234,
      started_at: "2026-02-02T00:00:00.000Z",
    }));
    expect(diffInstance(refreshed as unknown as Record<string, unknown>, { ...base })).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });

  it("a branch reports no changes for what it inherited", () => {
    const branch: InstanceInputs = { name: "db-branch-1", autoNamed: false, branchFrom: "db" };
    const server = fakeInstance({
      name: "db-branch-1", memory_mb: 512, args: ["sh", "-c", "db"], env: { X: "1" }, tags: ["db", "prod"], annotations: { a: "1" },
      ports: [{ guest_port: 5432, host_port: 41000, host_ip: "127.0.0.1", protocol: "tcp" }],
      volumes: [{ uuid: "00000000-0000-4000-8000-000000000009", name: "db-branch-1-data-abcde", at: "/data", readonly: false, kind: "block", inline: true }],
      branch: { source: { uuid: "00000000-0000-4000-8000-000000000001", name: "db" }, snapshot_uuid: null, snapshot_at: "2026-01-01T00:00:00Z", source_pause_ms: 3, snapshot_ms: 40, restore_ms: 60, phase: "Succeeded", from_memory: true, message: null },
    });
    const outs = instanceOutputs(server, branch);
    expect(outs).toMatchObject({ branchedFrom: "db", sourcePauseMs: 3, snapshotMs: 40, restoreMs: 60, branchPhase: "Succeeded", memoryMb: 512, tags: ["db", "prod"], hostPorts: { "5432": 41000 } });
    expect(diffInstance(outs as unknown as Record<string, unknown>, { ...branch })).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    // Tags the user adds on a branch are compared on their own, not with the inherited ones.
    const tagged = instanceOutputs({ ...server, tags: ["db", "prod", "mine"] }, { ...branch, tags: ["mine"] });
    expect(tagged.tags).toEqual(["mine"]);
    expect(diffInstance(tagged as unknown as Record<string, unknown>, { ...branch, tags: ["mine"] }).changes).toBe(false);
  });

  it("a transitional state compares equal to where it is heading", () => {
    expect(diff({}, stored(base, { state: "starting" })).changes).toBe(false);
    expect(diff({ state: "stopped" }, stored({ ...base, state: "stopped" }, { state: "stopping" })).changes).toBe(false);
  });
});

describe("refresh reports drift of what the user manages", () => {
  const refreshed = (over: Partial<Instance>) => refreshInstanceOutputs(upgradeInstanceOutputs(stored()), serverFor(base, over)) as unknown as Record<string, unknown>;

  it.each([
    ["tags", { tags: ["web", "added-by-hand"] }],
    ["annotations", { annotations: {} }],
    ["deleteLock", { delete_lock: true }],
    ["state", { state: "stopped" as const }],
    ["a detached volume", { volumes: [] }],
    ["a removed port", { ports: [] }],
  ])("%s", (_what, over) => {
    expect(diffInstance(refreshed(over), { ...base })).toMatchObject({ changes: true, replaces: [] });
  });

  it("a fixed host port that moved is drift; a server-chosen one is not", () => {
    const i = { ...base, ports: [{ guestPort: 80, hostPort: 8080 }, { guestPort: 443 }] };
    const olds = upgradeInstanceOutputs(stored(i));
    const moved = (p80: number, p443: number) =>
      refreshInstanceOutputs(olds, serverFor(i, { ports: [{ guest_port: 80, host_port: p80, host_ip: "127.0.0.1", protocol: "tcp" }, { guest_port: 443, host_port: p443, host_ip: "127.0.0.1", protocol: "tcp" }] }));
    expect(diffInstance(moved(8080, 41234) as unknown as Record<string, unknown>, { ...i }).changes).toBe(false);
    expect(diffInstance(moved(8081, 40443) as unknown as Record<string, unknown>, { ...i }).changes).toBe(true);
  });
});

describe("outputs", () => {
  it("are plain JSON with every input and the computed fields, never undefined", () => {
    const outs = instanceOutputs(serverFor(base), { ...base, hostname: undefined });
    const json = JSON.parse(JSON.stringify(outs));
    expect(json).toEqual(outs);
    const walk = (v: unknown): void => {
      expect(v).not.toBeUndefined();
      if (v && typeof v === "object") Object.values(v).forEach(walk);
    };
    walk(outs);
    expect(outs).toMatchObject({ schemaVersion: 1, name: base.name, image: "base", hostname: "web", state: "running", template: null, branchFrom: null, hostPorts: { "8080": 48080 } });
  });

  it("refuses state written by a newer provider", () => {
    expect(() => upgradeInstanceOutputs({ schemaVersion: 99 })).toThrow(/newer vmbranch provider/);
  });
});
