// The outputs each resource declares are the outputs its implementation returns: the dynamic
// resources' output lists (what `new Volume(...)` registers, so `volume.sizeMb` resolves) and the
// plugin schema's properties (what Pulumi YAML type-checks `${x.sizeMb}` against), against the
// props `read` returns from a fake server, for a lookup by id and for a refresh of a stored state;
// and the plugin's functions (`getVolume`, …) against what their lookups return.
import * as checkpoint from "vmbranch/provider/impl/checkpoint";
import * as connection from "vmbranch/provider/impl/connection";
import * as instance from "vmbranch/provider/impl/instance";
import * as volume from "vmbranch/provider/impl/volume";
import * as volumeClone from "vmbranch/provider/impl/volume-clone";
import * as volumeTemplate from "vmbranch/provider/impl/volume-template";
import { FUNCTION_IMPLS, RESOURCE_IMPLS } from "vmbranch/provider/plugin/resources";
import { FUNCTIONS, RESOURCES } from "vmbranch/provider/plugin/schema";
import { CHECKPOINT_OUTPUTS } from "vmbranch/provider/resources/checkpoint";
import { INSTANCE_COMPUTED_OUTPUTS } from "vmbranch/provider/resources/instance";
import { VOLUME_OUTPUTS } from "vmbranch/provider/resources/volume";
import { VOLUME_CLONE_OUTPUTS } from "vmbranch/provider/resources/volume-clone";
import { VOLUME_TEMPLATE_OUTPUTS } from "vmbranch/provider/resources/volume-template";
import { FakeApi, envelope, fakeInstance, fakeVolume } from "../helpers/fake-api";

type Impl = { read(id: string, props?: Record<string, unknown>): Promise<{ props?: object }> };

// State bookkeeping, never a declared output: the inputs the program gave (`managedInputs`) and
// the auto-name's prefix (`namePrefix`, an argument the dynamic resources pass for every resource).
const BOOKKEEPING = ["managedInputs", "namePrefix"];
// A Volume takes no `triggers`, yet its state holds `triggers: null` from the echo all volume-like
// resources share; kept so states stay as they are.
const VOLUME_STATE_ONLY = ["triggers"];
// The plugin leaves the output layout's version out of the typed surface.
const PLUGIN_STATE_ONLY = ["schemaVersion"];

const source = { uuid: "00000000-0000-4000-8000-00000000000a", name: "src" };
const clone = { source, progress: 100, started_at: "2026-01-01T00:00:00.000Z", finished_at: "2026-01-01T00:00:01.000Z", message: null };
const RESOURCES_UNDER_TEST: { type: string; impl: Impl; declared: readonly string[]; stateOnly: string[] }[] = [
  { type: "Instance", impl: instance, declared: INSTANCE_COMPUTED_OUTPUTS, stateOnly: [] },
  { type: "Volume", impl: volume, declared: VOLUME_OUTPUTS, stateOnly: VOLUME_STATE_ONLY },
  { type: "VolumeTemplate", impl: volumeTemplate, declared: VOLUME_TEMPLATE_OUTPUTS, stateOnly: [] },
  { type: "VolumeClone", impl: volumeClone, declared: VOLUME_CLONE_OUTPUTS, stateOnly: [] },
  { type: "Checkpoint", impl: checkpoint, declared: CHECKPOINT_OUTPUTS, stateOnly: [] },
];

let api: FakeApi;
beforeAll(async () => {
  api = await FakeApi.start({ token: "t" });
  const vol = fakeVolume({ name: "copy", clone, template: { uuid: source.uuid, name: "golden" } });
  api.route("GET", "/v1/volumes/templates/:id", { body: envelope("volumes", [fakeVolume({ name: "golden", state: "template", clone })]) });
  api.route("GET", "/v1/volumes/:id", { body: envelope("volumes", [vol]) });
  api.route("GET", "/v1/instances/checkpoints/:id", { body: envelope("instances", [fakeInstance({ name: "cp", state: "checkpoint" })]) });
  api.route("GET", "/v1/instances/:id", { body: envelope("instances", [fakeInstance()]) });
  connection.configure({ get: (k) => ({ "vmbranch:endpoint": api.url, "vmbranch:token": "t" })[k] });
});
afterAll(async () => {
  connection.resetConnection();
  await api.close();
});

/** Every key of the props `read` returns, looked up by id and refreshed from the state that lookup gave. */
async function returnedOutputs(impl: Impl): Promise<string[]> {
  const looked = (await impl.read("x")).props as Record<string, unknown>;
  expect(looked).toBeDefined();
  const refreshed = (await impl.read("x", { ...looked, namePrefix: "p", managedInputs: ["name"] })).props as Record<string, unknown>;
  return [...new Set([...Object.keys(looked), ...Object.keys(refreshed)])].sort();
}

const sorted = (keys: Iterable<string>) => [...new Set(keys)].sort();

describe.each(RESOURCES_UNDER_TEST)("$type", ({ type, impl, declared, stateOnly }) => {
  it("declares as a dynamic resource exactly the outputs its implementation returns", async () => {
    const returned = await returnedOutputs(impl);
    expect(sorted(declared)).toEqual(returned.filter((k) => !BOOKKEEPING.includes(k) && !stateOnly.includes(k)));
  });

  const token = `vmbranch:index:${type}`;
  if (RESOURCES[token]) {
    it("declares in the plugin's schema exactly the outputs its implementation returns", async () => {
      const spec = RESOURCES[token];
      const returned = await returnedOutputs(RESOURCE_IMPLS[token] as Impl);
      const schema = sorted([...Object.keys(spec?.inputs ?? {}), ...Object.keys(spec?.computed ?? {})]);
      expect(schema).toEqual(returned.filter((k) => !BOOKKEEPING.includes(k) && !stateOnly.includes(k) && !PLUGIN_STATE_ONLY.includes(k)));
    });
  }
});

describe.each(Object.keys(FUNCTIONS))("%s", (token) => {
  it("declares in the plugin's schema exactly the outputs its lookup returns", async () => {
    const returned = (await FUNCTION_IMPLS[token]!({ name: "x" }, { endpoint: api.url, token: "t" })) as Record<string, unknown>;
    expect(sorted(Object.keys(FUNCTIONS[token]?.outputs ?? {}))).toEqual(sorted(Object.keys(returned)));
  });
});

test("every resource the plugin serves is one of those above", () => {
  expect(Object.keys(RESOURCES).every((token) => RESOURCES_UNDER_TEST.some((r) => `vmbranch:index:${r.type}` === token))).toBe(true);
});
