// waitFor: instances by the server's long-poll, volumes by polling; deadlines, aborts, dead ends.
import { NotFoundError, RequestAbortedError, TimeoutError, UnexpectedStateError, VmbranchClient, type InstanceState, type Volume } from "vmbranch/sdk";
import { FakeApi, envelope, errorReply, fakeInstance, fakeVolume, type FakeReply } from "../helpers/fake-api";

let api: FakeApi;
let client: VmbranchClient;
const timers = new Set<NodeJS.Timeout>();

/** A long-poll like the real server's: answers once the state matches, or 408 after timeout_s. */
function longPoll(current: () => InstanceState) {
  return (req: { query: URLSearchParams }): Promise<FakeReply> => {
    const want = req.query.get("state");
    const until = Date.now() + Number(req.query.get("timeout_s")) * 1000;
    return new Promise((resolve) => {
      const check = () => {
        if (current() === want) return resolve({ body: envelope("instances", [fakeInstance({ state: current() })]) });
        if (current() === "error") return resolve(errorReply(409, "INSTANCE_STATE", `Instance is in state 'error'`));
        if (Date.now() >= until) return resolve(errorReply(408, "WAIT_TIMEOUT", `Timed out waiting for state '${want}'`));
        const t = setTimeout(() => {
          timers.delete(t);
          check();
        }, 10);
        timers.add(t);
      };
      check();
    });
  };
}

/** `GET /v1/instances/{id}` answering with the current state. */
function getRoute(current: () => InstanceState, extra: Parameters<typeof fakeInstance>[0] = {}) {
  return () => ({ body: envelope("instances", [fakeInstance({ state: current(), ...extra })]) });
}

function later(ms: number, fn: () => void): void {
  const t = setTimeout(() => {
    timers.delete(t);
    fn();
  }, ms);
  timers.add(t);
}

beforeEach(async () => {
  api = await FakeApi.start();
  client = new VmbranchClient({ endpoint: api.url, token: api.token, retry: { initialDelayMs: 5, maxDelayMs: 10 } });
});

afterEach(async () => {
  for (const t of timers) clearTimeout(t);
  timers.clear();
  await client.close();
  await api.close();
});

describe("instances.waitFor", () => {
  it("long-polls the wait endpoint and returns the instance once it is running", async () => {
    let state: InstanceState = "starting";
    api.route("GET", "/v1/instances/:id/wait", longPoll(() => state)).route("GET", "/v1/instances/:id", getRoute(() => state));
    later(100, () => (state = "running"));
    const instance = await client.instances.waitFor("web", "running", { timeoutMs: 5_000 });
    expect(instance.state).toBe("running");
    expect(api.requests.map((r) => r.path)).toEqual(["/v1/instances/web", "/v1/instances/web/wait"]);
    const waits = api.requestsTo("GET", "/v1/instances/web/wait");
    expect(waits[0]?.query.get("state")).toBe("running");
    expect(Number(waits[0]?.query.get("timeout_s"))).toBe(5);
  });

  it("asks again after the server's own timeout (408), checking with a GET in between", async () => {
    let state: InstanceState = "starting";
    api.route("GET", "/v1/instances/:id/wait", longPoll(() => state)).route("GET", "/v1/instances/:id", getRoute(() => state));
    later(1_300, () => (state = "running"));
    const instance = await client.instances.waitFor("web", "running", { timeoutMs: 10_000, longPollS: 1, pollMs: 10 });
    expect(instance.state).toBe("running");
    expect(api.requests.map((r) => r.path)).toEqual(["/v1/instances/web", "/v1/instances/web/wait", "/v1/instances/web", "/v1/instances/web/wait"]);
  });

  it("fails with UnexpectedStateError naming the state when the instance ends in error", async () => {
    let state: InstanceState = "starting";
    api.route("GET", "/v1/instances/:id/wait", longPoll(() => state)).route("GET", "/v1/instances/:id", getRoute(() => state, { stop_reason: "qemu exited with code 1" }));
    later(50, () => (state = "error"));
    const err = await client.instances.waitFor("web", "running", { timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnexpectedStateError);
    expect(err).toMatchObject({ state: "error", expected: ["running"], code: "UNEXPECTED_STATE" });
    expect((err as Error).message).toBe("Instance 'web' is in state 'error' and cannot reach 'running': qemu exited with code 1");
  });

  it("fails at once, without a long-poll, for an instance that is already dead", async () => {
    api.route("GET", "/v1/instances/:id", getRoute(() => "deleted"));
    await expect(client.instances.waitFor("web", "running")).rejects.toMatchObject({ name: "UnexpectedStateError", state: "deleted" });
    expect(api.requestsTo("GET", "/v1/instances/web/wait")).toHaveLength(0);
  });

  it("waiting for 'error' itself succeeds when the instance lands there", async () => {
    api.route("GET", "/v1/instances/:id", getRoute(() => "starting")).route("GET", "/v1/instances/:id/wait", { body: envelope("instances", [fakeInstance({ state: "error" })]) });
    await expect(client.instances.waitFor("web", "error")).resolves.toMatchObject({ state: "error" });
  });

  it("times out with TimeoutError at the overall deadline, even while a long-poll hangs", async () => {
    api.route("GET", "/v1/instances/:id", getRoute(() => "starting")).route("GET", "/v1/instances/:id/wait", { hang: true });
    const started = Date.now();
    const err = await client.instances.waitFor("web", "running", { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ status: undefined, code: "WAIT_TIMEOUT" });
    expect((err as Error).message).toBe("Timed out after 200 ms waiting for instance 'web' to reach 'running' (last state 'starting')");
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("reports the last state seen when the deadline passes", async () => {
    api.route("GET", "/v1/instances/:id", { body: envelope("instances", [fakeInstance({ state: "stopping" })]) });
    const err = await client.instances.waitFor("web", ["stopped", "standby"], { timeoutMs: 150, pollMs: 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/to reach 'stopped' or 'standby' \(last state 'stopping'\)$/);
  });

  it("aborts with the caller's signal", async () => {
    api.route("GET", "/v1/instances/:id", getRoute(() => "starting")).route("GET", "/v1/instances/:id/wait", { hang: true });
    const controller = new AbortController();
    later(50, () => controller.abort());
    await expect(client.instances.waitFor("web", "running", { signal: controller.signal })).rejects.toBeInstanceOf(RequestAbortedError);
    await expect(client.instances.waitFor("web", "running", { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(RequestAbortedError);
  });

  it("polls GET for several target states (the wait endpoint takes one)", async () => {
    const states: InstanceState[] = ["running", "stopping", "standby"];
    api.route("GET", "/v1/instances/:id", () => ({ body: envelope("instances", [fakeInstance({ state: states.shift() ?? "standby" })]) }));
    const seen: string[] = [];
    const instance = await client.instances.waitFor("web", ["stopped", "standby"], { pollMs: 10, onPoll: (i) => seen.push(i.state) });
    expect(instance.state).toBe("standby");
    expect(seen).toEqual(["running", "stopping", "standby"]);
    expect(api.requestsTo("GET", "/v1/instances/web/wait")).toHaveLength(0);
  });

  it("a missing instance is a NotFoundError, not a wait until the deadline", async () => {
    api.queue("GET", "/v1/instances/:id", errorReply(404, "INSTANCE_NOT_FOUND", "Instance 'ghost' not found"));
    await expect(client.instances.waitFor("ghost", "running")).rejects.toBeInstanceOf(NotFoundError);
    // Deleted during a long-poll: the server answers 404 there too.
    api.route("GET", "/v1/instances/:id", getRoute(() => "starting")).queue("GET", "/v1/instances/:id/wait", errorReply(404, "INSTANCE_NOT_FOUND", "Instance 'web' was deleted while waiting for state 'running'"));
    await expect(client.instances.waitFor("web", "running")).rejects.toThrow("Instance 'web' was deleted while waiting for state 'running'");
  });
});

describe("volumes.waitFor", () => {
  it("polls a clone from pending to available, reporting progress", async () => {
    const progress = [10, 60, 100];
    api.route("GET", "/v1/volumes/:id", (_r, p) => {
      const pct = progress.shift() ?? 100;
      const clone = { source: { uuid: fakeVolume().uuid, name: "data" }, progress: pct, started_at: "2026-01-01T00:00:00Z", finished_at: null, message: null };
      return { body: envelope("volumes", [fakeVolume({ name: p.id, state: pct === 100 ? "available" : "pending", clone })]) };
    });
    const seen: number[] = [];
    const volume = await client.volumes.waitFor("data-clone", "available", { pollMs: 10, onPoll: (v) => seen.push((v as Volume).clone?.progress ?? -1) });
    expect(volume).toMatchObject({ name: "data-clone", state: "available" });
    expect(seen).toEqual([10, 60, 100]);
  });

  it("fails with UnexpectedStateError carrying the volume's error", async () => {
    api.route("GET", "/v1/volumes/:id", { body: envelope("volumes", [fakeVolume({ state: "error", error: "qemu-img failed" })]) });
    await expect(client.volumes.waitFor("data", "available", { pollMs: 10 })).rejects.toThrow(
      "Volume 'data' is in state 'error' and cannot reach 'available': qemu-img failed",
    );
  });

  it("times out with the last state, and accepts several targets", async () => {
    api.route("GET", "/v1/volumes/:id", { body: envelope("volumes", [fakeVolume({ state: "pending" })]) });
    await expect(client.volumes.waitFor("data", "available", { timeoutMs: 100, pollMs: 20 })).rejects.toThrow(
      "Timed out after 100 ms waiting for volume 'data' to reach 'available' (last state 'pending')",
    );
    await expect(client.volumes.waitFor("data", ["pending", "available"])).resolves.toMatchObject({ state: "pending" });
    await expect(client.volumes.waitFor("data", [])).rejects.toThrow(TypeError);
  });
});
