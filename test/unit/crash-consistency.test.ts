// Pure parts of crash consistency (issue 10): the failpoint registry and its parser, the lock
// protocol's deadlines and re-checks, and what a QEMU event means for an instance's state.
import { ApiError } from "../../backend/core/errors";
import { Locks } from "../../backend/core/locks";
import { FAILPOINTS, FailpointError, armFailpoints, failpoint } from "../../backend/host/failpoints";
import { alertOf } from "../../backend/host/vm/qemu-handle";

const at = { seconds: 1, microseconds: 0 };

describe("failpoints", () => {
  afterEach(() => armFailpoints(undefined));

  it("are inert unless armed", async () => {
    await expect(failpoint("snapshot.after-transaction")).resolves.toBeUndefined();
  });

  it("throw at an armed error point only", async () => {
    armFailpoints("snapshot.after-transaction=error; flatten.after-stream=delay:1");
    await expect(failpoint("snapshot.after-transaction")).rejects.toBeInstanceOf(FailpointError);
    await expect(failpoint("snapshot.after-overlays")).resolves.toBeUndefined();
    await expect(failpoint("flatten.after-stream")).resolves.toBeUndefined();
  });

  it("refuse unknown names and actions", () => {
    expect(() => armFailpoints("snapshot.after-transation=kill")).toThrow("unknown failpoint 'snapshot.after-transation'");
    expect(() => armFailpoints("snapshot.after-transaction=explode")).toThrow("the action must be kill, error or delay:MS");
  });

  it("are listed with what each marks", () => {
    for (const [name, what] of Object.entries(FAILPOINTS)) {
      expect(name).toMatch(/^[a-z]+\.[a-z-]+$/);
      expect(what.length).toBeGreaterThan(20);
    }
  });
});

describe("lock protocol", () => {
  it("ends a wait past its deadline in LOCK_TIMEOUT and lets those behind go on", async () => {
    const locks = new Locks(50);
    let release!: () => void;
    const held = locks.with(["instance:a"], () => new Promise<void>((r) => (release = r)));
    const late = locks.with(["instance:a", "volume:b"], async () => "never");
    await expect(late).rejects.toMatchObject({ code: "LOCK_TIMEOUT", status: 409 });
    await expect(late).rejects.toBeInstanceOf(Error);
    // volume:b was given back when the wait for instance:a failed.
    await expect(locks.with(["volume:b"], async () => "free")).resolves.toBe("free");
    const next = locks.with(["instance:a"], async () => "next", { timeoutMs: 5_000 });
    while (!release) await new Promise((r) => setImmediate(r));
    release();
    await held;
    await expect(next).resolves.toBe("next");
    expect(locks.idle()).toBe(true);
  });

  it("takes the locks anew when what they depend on changed while waiting", async () => {
    const locks = new Locks();
    let volumes = ["volume:x"];
    let release!: () => void;
    const held = locks.with(["instance:i"], () => new Promise<void>((r) => (release = r)));
    const seen: string[][] = [];
    const started = locks.withChecked(() => ["instance:i", ...volumes], async () => {
      seen.push([...volumes]);
      return locks.busy("volume:y");
    });
    volumes = ["volume:y"];
    while (!release) await new Promise((r) => setImmediate(r));
    release();
    await held;
    await expect(started).resolves.toBe(true);
    expect(seen).toEqual([["volume:y"]]);
  });

  it("is an ApiError a client sees as 409", () => {
    expect(new ApiError("LOCK_TIMEOUT", "x").status).toBe(409);
  });
});

describe("QEMU events that stall a VM", () => {
  it("a write stopped by ENOSPC is a full disk", () => {
    expect(alertOf({ event: "BLOCK_IO_ERROR", data: { device: "", "node-name": "n", operation: "write", action: "stop", nospace: true, reason: "No space left on device" }, timestamp: at }))
      .toEqual({ kind: "stalled", reason: expect.stringMatching(/^disk full: /) });
  });

  it("another stopping error names its reason; a reported one is no stall", () => {
    expect(alertOf({ event: "BLOCK_IO_ERROR", data: { action: "stop", nospace: false, reason: "Input/output error" }, timestamp: at }))
      .toEqual({ kind: "stalled", reason: expect.stringContaining("disk I/O error (Input/output error)") });
    expect(alertOf({ event: "BLOCK_IO_ERROR", data: { action: "report", nospace: false }, timestamp: at })).toBeNull();
  });

  it("a guest panic stalls it and RESUME ends the stall", () => {
    expect(alertOf({ event: "GUEST_PANICKED", data: { action: "pause" }, timestamp: at })).toEqual({ kind: "stalled", reason: "the guest kernel panicked" });
    expect(alertOf({ event: "RESUME", data: {}, timestamp: at })).toEqual({ kind: "resumed" });
    expect(alertOf({ event: "STOP", data: {}, timestamp: at })).toBeNull();
  });
});
