// Run in a plain Node process (not jest), from a throwaway Pulumi-project-like directory whose
// node_modules holds `vmbranch` (the built package) and `@pulumi/pulumi`: serialize each provider
// exactly as `pulumi.dynamic.Resource` does, load the text back exactly as the dynamic-provider
// host does (require-from-string, then `.handler()`), configure it with stack-config keys, and
// call its methods against the backend named by VMB_ENDPOINT / VMB_TOKEN. Prints one JSON report.
"use strict";
const path = require("node:path");
const pulumi = require("@pulumi/pulumi");
const requireFromString = require(require.resolve("require-from-string", { paths: [path.dirname(require.resolve("@pulumi/pulumi/package.json"))] }));

const endpoint = process.env.VMB_ENDPOINT;
const token = process.env.VMB_TOKEN;
const PROVIDERS = {
  volume: () => require("vmbranch/provider/resources/volume").volumeProvider,
  volumeTemplate: () => require("vmbranch/provider/resources/volume-template").volumeTemplateProvider,
  volumeClone: () => require("vmbranch/provider/resources/volume-clone").volumeCloneProvider,
  instance: () => require("vmbranch/provider/resources/instance").instanceProvider,
};

async function main() {
  const report = { texts: {}, steps: [] };
  const loaded = {};
  for (const [kind, get] of Object.entries(PROVIDERS)) {
    const provider = get();
    // What dynamic.Resource does (sdk/nodejs/dynamic/index.ts: serializeFunctionMaybeSecret).
    const sf = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
    report.texts[kind] = { text: sf.text, exportName: sf.exportName, containsSecrets: sf.containsSecrets };
    // What the host does (cmd/dynamic-provider/index.ts: getProvider).
    const p = requireFromString(sf.text)[sf.exportName]();
    await p.configure({ config: { get: (k) => ({ "vmbranch:endpoint": endpoint, "vmbranch:token": token })[k] } });
    loaded[kind] = { p, text: sf.text };
  }
  const step = (name, value) => report.steps.push({ name, value });
  const run = async (kind, news, update) => {
    const { p, text } = loaded[kind];
    const { inputs, failures } = await p.check({}, { ...news, __provider: text });
    if (failures.length > 0) throw new Error(`${kind} check: ${JSON.stringify(failures)}`);
    const created = await p.create(inputs);
    step(`${kind}.create`, created);
    step(`${kind}.read`, await p.read(created.id, created.outs));
    step(`${kind}.diff-same`, await p.diff(created.id, created.outs, inputs));
    const { inputs: next } = await p.check(inputs, { ...news, ...update, __provider: text });
    step(`${kind}.diff-update`, await p.diff(created.id, created.outs, next));
    const updated = await p.update(created.id, created.outs, next);
    step(`${kind}.update`, updated);
    return { id: created.id, outs: updated.outs };
  };
  const vol = await run("volume", { namePrefix: "ser-data", sizeMb: 8 }, { tags: ["t1"] });
  const tpl = await run("volumeTemplate", { namePrefix: "ser-golden", sourceVolume: vol.outs.name }, { tags: ["t2"] });
  const clone = await run("volumeClone", { namePrefix: "ser-clone", source: tpl.outs.name }, { tags: ["t3"] });
  // A stopped instance: the instance provider's whole path without booting a guest.
  const inst = await run("instance", { namePrefix: "ser-vm", image: "base", state: "stopped", volumes: [{ volume: clone.outs.name, at: "/data" }] }, { tags: ["t4"] });
  for (const [kind, r] of [["instance", inst], ["volumeClone", clone], ["volumeTemplate", tpl], ["volume", vol]]) {
    await loaded[kind].p.delete(r.id, r.outs);
    step(`${kind}.read-after-delete`, await loaded[kind].p.read(r.id, r.outs));
    await loaded[kind].p.delete(r.id, r.outs); // 404 is success
  }
  process.stdout.write(JSON.stringify(report));
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : String(err)}\n`);
  process.exit(1);
});
