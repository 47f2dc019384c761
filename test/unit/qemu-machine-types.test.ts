// The pinned machine type read from `-machine help`, and which memory snapshots this QEMU may
// restore (machine-types.ts): pure parsing and rules, no QEMU.
import { parseMachineHelp, restoreRefusal, type QemuMachine } from "../../backend/host/qemu/machine-types";

const HELP_10_0 = `Supported machines are:
microvm              microvm (i386)
pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-10.0)
pc-i440fx-10.0       Standard PC (i440FX + PIIX, 1996) (default)
pc-i440fx-9.2        Standard PC (i440FX + PIIX, 1996)
pc-i440fx-4.0        Standard PC (i440FX + PIIX, 1996) (deprecated)
q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-10.0)
pc-q35-10.0          Standard PC (Q35 + ICH9, 2009)
isapc                ISA-only PC
none                 empty machine
`;

const here: QemuMachine = { type: "pc-i440fx-10.0", available: ["pc", "pc-i440fx-10.0", "pc-i440fx-9.2"], qemuVersion: "10.0.2" };

describe("the pinned machine type", () => {
  it("is the versioned type the pc alias stands for, and every listed type is offered", () => {
    const parsed = parseMachineHelp(HELP_10_0);
    expect(parsed?.type).toBe("pc-i440fx-10.0");
    expect(parsed?.available).toEqual(["microvm", "pc", "pc-i440fx-10.0", "pc-i440fx-9.2", "pc-i440fx-4.0", "q35", "pc-q35-10.0", "isapc", "none"]);
  });

  it("is the newest versioned i440fx type when no alias is listed, compared as numbers", () => {
    const help = "Supported machines are:\npc-i440fx-9.2        Standard PC\npc-i440fx-10.1       Standard PC\npc-i440fx-10.0       Standard PC\n";
    expect(parseMachineHelp(help)?.type).toBe("pc-i440fx-10.1");
  });

  it("does not exist when QEMU offers no i440fx machine", () => {
    expect(parseMachineHelp("Supported machines are:\nq35                  Standard PC (Q35 + ICH9, 2009)\n")).toBeNull();
  });
});

describe("restoring a memory snapshot", () => {
  it("is allowed for the same machine type from the same or an older QEMU", () => {
    expect(restoreRefusal({ machineType: "pc-i440fx-10.0", qemuVersion: "10.0.2" }, here)).toBeNull();
    expect(restoreRefusal({ machineType: "pc-i440fx-9.2", qemuVersion: "9.2.0" }, here)).toBeNull();
    expect(restoreRefusal({ machineType: "pc-i440fx-10.0", qemuVersion: "10.0.0" }, here)).toBeNull();
  });

  it("is refused, naming both, when the machine type is not offered here", () => {
    expect(restoreRefusal({ machineType: "pc-i440fx-10.2", qemuVersion: "10.2.0" }, here)).toBe(
      "it was taken with machine type 'pc-i440fx-10.2' (QEMU 10.2.0), which this QEMU (10.0.2) does not offer",
    );
  });

  it("is refused when a newer QEMU wrote it, even in a machine type offered here", () => {
    expect(restoreRefusal({ machineType: "pc-i440fx-9.2", qemuVersion: "10.1.0" }, here)).toBe(
      "it was taken by QEMU 10.1.0, newer than this QEMU (10.0.2), which cannot load its state",
    );
    expect(restoreRefusal({ machineType: "pc-i440fx-9.2", qemuVersion: "11.0.0" }, here)).not.toBeNull();
  });

  it("is refused when the recorded version cannot be read", () => {
    expect(restoreRefusal({ machineType: "pc-i440fx-10.0", qemuVersion: "unknown" }, here)).toBe(
      "it records QEMU version 'unknown', which cannot be compared with this QEMU (10.0.2)",
    );
  });
});
