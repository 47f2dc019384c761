// The request rules of branching and clone options (docs/api.md, "POST /v1/instances" and
// "Branching"), as the API and the provider's check both apply them.
import { InstanceCreateRequestSchema, applyFilters, describeIssues, isValidFilter } from "../../sdk/schemas";
import { cloneIdentity, cloneLabels } from "../../backend/core/clone-identity";

function messagesOf(body: unknown): string[] {
  const r = InstanceCreateRequestSchema.safeParse(body);
  return r.success ? [] : describeIssues(r.error).map((i) => i.message);
}

describe("branch request rules", () => {
  it("refuses image with branch_from, with the reference's message", () => {
    expect(messagesOf({ branch_from: { name: "db" }, image: "base" })).toEqual(["Cannot specify 'image' when 'branch_from' is set"]);
  });
  it("refuses template with branch_from", () => {
    expect(messagesOf({ branch_from: { name: "db" }, template: { name: "t" } })).toContain(
      "Cannot specify 'branch_from' when creating an instance from a template",
    );
  });
  it.each(["args", "env", "memory_mb", "vcpus"])("refuses inherited field %s", (field) => {
    const value = { args: ["x"], env: { A: "1" }, memory_mb: 256, vcpus: 2 }[field];
    expect(messagesOf({ branch_from: { uuid: "3f1c2a44-1111-4222-8333-444455556666" }, [field]: value })).toEqual([
      `Cannot specify '${field}' when branching from an existing instance`,
    ]);
  });
  it("accepts a branch with its own name, tags and clone options", () => {
    expect(messagesOf({ branch_from: { name: "db" }, name: "db-2", tags: ["x"], tag_filters: ["*", "!secret*"], new_smbios_serial: "s1" })).toEqual([]);
  });
  it("refuses clone options without a source", () => {
    expect(messagesOf({ image: "base", tag_filters: ["*"] })).toEqual(["Cannot specify 'tag_filters' without 'branch_from', 'template' or 'checkpoint'"]);
  });
  it("loads a checkpoint with its own name, labels and clone options, and refuses what it inherits", () => {
    expect(messagesOf({ checkpoint: { name: "cp" }, name: "n", tags: ["x"], tag_filters: ["*"], new_smbios_serial: "s1", timeout_s: 30 })).toEqual([]);
    expect(messagesOf({ checkpoint: { name: "cp" }, image: "base", memory_mb: 256 })).toEqual([
      "Cannot specify 'image' when creating an instance from a checkpoint",
      "Cannot specify 'memory_mb' when creating an instance from a checkpoint",
    ]);
    expect(messagesOf({ checkpoint: { name: "cp" }, template: { name: "t" } })).toEqual(["Cannot specify 'template' when creating an instance from a checkpoint"]);
    expect(messagesOf({ checkpoint: { name: "cp" }, branch_from: { name: "db" } })).toContain("Cannot specify 'branch_from' when creating an instance from a checkpoint");
  });
  it("refuses a wait for an instance that will not start", () => {
    expect(messagesOf({ image: "base", autostart: false, timeout_s: 10 })).toEqual(["Cannot specify 'timeout_s' when 'autostart' is false: there is no start to wait for"]);
  });
  it("refuses a multicast MAC", () => {
    expect(messagesOf({ branch_from: { name: "db" }, new_mac_addresses: { eth0: "01:00:00:00:00:01" } })[0]).toMatch(/Invalid MAC address '01:00:00:00:00:01'/);
  });
  it("requires a source of some kind", () => {
    expect(messagesOf({ name: "x" })).toEqual(["Missing 'image': set 'image', 'template', 'branch_from' or 'checkpoint'"]);
  });
});

describe("KubeVirt filters", () => {
  it.each([["*", true], ["some/key*", true], ["!some/key", true], ["!some/*", true], ["some/*/key", false], ["*/key", false], ["key!", false], ["some/!key", false], ["", false], ["!!a", false]])(
    "filter %p valid=%p",
    (f, valid) => expect(isValidFilter(f as string)).toBe(valid),
  );
  it("copies everything when unset, and negation wins over inclusion", () => {
    const keys = ["app", "team/a", "team/secret", "other"];
    expect(applyFilters(keys, undefined)).toEqual(keys);
    expect(applyFilters(keys, ["team/*", "!team/secret"])).toEqual(["team/a"]);
    expect(applyFilters(keys, ["*", "!team/*"])).toEqual(["app", "other"]);
    expect(applyFilters(keys, [])).toEqual([]);
  });
  it("anchors '*' at the start of the key (no match in the middle)", () => {
    expect(applyFilters(["xa", "ab"], ["a*"])).toEqual(["ab"]);
  });
  it("a branch gets the filtered source labels plus its own", () => {
    const out = cloneLabels({ tags: ["prod", "db"], annotations: { "team/x": "1", "secret/y": "2" } }, {
      tags: ["branch"], annotation_filters: ["*", "!secret/*"], tag_filters: ["db"],
    });
    expect(out).toEqual({ tags: ["db", "branch"], annotations: { "team/x": "1" } });
  });
  it("keeps identity warm, renews it cold, and honours requested values", () => {
    const src = { mac: "02:00:00:00:00:01", smbiosSerial: "s" };
    expect(cloneIdentity(src, {}, true)).toEqual(src);
    const cold = cloneIdentity(src, {}, false);
    expect(cold.mac).not.toBe(src.mac);
    expect(cold.smbiosSerial).not.toBe(src.smbiosSerial);
    expect(cloneIdentity(src, { new_mac_addresses: { eth0: "02:AA:00:00:00:09" }, new_smbios_serial: "n" }, false)).toEqual({ mac: "02:aa:00:00:00:09", smbiosSerial: "n" });
    expect(() => cloneIdentity(src, { new_mac_addresses: { eth1: "02:00:00:00:00:02" } }, false)).toThrow("Unknown interface 'eth1'");
  });
});
