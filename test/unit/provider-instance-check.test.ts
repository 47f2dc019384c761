// Instance `check`: every combination the API refuses is reported at preview time with the
// API's own message, under the property the user wrote; unknown values (preview) pass.
import { messages } from "vmbranch/sdk";
import { checkInstance } from "vmbranch/provider/impl/instance-check";
import { inputPropertyOf } from "vmbranch/provider/impl/instance-request";
import { UNKNOWN } from "vmbranch/provider/impl/values";
import * as connection from "vmbranch/provider/impl/connection";

// A token is configured: these tests are about the inputs (a missing token has its own test).
beforeAll(() => connection.configure({ get: (k) => (k === "vmbranch:token" ? "test-token" : undefined) }));
afterAll(() => connection.resetConnection());

const check = (news: Record<string, unknown>, olds: Record<string, unknown> = {}) => checkInstance(olds, { namePrefix: "vm", ...news });
const failures = (news: Record<string, unknown>) => check(news).failures;

describe("instance check: API combinations, with the API's messages", () => {
  const table: [string, Record<string, unknown>, { property: string; reason: string }][] = [
    ["branchFrom with image", { branchFrom: "db", image: "base" }, { property: "image", reason: messages.branchWithImage }],
    ["branchFrom with template", { branchFrom: "db", template: "tpl" }, { property: "branchFrom", reason: messages.branchWithTemplate }],
    ["branchFrom with memoryMb", { branchFrom: "db", memoryMb: 256 }, { property: "memoryMb", reason: messages.branchInherited("memory_mb") }],
    ["branchFrom with vcpus", { branchFrom: "db", vcpus: 2 }, { property: "vcpus", reason: messages.branchInherited("vcpus") }],
    ["branchFrom with args", { branchFrom: "db", args: ["sh"] }, { property: "args", reason: messages.branchInherited("args") }],
    ["branchFrom with env", { branchFrom: "db", env: { A: "1" } }, { property: "env", reason: messages.branchInherited("env") }],
    ["template with image", { template: "tpl", image: "base" }, { property: "image", reason: messages.templateWithImage }],
    ["template with memoryMb", { template: "tpl", memoryMb: 256 }, { property: "memoryMb", reason: messages.templateInherited("memory_mb") }],
    ["no image, template or branchFrom", {}, { property: "image", reason: messages.missingSource }],
    ["clone options without a source", { image: "base", cloneOptions: { tagFilters: ["a*"] } }, { property: "cloneOptions.tagFilters", reason: messages.cloneOptionWithoutSource("tag_filters") }],
    ["a bad tag filter", { branchFrom: "db", cloneOptions: { tagFilters: ["a*b"] } }, { property: "cloneOptions.tagFilters", reason: messages.badFilter("a*b") }],
    ["a bad annotation filter", { branchFrom: "db", cloneOptions: { annotationFilters: ["x!"] } }, { property: "cloneOptions.annotationFilters", reason: messages.badFilter("x!") }],
    ["a multicast MAC", { branchFrom: "db", cloneOptions: { newMacAddresses: { eth0: "03:00:00:00:00:01" } } }, { property: "cloneOptions.newMacAddresses", reason: messages.badMac("eth0", "03:00:00:00:00:01") }],
    ["a relative mount path", { image: "base", volumes: [{ volume: "data", at: "data" }] }, { property: "volumes[0].at", reason: messages.mountPathInvalid("data") }],
  ];
  it.each(table)("%s", (_what, news, expected) => {
    expect(failures(news)).toContainEqual(expected);
  });

  it("reports each failure once, and nothing for a valid request", () => {
    const f = failures({ branchFrom: "db", image: "base", memoryMb: 64 });
    expect(f.filter((x) => x.reason === messages.branchWithImage)).toHaveLength(1);
    expect(failures({ image: "base", memoryMb: 256, ports: [{ guestPort: 8080 }], volumes: [{ sizeMb: 16, at: "/data" }] })).toEqual([]);
    expect(failures({ branchFrom: "db", tags: ["x"], cloneOptions: { tagFilters: ["app*", "!app-secret"], newSmbiosSerial: "s1" } })).toEqual([]);
  });

  it("reports field values the API refuses under the input's name", () => {
    expect(failures({ image: "base", memoryMb: 8 }).map((f) => f.property)).toEqual(["memoryMb"]);
    expect(failures({ image: "base", name: "bad name!" }).map((f) => f.property)).toEqual(["name"]);
    expect(failures({ image: "base", ports: [{ guestPort: 70000 }] }).map((f) => f.property)).toEqual(["ports[0].guestPort"]);
    expect(failures({ image: "base", tags: ["no spaces"] }).map((f) => f.property)).toEqual(["tags[0]"]);
  });
});

describe("instance check: the provider's own inputs", () => {
  it("refuses an unknown state, waitForExit with a running state, bad timeouts", () => {
    expect(failures({ image: "base", state: "paused" })).toEqual([{ property: "state", reason: "'state' must be one of 'running', 'stopped', 'standby', not 'paused'" }]);
    expect(failures({ image: "base", waitForExit: true, state: "running" }).map((f) => f.property)).toEqual(["waitForExit"]);
    expect(failures({ image: "base", waitForExit: true })).toEqual([]);
    expect(failures({ image: "base", timeouts: { create: "later" } }).map((f) => f.property)).toEqual(["timeouts.create"]);
  });

  it("refuses a readiness check on a port that is not published", () => {
    expect(failures({ image: "base", readiness: { guestPort: 8080 } }).map((f) => f.property)).toEqual(["readiness.guestPort"]);
    expect(failures({ image: "base", ports: [{ guestPort: 8080 }], readiness: { guestPort: 8080, path: "/" } })).toEqual([]);
    expect(failures({ image: "base", ports: [{ guestPort: 8080 }], readiness: { guestPort: 8080, path: "health" } }).map((f) => f.property)).toEqual(["readiness.path"]);
    // A branch publishes its source's ports: not known here, so not checked.
    expect(failures({ branchFrom: "db", readiness: { guestPort: 8080 } })).toEqual([]);
  });

  it("refuses volumes on a branch", () => {
    expect(failures({ branchFrom: "db", volumes: [{ volume: "v", at: "/v" }] }).map((f) => f.property)).toEqual(["volumes"]);
    expect(failures({ branchFrom: "db", volumes: [] })).toEqual([]);
  });
});

describe("instance check: unknown values during preview", () => {
  it("lets unknown values through, wherever they are and whatever type they stand for", () => {
    expect(failures({ image: UNKNOWN, memoryMb: UNKNOWN, name: UNKNOWN })).toEqual([]);
    expect(failures({ branchFrom: UNKNOWN, tags: [UNKNOWN, "a"], annotations: { k: UNKNOWN } })).toEqual([]);
    expect(failures({ image: "base", volumes: [{ volume: UNKNOWN, at: "/data" }, UNKNOWN], ports: UNKNOWN, env: UNKNOWN })).toEqual([]);
    expect(failures({ image: "base", volumes: [{ volume: "v", at: UNKNOWN, sizeMb: UNKNOWN }], args: UNKNOWN })).toEqual([]);
    expect(failures({ branchFrom: "db", cloneOptions: UNKNOWN, readiness: { guestPort: UNKNOWN } })).toEqual([]);
  });

  it("still refuses combinations whose values are unknown", () => {
    expect(failures({ branchFrom: UNKNOWN, image: "base" })).toContainEqual({ property: "image", reason: messages.branchWithImage });
    expect(failures({ branchFrom: "db", memoryMb: UNKNOWN })).toContainEqual({ property: "memoryMb", reason: messages.branchInherited("memory_mb") });
    expect(failures({ template: UNKNOWN, branchFrom: UNKNOWN })).toContainEqual({ property: "branchFrom", reason: messages.branchWithTemplate });
  });
});

describe("instance check: inputs", () => {
  it("fills in an auto-name once and keeps it", () => {
    const first = check({ image: "base" });
    expect(first.inputs.name).toMatch(/^vm-[0-9a-f]{7}$/);
    expect(first.inputs.autoNamed).toBe(true);
    const again = check({ image: "base", memoryMb: 256 }, first.inputs as Record<string, unknown>);
    expect(again.inputs.name).toBe(first.inputs.name);
  });

  it("drops nulls (JavaScript programs) and the engine's __provider stays out of validation", () => {
    const r = check({ image: "base", memoryMb: null, __provider: "serialized" });
    expect(r.failures).toEqual([]);
    expect("memoryMb" in r.inputs).toBe(false);
  });
});

describe("API field paths map to input properties", () => {
  it.each([
    ["memory_mb", "memoryMb"],
    ["branch_from.name", "branchFrom"],
    ["template.uuid", "template"],
    ["volumes[2].size_mb", "volumes[2].sizeMb"],
    ["volumes[0].name", "volumes[0].volume"],
    ["ports[1].guest_port", "ports[1].guestPort"],
    ["tag_filters", "cloneOptions.tagFilters"],
    ["new_smbios_serial", "cloneOptions.newSmbiosSerial"],
    ["delete_lock", "deleteLock"],
  ])("%s → %s", (field, property) => {
    expect(inputPropertyOf(field)).toBe(property);
  });
});
