// Every refused combination of `POST /v1/instances` answers 400 with the exact message of the
// table in docs/api.md ("POST /v1/instances") naming the field, and creates nothing: no
// instance or volume row, no disk file. Also the lookups behind a create (image, template, branch
// source: 404s; a template source: 409) and, as the positive side, filters and MACs that are
// accepted. Real HTTP against `vmbranch serve`; no VM is booted.
import { api, expectError, instanceOf, observe, raw, useBackend, type Observed } from "./support";

jest.setTimeout(60_000);
const backend = useBackend();

let baseline: Observed;
beforeAll(async () => {
  // A stopped source to branch from, so refusals are about the request, not a missing source.
  instanceOf(await api(backend(), "POST", "/v1/instances", { name: "src", image: "base", autostart: false, tags: ["app"] }));
  baseline = await observe(backend());
});
afterEach(async () => {
  // Whatever a test asked for, a refused create leaves the service exactly as it was.
  expect(await observe(backend())).toEqual(baseline);
});

const branch = { branch_from: { name: "src" } };
const template = { template: { name: "tpl" } };

describe("combination refusals (HTTP 400, exact messages)", () => {
  it.each([
    ["branch_from with image", { ...branch, image: "base" }, "image", "Cannot specify 'image' when 'branch_from' is set"],
    ["branch_from with template", { ...branch, ...template }, "branch_from", "Cannot specify 'branch_from' when creating an instance from a template"],
    ["branch_from with args", { ...branch, args: ["sh"] }, "args", "Cannot specify 'args' when branching from an existing instance"],
    ["branch_from with env", { ...branch, env: { A: "1" } }, "env", "Cannot specify 'env' when branching from an existing instance"],
    ["branch_from with memory_mb", { ...branch, memory_mb: 256 }, "memory_mb", "Cannot specify 'memory_mb' when branching from an existing instance"],
    ["branch_from with vcpus", { ...branch, vcpus: 2 }, "vcpus", "Cannot specify 'vcpus' when branching from an existing instance"],
    ["template with image", { ...template, image: "base" }, "image", "Cannot specify 'image' when creating an instance from a template"],
    ["template with args", { ...template, args: [] }, "args", "Cannot specify 'args' when creating an instance from a template"],
    ["template with env", { ...template, env: {} }, "env", "Cannot specify 'env' when creating an instance from a template"],
    ["template with memory_mb", { ...template, memory_mb: 64 }, "memory_mb", "Cannot specify 'memory_mb' when creating an instance from a template"],
    ["template with vcpus", { ...template, vcpus: 1 }, "vcpus", "Cannot specify 'vcpus' when creating an instance from a template"],
    ["no image, template, branch_from or checkpoint", { name: "nothing" }, "image", "Missing 'image': set 'image', 'template', 'branch_from' or 'checkpoint'"],
    ["count without branch_from", { image: "base", count: 2 }, "count", "Cannot specify 'count' without 'branch_from'"],
    ["new_smbios_serial for several branches", { ...branch, count: 2, new_smbios_serial: "s" }, "new_smbios_serial", "Cannot specify 'new_smbios_serial' when 'count' is above 1: every branch would get the same"],
    ["new_mac_addresses for several branches", { ...branch, count: 2, new_mac_addresses: { eth0: "02:00:00:00:00:01" } }, "new_mac_addresses", "Cannot specify 'new_mac_addresses' when 'count' is above 1: every branch would get the same"],
    ["a fixed host port for several branches", { ...branch, count: 2, ports: [{ guest_port: 80, host_port: 18080 }] }, "ports", "Cannot specify a 'host_port' when 'count' is above 1: every branch would need the same host port"],
    ["a name too long for its count", { ...branch, name: "n".repeat(61), count: 10 }, "name", `Name '${"n".repeat(61)}' is too long for 10 branches: '${"n".repeat(61)}-10' would exceed 63 characters`],
  ])("%s", async (_what, body, field, message) => {
    const res = await raw(backend(), "POST", "/v1/instances", { body: { autostart: false, ...body } });
    const env = expectError(res, 400, "VALIDATION_FAILED", message, field);
    expect(env.errors.find((e) => e.message === message)?.field).toBe(field);
  });

  it("reports every problem of one request, each with its field", async () => {
    const res = await raw(backend(), "POST", "/v1/instances", { body: { ...branch, image: "base", args: ["x"], env: { A: "b" }, memory_mb: 64, vcpus: 2 } });
    const env = expectError(res, 400, "VALIDATION_FAILED");
    expect(env.errors.map((e) => [e.field, e.message])).toEqual([
      ["image", "Cannot specify 'image' when 'branch_from' is set"],
      ["args", "Cannot specify 'args' when branching from an existing instance"],
      ["env", "Cannot specify 'env' when branching from an existing instance"],
      ["memory_mb", "Cannot specify 'memory_mb' when branching from an existing instance"],
      ["vcpus", "Cannot specify 'vcpus' when branching from an existing instance"],
    ]);
  });

  it.each([
    ["tag_filters", ["app"]],
    ["annotation_filters", ["owner*"]],
    ["new_mac_addresses", { eth0: "02:00:00:00:00:01" }],
    ["new_smbios_serial", "serial-1"],
  ])("refuses the clone option %s without a source", async (field, value) => {
    const res = await raw(backend(), "POST", "/v1/instances", { body: { image: "base", autostart: false, [field]: value } });
    expectError(res, 400, "VALIDATION_FAILED", `Cannot specify '${field}' without 'branch_from', 'template' or 'checkpoint'`, field);
  });
});

describe("clone filters and MAC addresses", () => {
  it.each([["a*b"], ["*a"], ["a!"], ["!!a"], ["a!b"], ["!a*b"], [""]])("refuses the filter %j for tags and annotations", async (filter) => {
    const message = `Invalid filter '${filter}': '*' is allowed only at the end and '!' only at the start`;
    for (const field of ["tag_filters", "annotation_filters"]) {
      const res = await raw(backend(), "POST", "/v1/instances", { body: { ...branch, autostart: false, [field]: ["ok", filter] } });
      expectError(res, 400, "VALIDATION_FAILED", message, field);
    }
  });

  it.each([
    ["multicast", "01:00:5e:00:00:01"],
    ["broadcast", "ff:ff:ff:ff:ff:ff"],
    ["five octets", "02:00:00:00:00"],
    ["not hex", "02:00:00:00:00:zz"],
    ["dashes", "02-00-00-00-00-01"],
  ])("refuses a %s MAC with the exact message", async (_what, mac) => {
    const res = await raw(backend(), "POST", "/v1/instances", { body: { ...branch, autostart: false, new_mac_addresses: { eth0: mac } } });
    expectError(res, 400, "VALIDATION_FAILED", `Invalid MAC address '${mac}' for interface 'eth0': expected a unicast address like 02:00:00:00:00:01`, "new_mac_addresses");
  });

  it("refuses a MAC for an interface the instance does not have", async () => {
    const res = await raw(backend(), "POST", "/v1/instances", { body: { ...branch, autostart: false, new_mac_addresses: { eth1: "02:00:00:00:00:01" } } });
    expectError(res, 400, "VALIDATION_FAILED", /Unknown interface 'eth1'/, "new_mac_addresses");
  });

  it("accepts valid filters and a unicast MAC (then fails only on the unknown source)", async () => {
    const res = await raw(backend(), "POST", "/v1/instances", {
      body: {
        branch_from: { name: "no-such-source" },
        tag_filters: ["*", "app*", "!secret", "!tmp-*"],
        annotation_filters: ["owner"],
        new_mac_addresses: { eth0: "02:AB:cd:00:00:01" },
        new_smbios_serial: "serial-1",
      },
    });
    expectError(res, 404, "INSTANCE_NOT_FOUND", "Instance 'no-such-source' not found", "branch_from");
  });
});

describe("sources that do not exist or cannot be used", () => {
  it("answers 404 IMAGE_NOT_FOUND for an unknown image", async () => {
    const res = await raw(backend(), "POST", "/v1/instances", { body: { image: "no-such-image", autostart: false } });
    expectError(res, 404, "IMAGE_NOT_FOUND", /^Image 'no-such-image' not found/, "image");
  });

  it("answers 404 TEMPLATE_NOT_FOUND for an unknown template, also when an instance has that name", async () => {
    expectError(await raw(backend(), "POST", "/v1/instances", { body: { template: { name: "no-such-tpl" } } }), 404, "TEMPLATE_NOT_FOUND");
    expectError(await raw(backend(), "POST", "/v1/instances", { body: { template: { name: "src" } } }), 404, "TEMPLATE_NOT_FOUND");
  });

  it("answers 404 for a branch source given by an unknown uuid", async () => {
    const res = await raw(backend(), "POST", "/v1/instances", { body: { branch_from: { uuid: "0b0b0b0b-0000-4000-8000-000000000000" } } });
    expectError(res, 404, "INSTANCE_NOT_FOUND");
  });

  it.each([
    ["both uuid and name", { uuid: "0b0b0b0b-0000-4000-8000-000000000000", name: "src" }],
    ["neither", {}],
    ["a uuid that is not one", { uuid: "src" }],
  ])("refuses a branch_from reference with %s", async (_what, ref) => {
    expectError(await raw(backend(), "POST", "/v1/instances", { body: { branch_from: ref } }), 400, "VALIDATION_FAILED");
  });

  it("refuses unknown fields and names that are reserved words or UUID-shaped", async () => {
    expectError(await raw(backend(), "POST", "/v1/instances", { body: { image: "base", colour: "red" } }), 400, "VALIDATION_FAILED", "Unknown field 'colour'", "colour");
    for (const name of ["templates", "clone", "0b0b0b0b-0000-4000-8000-000000000000", "-dash", "a".repeat(64), "sp ace"])
      expectError(await raw(backend(), "POST", "/v1/instances", { body: { image: "base", name, autostart: false } }), 400, "VALIDATION_FAILED", undefined, "name");
  });

  it("refuses a name that is taken with 409 NAME_TAKEN", async () => {
    expectError(await raw(backend(), "POST", "/v1/instances", { body: { image: "base", name: "src", autostart: false } }), 409, "NAME_TAKEN", "An instance named 'src' already exists", "name");
  });
});

describe("branches in one request (count)", () => {
  it("makes count branches of the source, named <name>-1 …, in one answer", async () => {
    const res = await api(backend(), "POST", "/v1/instances", { ...branch, name: "batch", count: 3, autostart: false });
    expect(res.status).toBe(201);
    const made = res.body.data.instances as { name: string; uuid: string; state: string; branch: { source: { name: string } } }[];
    expect(made.map((i) => [i.name, i.state, i.branch.source.name])).toEqual([1, 2, 3].map((n) => [`batch-${n}`, "stopped", "src"]));
    expect(new Set(made.map((i) => i.uuid)).size).toBe(3);
    for (const i of made) expect((await api(backend(), "DELETE", `/v1/instances/${i.name}`)).status).toBe(200);
  });

  it("makes as many new names as branches when the request names none", async () => {
    const res = await api(backend(), "POST", "/v1/instances", { ...branch, count: 4, autostart: false });
    expect(res.status).toBe(201);
    const names = (res.body.data.instances as { name: string }[]).map((i) => i.name);
    expect(new Set(names).size).toBe(4);
    for (const n of names) expect(n).toMatch(/^src-branch-/);
    for (const n of names) expect((await api(backend(), "DELETE", `/v1/instances/${n}`)).status).toBe(200);
  });

  it("refuses the whole batch with 409 NAME_TAKEN when one of its names is taken, and makes none", async () => {
    instanceOf(await api(backend(), "POST", "/v1/instances", { name: "taken-2", image: "base", autostart: false }));
    const res = await raw(backend(), "POST", "/v1/instances", { body: { ...branch, name: "taken", count: 3, autostart: false } });
    expectError(res, 409, "NAME_TAKEN", "An instance named 'taken-2' already exists", "name");
    expect((await raw(backend(), "GET", "/v1/instances/taken-1")).status).toBe(404);
    expect((await api(backend(), "DELETE", "/v1/instances/taken-2")).status).toBe(200);
  });

  it("refuses a count above 32", async () => {
    const res = await raw(backend(), "POST", "/v1/instances", { body: { ...branch, count: 33, autostart: false } });
    expect(res.status).toBe(400);
    expect((res.body as { errors: { field: string }[] }).errors[0]!.field).toBe("count");
  });
});

describe("branching from an instance template", () => {
  let tplBaseline: Observed;
  beforeAll(async () => {
    const b = backend();
    instanceOf(await api(b, "POST", "/v1/instances", { name: "to-freeze", image: "base", autostart: false }));
    const res = await api(b, "POST", "/v1/instances/templates", { name: "to-freeze" });
    expect(res.status).toBe(201);
    tplBaseline = await observe(b);
    baseline = tplBaseline;
  });
  afterAll(async () => {
    expect(await observe(backend())).toEqual(tplBaseline);
    expect((await api(backend(), "DELETE", "/v1/instances/templates/to-freeze")).status).toBe(200);
  });

  it("answers 409 \"Cannot branch from VM in state 'template'\"", async () => {
    const res = await raw(backend(), "POST", "/v1/instances", { body: { branch_from: { name: "to-freeze" } } });
    expectError(res, 409, "BRANCH_INVALID_STATE", "Cannot branch from VM in state 'template'");
    expect(await observe(backend())).toEqual(tplBaseline);
  });
});

