// Provider methods of Instance against a real `vmbranch serve`, around an instance's life:
// branching a running instance (lineage outputs, its own ports and tags, no diff afterwards),
// partial creates (a deadline passed, a job that failed) recorded with the id and __provider
// and healed by the next update, run-to-exit jobs (a failed one runs again on the next update,
// and must then succeed), and deletion outside Pulumi.
import * as instance from "vmbranch/provider/impl/instance";
import * as volume from "vmbranch/provider/impl/volume";
import { startProviderHarness, type ProviderHarness } from "./support/harness";
import { PROVIDER_TEXT, checked, createResource, diffResource, type Deployed } from "./support/engine-steps";
import { expectPartial } from "./support/partial";
import { hitLog, webServer } from "./support/web-guest";

jest.setTimeout(180_000);

let h: ProviderHarness;
beforeAll(async () => {
  h = await startProviderHarness();
});
afterAll(async () => {
  await h?.teardown();
});

const hostPort = (outs: Record<string, unknown>, guest = 8080) => (outs.hostPorts as Record<string, number>)[String(guest)] as number;

describe("branching", () => {
  let source: Deployed;
  let branch: Deployed;
  let branchInputs: Record<string, unknown>;

  test("a branch of a running instance starts with its data and reports where it came from", async () => {
    const data = await h.created("volume", createResource(volume, { namePrefix: "db-data", sizeMb: 16 }));
    source = await h.created(
      "instance",
      createResource(instance, { namePrefix: "db", image: "base", ...webServer("/data"), volumes: [{ volume: data.outs.name, at: "/data" }], ports: [{ guestPort: 8080 }], tags: ["db"], readiness: { guestPort: 8080 } }),
    );
    expect(await hitLog(hostPort(source.outs), "before")).toEqual(["before"]);

    branchInputs = { namePrefix: "db-branch", branchFrom: source.outs.name, tags: ["branch"], ports: [{ guestPort: 8080 }, { guestPort: 9000 }], readiness: { guestPort: 8080 } };
    branch = await h.created("instance", createResource(instance, branchInputs));
    expect(branch.outs).toMatchObject({
      state: "running",
      branchFrom: source.outs.name,
      branchedFrom: source.outs.name,
      branchedFromUuid: source.id,
      branchPhase: "Succeeded",
      sourcePauseMs: expect.any(Number),
      snapshotAt: expect.any(String),
      image: "base",
      memoryMb: 128,
      tags: ["branch"],
      ports: [{ guestPort: 8080, hostPort: null, protocol: "tcp" }, { guestPort: 9000, hostPort: null, protocol: "tcp" }],
    });
    // Inherited tags stay on the server; the user's are added.
    expect((await h.backend.client.instances.get(branch.id)).tags.sort()).toEqual(["branch", "db"]);
    expect(hostPort(branch.outs)).not.toBe(hostPort(source.outs));
    expect(hostPort(branch.outs, 9000)).toBeGreaterThan(0);
    // Same data at the branch point, then each goes its own way.
    expect(await hitLog(hostPort(branch.outs), "branch")).toEqual(["before", "branch"]);
    expect(await hitLog(hostPort(source.outs), "source")).toEqual(["before", "source"]);
  });

  test("after branching, neither the branch nor its source shows a diff, also after a refresh", async () => {
    expect(await diffResource(instance, branch, branchInputs)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    const read = await instance.read(branch.id, branch.outs);
    expect(await instance.diff(branch.id, read.props as unknown as Record<string, unknown>, await checked(instance, branchInputs, branch))).toMatchObject({ changes: false });
    const src = await instance.read(source.id, source.outs);
    expect(await instance.diff(source.id, src.props as unknown as Record<string, unknown>, source.inputs)).toMatchObject({ changes: false });
  });

  test("a new source for the branch replaces it; deleting it leaves the source running", async () => {
    expect((await diffResource(instance, branch, { ...branchInputs, branchFrom: "another" })).replaces).toEqual(["branchFrom"]);
    await instance.remove(branch.id, branch.outs);
    expect(await instance.read(branch.id, branch.outs)).toEqual({});
    expect((await h.backend.client.instances.get(source.id)).state).toBe("running");
    await instance.remove(source.id, source.outs);
  });
});

describe("partial creates", () => {
  let healed: Deployed;

  test("a deadline passed during boot: the instance is reported with its id, outputs and __provider", async () => {
    const news = { namePrefix: "slow", image: "base", timeouts: { create: "1s" } };
    const inputs = await checked(instance, news);
    const err = await expectPartial(h.created("instance", instance.create(inputs)));
    expect(err.message).toMatch(/was created but did not become running within 1s/);
    expect(err.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(err.properties).toMatchObject({ uuid: err.id, name: inputs.name, __provider: PROVIDER_TEXT, schemaVersion: 1 });
    expect(JSON.parse(JSON.stringify(err.properties))).toEqual(err.properties);
    // The engine keeps it and runs `update` on the next `up`, which finishes the job.
    const later = await checked(instance, { ...news, timeouts: { create: "5m" } }, { id: err.id, inputs, outs: err.properties });
    const { outs } = await instance.update(err.id, err.properties, later);
    expect(outs).toMatchObject({ uuid: err.id, state: "running" });
    healed = { id: err.id, inputs: later, outs: outs as unknown as Record<string, unknown> };
  });

  test("a job whose main process fails: partial with its exit code; the next update runs it again, and it fails again", async () => {
    const inputs = await checked(instance, { namePrefix: "job", image: "base", args: ["sh", "-c", "exit 3"], waitForExit: true });
    const err = await expectPartial(h.created("instance", instance.create(inputs)));
    expect(err.message).toMatch(/did not succeed: exit code 3/);
    expect(err.properties).toMatchObject({ uuid: err.id, state: "stopped", exitCode: 3, __provider: PROVIDER_TEXT });
    // The next `up` calls update with the same inputs: the failure must not pass silently.
    const again = await expectPartial(instance.update(err.id, err.properties, inputs));
    expect(again.message).toMatch(/did not succeed: exit code 3/);
    expect(again.properties).toMatchObject({ uuid: err.id, exitCode: 3 });
    expect((await h.backend.client.instances.get(err.id)).start_count).toBe(2);
    await instance.remove(err.id, err.properties);
  });

  test("a job that failed on its first run succeeds when the next update runs it again", async () => {
    // Fails the first time, succeeds the second: a marker on its own inline volume tells them apart.
    const script = "if [ -e /work/ran-once ]; then echo second run; exit 0; fi; touch /work/ran-once; sync; exit 4";
    const inputs = await checked(instance, { namePrefix: "flaky-job", image: "base", args: ["sh", "-c", script], volumes: [{ sizeMb: 8, at: "/work" }], waitForExit: true });
    const err = await expectPartial(h.created("instance", instance.create(inputs)));
    expect(err.properties).toMatchObject({ exitCode: 4 });
    const { outs } = await instance.update(err.id, err.properties, inputs);
    expect(outs).toMatchObject({ uuid: err.id, state: "stopped", exitCode: 0 });
    expect((await h.backend.client.instances.get(err.id)).start_count).toBe(2);
    // Succeeded now: later updates leave it alone.
    await instance.update(err.id, outs as unknown as Record<string, unknown>, { ...inputs, tags: ["done"] });
    expect((await h.backend.client.instances.get(err.id)).start_count).toBe(2);
    await instance.remove(err.id, outs as unknown as Record<string, unknown>);
  });

  test("a job that succeeds: create waits for its exit and it stays stopped without a diff", async () => {
    const job = await h.created("instance", createResource(instance, { namePrefix: "job", image: "base", args: ["sh", "-c", "echo done"], waitForExit: true }));
    expect(job.outs).toMatchObject({ state: "stopped", exitCode: 0, waitForExit: true });
    expect(await diffResource(instance, job, { namePrefix: "job", image: "base", args: ["sh", "-c", "echo done"], waitForExit: true })).toMatchObject({ changes: false });
    await instance.remove(job.id, job.outs);
  });

  test("deleted outside Pulumi: refresh drops it (no id), update says so, delete is fine", async () => {
    await h.backend.client.instances.delete(healed.id);
    expect(await instance.read(healed.id, healed.outs)).toEqual({});
    await expect(instance.update(healed.id, healed.outs, healed.inputs)).rejects.toThrow(/no longer exists: run 'pulumi refresh'/);
    await expect(instance.remove(healed.id, healed.outs)).resolves.toBeUndefined();
    expect(await h.backend.client.instances.list()).toEqual([]);
  });
});
