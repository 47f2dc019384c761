/**
 * Who a confined QEMU runs as. Every VM gets a user id of its own from a range no account uses,
 * so one escaped QEMU cannot signal, trace or read the files of another; all of them share the
 * group `vmbranch-qemu`, which is how managed directories are shared with VMs (and how a file one
 * VM writes there stays readable by the next). The group is created when missing. Which uid a VM
 * holds is the driver's record (its launch files); this module hands out free ones.
 */
import { randomInt } from "node:crypto";
import { readFile } from "node:fs/promises";
import { run } from "../util/exec";

/** The group of every VM process. */
export const VM_GROUP = "vmbranch-qemu";
/**
 * First uid of VM processes. Above the ranges directory services map (SSSD's default ends at
 * 2 000 200 000) and below 2^31, which some tools still read as a signed number.
 */
export const VM_UID_BASE = 2_100_000_000;
/** How many uids the range holds. */
export const VM_UID_COUNT = 65_536;
/** The last uid of the range, never given to a VM: host tools parsing guest-written data run as it. */
export const TOOL_UID = VM_UID_BASE + VM_UID_COUNT - 1;

/** The gid of `name` from /etc/group, or null. */
export async function groupId(name: string, groupFile = "/etc/group"): Promise<number | null> {
  const text = await readFile(groupFile, "utf8").catch(() => "");
  for (const line of text.split("\n")) {
    const [n, , gid] = line.split(":");
    if (n === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return null;
}

/** The gid of VM_GROUP, creating it (a system group) when missing. Only valid as root. */
export async function ensureVmGroup(): Promise<number> {
  const existing = await groupId(VM_GROUP);
  if (existing !== null) return existing;
  try {
    await run("groupadd", ["--system", VM_GROUP]);
  } catch (err) {
    // Another serve may have created it meanwhile.
    const raced = await groupId(VM_GROUP);
    if (raced !== null) return raced;
    throw err;
  }
  const gid = await groupId(VM_GROUP);
  if (gid === null) throw new Error(`groupadd created no group '${VM_GROUP}'`);
  return gid;
}

/** Hands out VM uids no VM this process knows of holds. */
export class VmUidPool {
  private readonly held = new Map<number, number>();

  /** Marks `uid` as held (a VM found again after a restart, or a loader sharing its source's uid). */
  hold(uid: number): void {
    this.held.set(uid, (this.held.get(uid) ?? 0) + 1);
  }

  /** A free uid, now held. Random, so services on one host rarely pick the same (1 in 65 536 per pair). */
  take(): number {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const uid = VM_UID_BASE + randomInt(VM_UID_COUNT - 1);
      if (this.held.has(uid)) continue;
      this.hold(uid);
      return uid;
    }
    throw new Error("no free VM uid");
  }

  /** Gives one hold of `uid` back. */
  release(uid: number): void {
    const n = this.held.get(uid) ?? 0;
    if (n <= 1) this.held.delete(uid);
    else this.held.set(uid, n - 1);
  }
}
