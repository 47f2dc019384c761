// The schema-based plugin's pure parts: the mapping of the engine's requests (logical names,
// configuration variables, customTimeouts, detailed diffs), seeded auto-names, the schema against
// the impl's field tables, partial-state errors as gRPC details, and the gRPC handlers of check
// and diff called with real protobuf requests (no engine, no server).
import { readFileSync } from "node:fs";
import path from "node:path";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import * as statusproto from "@pulumi/pulumi/proto/status_pb";
import { autoName } from "vmbranch/provider/impl/naming";
import { diffInstanceDetail } from "vmbranch/provider/impl/instance-diff";
import { checkInputs, configReader, detailedDiff, logicalName, timeoutMs, withoutSecrets, withSecretsOf } from "vmbranch/provider/plugin/mapping";
import type { Resource } from "@pulumi/pulumi";
import { constructOptions } from "vmbranch/provider/plugin/construct";
import { deserializeInputs, engineAddress, valueOf, withRuntime } from "vmbranch/provider/plugin/pulumi-runtime";
import { RESOURCE_IMPLS, typeOfUrn } from "vmbranch/provider/plugin/resources";
import { COMPONENTS, FUNCTIONS, packageSchema, RESOURCES } from "vmbranch/provider/plugin/schema";
import { GOLDEN_IMAGE, GOLDEN_IMAGE_OUTPUTS } from "vmbranch/provider/plugin/components";
import { InstanceCreateRequestSchema, PortSpecSchema, wireDescription } from "vmbranch/sdk";
import { grpcError, providerService } from "vmbranch/provider/plugin/server";

const URN = "urn:pulumi:dev::proj::vmbranch:index:Instance::web";
const REPO = path.join(__dirname, "..", "..");

test("the logical name and type come from the URN, also below a component", () => {
  expect(logicalName(URN)).toBe("web");
  expect(typeOfUrn(URN)).toBe("vmbranch:index:Instance");
  const nested = "urn:pulumi:dev::proj::vmbranch:index:GoldenImage$vmbranch:index:VolumeClone::site-0";
  expect(logicalName(nested)).toBe("site-0");
  expect(typeOfUrn(nested)).toBe("vmbranch:index:VolumeClone");
});

test("check gives the impl the logical name as the auto-name's prefix, unless one is there", () => {
  expect(checkInputs(URN, { image: "base" })).toEqual({ image: "base", namePrefix: "web" });
  expect(checkInputs(URN, { namePrefix: "kept" })).toEqual({ namePrefix: "kept" });
});

test("Configure's variables are read under the keys the impl asks for", () => {
  const reader = configReader(new Map([["vmbranch:config:endpoint", "http://h:1"], ["vmbranch:config:token", "t"]]));
  expect(reader.get("vmbranch:endpoint")).toBe("http://h:1");
  expect(reader.get("vmbranch:token")).toBe("t");
  expect(configReader({}).get("vmbranch:endpoint")).toBeUndefined();
});

const SECRET = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });

test("secrets: the impl reads them unwrapped; an output is secret where its input was, objects field by field, arrays whole", () => {
  const ins = { image: "base", env: { A: SECRET("s"), B: "b" }, args: ["sh", SECRET("x")], token: SECRET("t") };
  expect(withoutSecrets(ins)).toEqual({ image: "base", env: { A: "s", B: "b" }, args: ["sh", "x"], token: "t" });
  const outs = { image: "base", env: { A: "s", B: "b" }, args: ["sh", "x"], token: "t", uuid: "u" };
  expect(withSecretsOf(outs, ins)).toEqual({ image: "base", env: { A: SECRET("s"), B: "b" }, args: SECRET(["sh", "x"]), token: SECRET("t"), uuid: "u" });
  // Already secret stays as it is; no input, no mark.
  expect(withSecretsOf({ token: SECRET("t") }, { token: SECRET("t") })).toEqual({ token: SECRET("t") });
  expect(withSecretsOf({ uuid: "u" }, {})).toEqual({ uuid: "u" });
});

test("Construct: the component's resource options come from the request as Pulumi's own construct reads them", async () => {
  const req = new provproto.ConstructRequest()
    .setParent("urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev")
    .setProtect(true)
    .setDependenciesList(["urn:pulumi:dev::p::vmbranch:index:Volume::data"])
    .setIgnorechangesList(["tags"])
    .setRetainondelete(true)
    .setCustomtimeouts(new provproto.ConstructRequest.CustomTimeouts().setCreate("10m"));
  req.getProvidersMap().set("vmbranch", "urn:pulumi:dev::p::pulumi:providers:vmbranch::east::0123");
  req.addAliases(new (require("@pulumi/pulumi/proto/alias_pb").Alias)().setUrn("urn:pulumi:dev::p::vmbranch:index:GoldenImage::old"));
  const opts = constructOptions(req);
  expect(opts.protect).toBe(true);
  expect(opts.retainOnDelete).toBe(true);
  expect(opts.ignoreChanges).toEqual(["tags"]);
  expect(opts.customTimeouts).toEqual({ create: "10m", update: undefined, delete: undefined });
  expect(opts.aliases).toEqual(["urn:pulumi:dev::p::vmbranch:index:GoldenImage::old"]);
  expect(await valueOf(opts.parent!.urn)).toBe("urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev");
  expect(await Promise.all((opts.dependsOn as Resource[]).map((d) => valueOf(d.urn)))).toEqual(["urn:pulumi:dev::p::vmbranch:index:Volume::data"]);
  const providers = opts.providers as Record<string, Resource>;
  expect(await valueOf(providers.vmbranch!.urn)).toBe("urn:pulumi:dev::p::pulumi:providers:vmbranch::east");
});

test("the parts of Pulumi's runtime Construct runs on are where this Pulumi keeps them", () => {
  // They are internal to @pulumi/pulumi: this fails when an upgrade moves one.
  expect([typeof withRuntime, typeof deserializeInputs, typeof valueOf].every((t) => t === "function")).toBe(true);
  expect(typeof require("@pulumi/pulumi/runtime/settings").awaitFeatureSupport).toBe("function");
  expect(typeof require("@pulumi/pulumi/runtime/settings").waitForRPCs).toBe("function");
  expect(typeof require("@pulumi/pulumi/runtime/state").withLocalStorage).toBe("function");
  expect(typeof require("@pulumi/pulumi/provider/server").deserializeInputs).toBe("function");
  expect(engineAddress(["-v=9", "--logtostderr", "--tracing", "x", "127.0.0.1:4000"])).toBe("127.0.0.1:4000");
  expect(engineAddress([])).toBeUndefined();
});

test("customTimeouts arrive in seconds; none given is 0", () => {
  expect(timeoutMs(15)).toBe(15_000);
  expect(timeoutMs(0.5)).toBe(500);
  expect(timeoutMs(0)).toBeUndefined();
  expect(timeoutMs(undefined)).toBeUndefined();
});

test("the detailed diff names additions, deletions and updates, replacing where the impl replaces", () => {
  const detail = { changes: true, replaces: ["image", "memoryMb"], updates: ["tags", "annotations", "deleteLock"], deleteBeforeReplace: false };
  const olds = { image: "base", annotations: { a: "1" }, deleteLock: true };
  const news = { image: "other", memoryMb: 256, tags: ["x"] };
  expect(detailedDiff(detail, olds, news)).toEqual({
    image: "UPDATE_REPLACE",
    memoryMb: "ADD_REPLACE",
    tags: "ADD",
    annotations: "DELETE",
    deleteLock: "DELETE",
  });
  expect(detailedDiff({ changes: false, replaces: [], updates: [], deleteBeforeReplace: false }, olds, olds)).toEqual({});
});

test("a volume change that replaces is reported once, as a replacement", () => {
  const old = { name: "a", autoNamed: true, image: "base", state: "running", volumes: [{ volume: null, sizeMb: 10, at: "/c", readonly: false }], uuid: "u" };
  const detail = diffInstanceDetail(old, { name: "a", autoNamed: true, image: "base", volumes: [{ sizeMb: 20, at: "/c" }] });
  expect(detail.replaces).toEqual(["volumes"]);
  expect(detail.updates).toEqual([]);
});

test("auto-names are seeded: the same seed gives the same name, another seed another", () => {
  const seed = Uint8Array.from([1, 2, 3, 4]);
  expect(autoName("web", seed)).toBe(autoName("web", Uint8Array.from([1, 2, 3, 4])));
  expect(autoName("web", seed)).toMatch(/^web-[0-9a-f]{7}$/);
  expect(autoName("web", seed)).not.toBe(autoName("web", Uint8Array.from([4, 3, 2, 1])));
  expect(autoName("db", seed)).not.toBe(autoName("web", seed).replace(/^web/, "db"));
});

test("the checked-in schema is the one the generator makes from the zod schemas (else run `npm run schema`)", () => {
  const checkedIn = JSON.parse(readFileSync(path.join(REPO, "provider", "plugin", "schema.json"), "utf8"));
  const version = (JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string }).version;
  expect(checkedIn).toEqual(packageSchema(version));
});

test("the schema's descriptions come from the zod schemas where the API has the field", () => {
  const schema = packageSchema("1.2.3") as { resources: Record<string, { inputProperties: Record<string, { description: string }>; properties: Record<string, { description?: string }> }>; types: Record<string, { properties: Record<string, { description?: string }> }> };
  const instance = schema.resources["vmbranch:index:Instance"]!;
  expect(instance.inputProperties.memoryMb?.description).toContain(wireDescription(InstanceCreateRequestSchema.shape.memory_mb)!);
  expect(instance.inputProperties.memoryMb?.description).toContain("Changing it replaces the resource.");
  expect(instance.inputProperties.tags?.description).toContain("Changes are applied in place.");
  expect(schema.types["vmbranch:index:Port"]?.properties.hostPort?.description).toBe(wireDescription(PortSpecSchema.shape.host_port));
  // Every property, of every resource and type, is documented.
  for (const [token, r] of Object.entries(schema.resources)) for (const [k, p] of Object.entries(r.properties)) expect([token, k, typeof p.description]).toEqual([token, k, "string"]);
  for (const [token, t] of Object.entries(schema.types)) for (const [k, p] of Object.entries(t.properties)) expect([token, k, typeof p.description]).toEqual([token, k, "string"]);
});

test("the schema offers exactly the inputs the impl reads, for every resource the plugin serves", () => {
  expect(Object.keys(RESOURCES).sort()).toEqual(Object.keys(RESOURCE_IMPLS).sort());
  for (const [token, spec] of Object.entries(RESOURCES)) {
    expect([token, Object.keys(spec.inputs).sort()]).toEqual([token, [...new Set([...spec.replaces, ...spec.updates])].sort()]);
  }
  const schema = packageSchema("1.2.3") as { name: string; version: string; resources: Record<string, { properties: object; inputProperties: object; description: string; isComponent?: boolean }>; functions: object; config: { variables: Record<string, { secret?: boolean }> } };
  expect(schema.name).toBe("vmbranch");
  expect(schema.version).toBe("1.2.3");
  expect(schema.config.variables.token?.secret).toBe(true);
  expect(Object.keys(schema.functions).sort()).toEqual(Object.keys(FUNCTIONS).sort());
  expect(Object.keys(schema.resources).sort()).toEqual([...Object.keys(RESOURCES), ...Object.keys(COMPONENTS)].sort());
  for (const [token, r] of Object.entries(schema.resources)) {
    // The registry's sections: examples (a YAML program) and import (not of a component: its resources are imported).
    if (r.isComponent) expect(r.description).not.toContain("pulumi import");
    else expect(r.description).toContain(`$ pulumi import ${token} `);
    expect(r.description).toMatch(/\{\{% examples %\}\}\n## Example Usage\n\{\{% example %\}\}\n### .+\n\n```yaml\nresources:\n[\s\S]+```\n\{\{% \/example %\}\}\n\{\{% \/examples %\}\}/);
  }
  // Every type a property refers to is defined.
  const text = JSON.stringify(schema);
  for (const m of text.matchAll(/#\/types\/(vmbranch:index:\w+)/g)) expect(Object.keys((schema as unknown as { types: object }).types)).toContain(m[1]);
  // And every resource a component's output refers to.
  for (const m of text.matchAll(/#\/resources\/(vmbranch:index:\w+)/g)) expect(Object.keys(RESOURCES)).toContain(m[1]);
});

test("GoldenImage: the schema's outputs are the ones Construct answers with; its job and instances take the Instance's inputs of the same names", () => {
  const spec = COMPONENTS[GOLDEN_IMAGE]!;
  expect(Object.keys(spec.outputs).sort()).toEqual([...GOLDEN_IMAGE_OUTPUTS].sort());
  expect([...spec.required].sort()).toEqual([...GOLDEN_IMAGE_OUTPUTS].sort());
  const schema = packageSchema("1.2.3") as { types: Record<string, { properties: Record<string, { description: string }> }> };
  const job = schema.types["vmbranch:index:GoldenImageJob"]!.properties;
  expect(Object.keys(job).sort()).toEqual(["args", "env", "image", "memoryMb", "mountAt", "timeouts", "vcpus"]);
  expect(job.args!.description).toBe(RESOURCES["vmbranch:index:Instance"]!.inputs.args!.description);
  expect(spec.inputs.clones!.plain).toBe(true);
});

test("an error carrying an id becomes a partial create: the id and outputs travel as ErrorResourceInitFailed", () => {
  const err = Object.assign(new Error("did not become running within 15s"), { id: "u-1", properties: { name: "a", n: 1 }, reasons: ["timeout"] });
  const status = grpcError(err);
  expect(status.details).toBe("did not become running within 15s");
  const bin = status.metadata.get("grpc-status-details-bin")[0] as Buffer;
  const detail = provproto.ErrorResourceInitFailed.deserializeBinary(statusproto.Status.deserializeBinary(bin).getDetailsList()[0]!.getValue_asU8());
  expect(detail.getId()).toBe("u-1");
  expect(detail.getProperties()?.toJavaScript()).toEqual({ name: "a", n: 1 });
  expect(detail.getReasonsList()).toEqual(["timeout"]);
  expect(grpcError(new Error("plain")).metadata.get("grpc-status-details-bin")).toEqual([]);
});

// Calls a unary handler of the service as gRPC would.
function call<Req, Res>(handler: unknown, request: Req): Promise<Res> {
  return new Promise((resolve, reject) =>
    (handler as (c: { request: Req }, cb: (e: unknown, v: Res) => void) => void)({ request }, (e, v) => (e ? reject(e) : resolve(v))),
  );
}

describe("the gRPC handlers", () => {
  const saved = process.env.VMBRANCH_TOKEN;
  beforeAll(() => {
    process.env.VMBRANCH_TOKEN = "unit-token"; // check reports a missing token otherwise
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.VMBRANCH_TOKEN;
    else process.env.VMBRANCH_TOKEN = saved;
  });
  const service = providerService("9.9.9");

  const check = (news: object, seed: number[]) => {
    const req = new provproto.CheckRequest().setUrn(URN).setOlds(structproto.Struct.fromJavaScript({})).setNews(structproto.Struct.fromJavaScript(news as never)).setRandomseed(Uint8Array.from(seed));
    return call<provproto.CheckRequest, provproto.CheckResponse>(service.check, req);
  };

  test("check names a resource from the engine's seed and reports the API's refusals", async () => {
    const a = await check({ image: "base" }, [7, 7, 7]);
    const b = await check({ image: "base" }, [7, 7, 7]);
    const name = a.getInputs()?.toJavaScript().name;
    expect(name).toMatch(/^web-[0-9a-f]{7}$/);
    expect(b.getInputs()?.toJavaScript().name).toBe(name);
    expect(a.getFailuresList()).toEqual([]);
    const bad = await check({ image: "base", branchFrom: "x" }, [1]);
    expect(bad.getFailuresList().map((f) => f.getReason())).toContain("Cannot specify 'image' when 'branch_from' is set");
  });

  test("diff answers with a detailed diff and the replacements", async () => {
    const olds = { name: "web-1", autoNamed: true, image: "base", tags: ["a"], memoryMb: 128, state: "running", uuid: "u" };
    const req = new provproto.DiffRequest()
      .setUrn(URN)
      .setId("u")
      .setOlds(structproto.Struct.fromJavaScript(olds))
      .setOldInputs(structproto.Struct.fromJavaScript({ name: "web-1", autoNamed: true, image: "base", tags: ["a"] }))
      .setNews(structproto.Struct.fromJavaScript({ name: "web-1", autoNamed: true, image: "base", tags: ["b"], memoryMb: 256 }));
    const resp = await call<provproto.DiffRequest, provproto.DiffResponse>(service.diff, req);
    expect(resp.getChanges()).toBe(provproto.DiffResponse.DiffChanges.DIFF_SOME);
    expect(resp.getReplacesList()).toEqual(["memoryMb"]);
    expect(resp.getDeletebeforereplace()).toBe(false);
    expect(resp.getHasdetaileddiff()).toBe(true);
    const kinds = Object.fromEntries(resp.getDetaileddiffMap().getEntryList().map(([k, v]) => [k, (v as unknown as unknown[])[0]]));
    expect(kinds).toEqual({ tags: provproto.PropertyDiff.Kind.UPDATE, memoryMb: provproto.PropertyDiff.Kind.ADD_REPLACE });
  });

  test("check reads a secret input unwrapped and answers with it marked secret again", async () => {
    const resp = await check({ image: "base", env: { PASSWORD: SECRET("hunter2") } }, [3]);
    const inputs = resp.getInputs()?.toJavaScript() as Record<string, unknown>;
    expect(inputs.env).toEqual({ PASSWORD: SECRET("hunter2") });
    expect(inputs.image).toBe("base");
  });

  test("Construct of a type the package does not have is refused", async () => {
    const req = new provproto.ConstructRequest().setType("vmbranch:index:Nope").setName("x");
    await expect(call(service.construct, req)).rejects.toMatchObject({ details: expect.stringContaining("unknown component type 'vmbranch:index:Nope' (the package has vmbranch:index:GoldenImage)") });
    // Without the engine's address (the engine always passes it) nothing can be registered.
    await expect(call(service.construct, req.setType("vmbranch:index:GoldenImage"))).rejects.toMatchObject({ details: expect.stringContaining("needs the engine's address") });
  });

  test("an unknown resource type is refused with the package's types", async () => {
    const req = new provproto.CheckRequest().setUrn("urn:pulumi:dev::proj::vmbranch:index:Nope::x").setNews(structproto.Struct.fromJavaScript({}));
    await expect(call(service.check, req)).rejects.toMatchObject({ details: expect.stringContaining("unknown resource type 'vmbranch:index:Nope'") });
  });
});
