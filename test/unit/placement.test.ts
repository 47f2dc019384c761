// Placement (backend/core/placement.ts), pure logic: the online host with the most free memory that
// fits, beside a source or existing volumes when there are any, the requested host when it is
// known and online; an instance made from a source sent elsewhere only when the source's host is
// short of room for it; each refusal with its exact status, code and message.
import { placeNeed, QEMU_OVERHEAD_MB } from "../../backend/core/capacity";
import { chooseAway, chooseHost, type PlacementHost } from "../../backend/core/placement";

const host = (name: string, memoryFreeMib: number | null, state: "online" | "offline" = "online"): PlacementHost => ({ name, state, memoryFreeMib });
const HOSTS = [host("a", 1000), host("b", 4000), host("c", 9000, "offline"), host("d", 2000)];

/** The ApiError `fn` throws, as status, code and message. */
function refusal(fn: () => unknown): { status: number; code: string; message: string } {
  try {
    fn();
  } catch (e) {
    const err = e as { status: number; code: string; message: string };
    return { status: err.status, code: err.code, message: err.message };
  }
  throw new Error("expected a refusal");
}

describe("a free choice", () => {
  it("is the online host with the most free memory, offline hosts aside", () => {
    expect(chooseHost(HOSTS, { memoryMb: 128 })).toBe("b");
  });

  it("skips hosts too small for the request, and still chooses the roomiest when none fits", () => {
    const hosts = [host("big-but-busy", 300), host("roomy", 250), host("unknown", null)];
    expect(chooseHost([host("a", 3000), host("b", 1500)], { memoryMb: 2000 })).toBe("a");
    expect(chooseHost(hosts, { memoryMb: 100_000 })).toBe("unknown");
    expect(chooseHost([host("a", 300), host("b", 250)], { memoryMb: 100_000 })).toBe("a");
  });

  it("breaks ties by name, so the same state always places the same way", () => {
    expect(chooseHost([host("z", 500), host("m", 500)], { memoryMb: 64 })).toBe("m");
  });

  it("takes hosts within 128 MiB (two recording steps) of the most free memory as equal, and of those the one with the fewest instances", () => {
    const busy = (name: string, free: number, instances: number): PlacementHost => ({ ...host(name, free), instances });
    // The same machine's figures, a heartbeat apart: the emptier host wins.
    expect(chooseHost([busy("a", 5000, 2), busy("b", 4880, 1), busy("c", 4990, 1)], { memoryMb: 256 })).toBe("b");
    // 128 MiB less is less: memory still decides.
    expect(chooseHost([busy("a", 5000, 2), busy("b", 4872, 0)], { memoryMb: 256 })).toBe("a");
    // Equal counts fall back to the name.
    expect(chooseHost([busy("b", 5000, 1), busy("a", 4999, 1)], { memoryMb: 256 })).toBe("a");
  });

  it("is refused when no host is online", () => {
    expect(refusal(() => chooseHost([host("a", 100, "offline")], { memoryMb: 64 }))).toEqual({
      status: 409, code: "HOST_OFFLINE", message: "No host is online: nothing can be placed until one heartbeats",
    });
  });
});

describe("a requested host", () => {
  it("is taken when known and online, even when another has more memory", () => {
    expect(chooseHost(HOSTS, { requested: "a", memoryMb: 128 })).toBe("a");
  });

  it("is a 400 naming the known hosts when unknown", () => {
    expect(refusal(() => chooseHost(HOSTS, { requested: "nope", memoryMb: 128 }))).toEqual({
      status: 400, code: "VALIDATION_FAILED", message: "Unknown host 'nope': the known hosts are 'a', 'b', 'c', 'd'",
    });
  });

  it("is a 409 when offline", () => {
    expect(refusal(() => chooseHost(HOSTS, { requested: "c", memoryMb: 128 }))).toEqual({
      status: 409, code: "HOST_OFFLINE", message: "Host 'c' is offline: nothing is placed on it until it heartbeats again",
    });
  });
});

describe("pins", () => {
  it("put an instance beside its volumes, whatever the memory", () => {
    expect(chooseHost(HOSTS, { memoryMb: 128, pins: [{ kind: "volume", name: "v1", host: "a" }, { kind: "volume", name: "v2", host: "a" }] })).toBe("a");
  });

  it("refuse volumes on two hosts", () => {
    expect(refusal(() => chooseHost(HOSTS, { memoryMb: 128, pins: [{ kind: "volume", name: "v1", host: "a" }, { kind: "volume", name: "v2", host: "b" }] }))).toEqual({
      status: 409, code: "PLACEMENT_CONFLICT", message: "Cannot place the instance: volume 'v1' is on host 'a' and volume 'v2' on host 'b'",
    });
  });

  it("put an instance beside the source it stays with, and refuse another requested host", () => {
    const pins = [{ kind: "branch_from" as const, name: "src", host: "d" }];
    expect(chooseHost(HOSTS, { memoryMb: 128, pins })).toBe("d");
    expect(chooseHost(HOSTS, { requested: "d", memoryMb: 128, pins })).toBe("d");
    expect(refusal(() => chooseHost(HOSTS, { requested: "b", memoryMb: 128, pins }))).toEqual({
      status: 409, code: "PLACEMENT_CONFLICT", message: "Cannot place the instance on host 'b': its branch source 'src' is on host 'd'",
    });
  });

  it("check the requested host before the conflict: an unknown one is still a 400", () => {
    expect(refusal(() => chooseHost(HOSTS, { requested: "x", memoryMb: 128, pins: [{ kind: "template", name: "t", host: "a" }] })).status).toBe(400);
  });

  it("refuse a requested host other than a volume's", () => {
    expect(refusal(() => chooseHost(HOSTS, { requested: "b", memoryMb: 128, pins: [{ kind: "volume", name: "v1", host: "a" }] }))).toEqual({
      status: 409, code: "PLACEMENT_CONFLICT", message: "Cannot place the instance on host 'b': its volume 'v1' is on host 'a'",
    });
  });

  it("refuse a source or volume whose host is offline (or has no record), naming it as any operation on it does", () => {
    const offline = (what: string, name: string, h = "c") => ({
      status: 409, code: "HOST_OFFLINE", message: `${what} '${name}' is on host '${h}', which is offline: nothing can act on it until the host heartbeats again`,
    });
    expect(refusal(() => chooseHost(HOSTS, { memoryMb: 128, pins: [{ kind: "checkpoint", name: "cp", host: "c" }] }))).toEqual(offline("Checkpoint", "cp"));
    expect(refusal(() => chooseHost(HOSTS, { memoryMb: 128, pins: [{ kind: "branch_from", name: "src", host: "c" }] }))).toEqual(offline("Instance", "src"));
    expect(refusal(() => chooseHost(HOSTS, { memoryMb: 128, pins: [{ kind: "template", name: "t", host: "c" }] }))).toEqual(offline("Instance template", "t"));
    expect(refusal(() => chooseHost(HOSTS, { memoryMb: 128, pins: [{ kind: "volume", name: "v", host: "c" }] }))).toEqual(offline("Volume", "v"));
    expect(refusal(() => chooseHost(HOSTS, { memoryMb: 0, pins: [{ kind: "volume_template", name: "vt", host: "c" }] }))).toEqual(offline("Volume template", "vt"));
    expect(refusal(() => chooseHost(HOSTS, { memoryMb: 128, pins: [{ kind: "volume", name: "v", host: "gone" }] }))).toEqual(offline("Volume", "v", "gone"));
  });
});

describe("an instance made from a source", () => {
  const O = QEMU_OVERHEAD_MB;

  it("needs beside its source what its start adds there, and away a whole guest", () => {
    // A live branch keeps the snapshot's image as its memory, plus the loader and its own QEMU.
    expect(placeNeed(256, "live")).toEqual({ beside: 256 + 2 * O, away: 256 + O });
    // An existing memory snapshot is mapped where it is; elsewhere a copy is received.
    expect(placeNeed(256, "memory")).toEqual({ beside: O, away: 256 + O });
    expect(placeNeed(256, "boot")).toEqual({ beside: 256 + O, away: 256 + O });
  });

  it("needs for a batch of branches one image and a QEMU each, or a whole guest each when they boot", () => {
    // One live snapshot's image and its loader, then a QEMU per branch mapping that image.
    expect(placeNeed(256, "live", 10)).toEqual({ beside: 256 + O + 10 * O, away: 256 + 10 * O });
    // The memory snapshot is there (or one copy is sent for all of them).
    expect(placeNeed(256, "memory", 10)).toEqual({ beside: 10 * O, away: 256 + 10 * O });
    expect(placeNeed(256, "boot", 3)).toEqual({ beside: 3 * (256 + O), away: 3 * (256 + O) });
  });

  it("stays beside its source while that host has room above the reserve, or its figure is unknown", () => {
    const need = placeNeed(128, "live");
    expect(chooseAway([host("home", 256 + need.beside), host("b", 9000)], "home", need, 256)).toBeNull();
    expect(chooseAway([host("home", null), host("b", 9000)], "home", need, 256)).toBeNull();
  });

  it("goes to the roomiest other online host when its source's host is short of room", () => {
    const need = placeNeed(128, "live");
    const short = 256 + need.beside - 1;
    expect(chooseAway([host("home", short), host("b", 2000), host("c", 9000, "offline"), host("d", 3000)], "home", need, 256)).toBe("d");
  });

  it("stays when no other host has room for it either: the start's capacity check answers then", () => {
    const need = placeNeed(128, "boot");
    expect(chooseAway([host("home", 100), host("b", 256 + need.away - 1), host("c", 9000, "offline")], "home", need, 256)).toBeNull();
  });
});
