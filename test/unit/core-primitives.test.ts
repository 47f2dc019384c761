// Core building blocks: the reverter, the keyed locks and the volume mount rules.
import { Locks } from "../../backend/core/locks";
import { Reverter } from "../../backend/core/reverter";
import { checkAttachAllowed, checkMountPointFree } from "../../backend/core/volume-rules";
import type { VolumeRecord } from "../../backend/store/records";

describe("Reverter", () => {
  it("undoes completed steps newest first when the action fails, and keeps going past a failing undo", async () => {
    const done: string[] = [];
    const rev = new Reverter(() => done.push("logged"));
    await expect(
      rev.run(async (r) => {
        r.add("a", () => done.push("undo a"));
        r.add("b", () => {
          throw new Error("b");
        });
        r.add("c", () => done.push("undo c"));
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(done).toEqual(["undo c", "logged", "undo a"]);
  });
  it("drops the undos when the action succeeds", async () => {
    const done: string[] = [];
    await new Reverter().run(async (r) => r.add("a", () => done.push("undo")));
    expect(done).toEqual([]);
  });
});

describe("Locks", () => {
  it("serialises actions on one key and lets other keys run", async () => {
    const locks = new Locks();
    const order: string[] = [];
    let releaseFirst!: () => void;
    const first = locks.with(["k"], () => new Promise<void>((r) => (releaseFirst = () => { order.push("first"); r(); })));
    const second = locks.with(["k"], async () => void order.push("second"));
    const other = locks.with(["other"], async () => void order.push("other"));
    await other;
    expect(order).toEqual(["other"]);
    releaseFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(["other", "first", "second"]);
    expect(locks.busy("k")).toBe(false);
  });
  it("takes several keys in one order so crossing actions do not deadlock", async () => {
    const locks = new Locks();
    await Promise.all([locks.with(["a", "b"], async () => {}), locks.with(["b", "a"], async () => {})]);
    expect(locks.busy("a") || locks.busy("b")).toBe(false);
  });
});

describe("volume mount rules", () => {
  const vol = { name: "v", state: "available", isTemplate: false } as VolumeRecord;
  const att = (instanceUuid: string, readonly: boolean) => ({ volumeUuid: "v", instanceUuid, at: "/m", readonly, position: 0, instanceName: instanceUuid });
  it("allows any number of read-only mounts", () => {
    expect(() => checkAttachAllowed(vol, [att("a", true), att("b", true)], "c", true)).not.toThrow();
  });
  it("refuses a read-write mount while another mount exists", () => {
    expect(() => checkAttachAllowed(vol, [att("a", true)], "c", false)).toThrow("a read-write mount is exclusive");
  });
  it("refuses any mount while a read-write mount exists", () => {
    expect(() => checkAttachAllowed(vol, [att("a", false)], "c", true)).toThrow("attached read-write to instance 'a'");
  });
  it("refuses templates and overlapping mount points", () => {
    expect(() => checkAttachAllowed({ ...vol, isTemplate: true }, [], "c", true)).toThrow("is a template");
    expect(() => checkMountPointFree("i", [{ at: "/data" }], "/data/sub")).toThrow("overlaps");
    expect(() => checkMountPointFree("i", [{ at: "/data" }], "/database")).not.toThrow();
  });
});
