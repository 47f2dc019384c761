// The agent protocol's values and fence (backend/agent/wire.ts, epoch-guard.ts): what driver
// calls carry survives the wire (Buffers, Sets, Dates, undefined, an object with a `$t` key),
// errors keep the fields core reads from host failures, and an agent refuses an older term, also
// after a restart.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EpochGuard } from "../../backend/agent/epoch-guard";
import { decode, encode, errorFromWire, errorToWire } from "../../backend/agent/wire";
import { TarImportError, TarLimitError } from "../../backend/host/storage/tar-import";
import { DiskSwitchError } from "../../backend/host/vm-driver";

const roundTrip = (v: unknown) => decode(JSON.parse(JSON.stringify(encode(v))));

describe("agent wire values", () => {
  it("carries Buffers, Sets, Dates, undefined arguments and nested objects unchanged", () => {
    const value = {
      output: Buffer.from([0, 1, 2, 255]),
      owned: new Set(["a", "b"]),
      takenAt: new Date("2026-12-04T03:00:00.000Z"),
      args: ["x", undefined, 3],
      nested: { ports: [{ protocol: "tcp", hostPort: 8080 }], none: null },
    };
    const back = roundTrip(value) as typeof value;
    expect(Buffer.isBuffer(back.output)).toBe(true);
    expect([...back.output]).toEqual([0, 1, 2, 255]);
    expect(back.owned).toEqual(new Set(["a", "b"]));
    expect(back.takenAt).toEqual(new Date("2026-12-04T03:00:00.000Z"));
    expect(back.args).toEqual(["x", undefined, 3]);
    expect(back.args).toHaveLength(3);
    expect(back.nested).toEqual(value.nested);
  });

  it("keeps an object whose own key is `$t` (a guest environment variable so named) as it was", () => {
    const env = { $t: "buf", v: "not base64 data" };
    expect(roundTrip({ env })).toEqual({ env });
  });
});

describe("agent wire errors", () => {
  it("keeps a host failure's fields, so core maps it as it would in process", () => {
    const err = Object.assign(new Error("qemu-img failed"), {
      code: "ENOSPC",
      hostFailure: { command: "qemu-img create", summary: "qemu-img failed (exit 1)", exitCode: 1, output: "No space left", cause: "host-full" },
    });
    const back = errorFromWire(JSON.parse(JSON.stringify(errorToWire(err)))) as typeof err;
    expect(back).toBeInstanceOf(Error);
    expect(back.message).toBe("qemu-img failed");
    expect(back.code).toBe("ENOSPC");
    expect(back.hostFailure).toEqual(err.hostFailure);
  });

  it("gives back a DiskSwitchError with the disks that switched, and an error's name", () => {
    const back = errorFromWire(JSON.parse(JSON.stringify(errorToWire(new DiskSwitchError("thaw failed", ["disk0", "disk2"])))));
    expect(back).toBeInstanceOf(DiskSwitchError);
    expect((back as DiskSwitchError).switched).toEqual(["disk0", "disk2"]);
    // An import's refusal is a getter of its class, not an own field: it must cross too.
    const imp = new TarLimitError("the archive is too large", "bytes");
    expect(errorFromWire(JSON.parse(JSON.stringify(errorToWire(imp))))).toMatchObject({ name: imp.name, importRefusal: "too-large", message: "the archive is too large" });
    expect(errorFromWire(errorToWire(new TarImportError("not a tar archive")))).toMatchObject({ importRefusal: "invalid" });
  });
});

describe("EpochGuard", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "vmbranch-epoch-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("obeys the newest term, refuses older ones, and remembers across a restart", () => {
    const file = join(dir, "epoch");
    const guard = new EpochGuard(file);
    expect(guard.current).toBe(0);
    expect(guard.admit(3)).toBeNull();
    expect(guard.admit(3)).toBeNull();
    expect(guard.admit(2)).toBe("this command comes from control-plane term 2, but term 3 has begun since: only the newest term may act on this host");
    expect(readFileSync(file, "utf8").trim()).toBe("3");
    const restarted = new EpochGuard(file);
    expect(restarted.current).toBe(3);
    expect(restarted.admit(1)).toMatch(/term 1, but term 3/);
    expect(restarted.admit(4)).toBeNull();
    expect(new EpochGuard(file).current).toBe(4);
  });
});
