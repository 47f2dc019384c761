// A guest cannot use a managed directory (host_path, shared over 9p) against its host, and a local
// user cannot redirect one. Through a real `vmbranch serve` and a real guest: root in the guest
// makes a setuid-root copy of a shell, a device node and a root-owned file in the share, and on
// the host they are plain files of the VM's own uid without setuid bits (what the guest asked for
// lives in user.virtfs.* attributes, which the guest still sees). A directory swapped for a
// symbolic link (itself, or a parent on its way) refuses the start with 409 and starts no VM; so
// does a directory VMs have no access to, with the command that grants it.
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expectError, raw } from "../backend/support";
import { startBackend, type TestBackend } from "../helpers/backend";
import { consoleWhen } from "./support/guests";

jest.setTimeout(240_000);
const BOOT_MS = 180_000;

let b: TestBackend;
let root: string;

function vmGid(): number {
  const line = readFileSync("/etc/group", "utf8").split("\n").find((l) => l.startsWith("vmbranch-qemu:"));
  return Number(line!.split(":")[2]);
}

/** A directory VMs may use: group vmbranch-qemu, rwx for the group (what docs/security.md tells operators). */
function sharedDir(path: string): string {
  mkdirSync(path, { recursive: true });
  chownSync(path, 0, vmGid());
  chmodSync(path, 0o2770);
  return path;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "vmbranch-test-shares-"));
  b = await startBackend({ allowHostPath: [root] });
}, 60_000);

afterAll(async () => {
  await b?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

it("keeps what root in a guest asks for out of the host's metadata: no setuid-root file, no device node", async () => {
  const dir = sharedDir(join(root, "share"));
  const script = [
    "cd /mnt/h",
    "cp /bin/busybox suid && chown 0:0 suid && chmod 4755 suid",
    "mknod node c 1 3",
    "echo from-guest > plain && chmod 0644 plain",
    "mkdir sub",
    "ls -ln suid node plain | sed 's/^/guest-sees: /'",
    "echo share-done",
  ].join(" && ");
  await b.client.instances.create({ name: "share", image: "base", memory_mb: 128, args: ["sh", "-c", `${script}; while :; do sleep 3600; done`], volumes: [{ host_path: dir, at: "/mnt/h" }] });
  const text = await consoleWhen(b.client, "share", /^share-done$/m, BOOT_MS);
  // The guest sees what it asked for (its group is the directory's, which is set-group-id)…
  expect(text).toMatch(/^guest-sees: -rwsr-xr-x\s+1 0\s+0 .* suid\r?$/m);
  expect(text).toMatch(/^guest-sees: crw-r--r--\s+1 0\s+\d+\s+1,\s+3 .* node\r?$/m);
  // …the host has plain files of the VM's uid, group vmbranch-qemu, and no set-id bit anywhere.
  const pid = b.vmPids()[0]!;
  const vmUid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
  for (const name of ["suid", "node", "plain"]) {
    const st = lstatSync(join(dir, name));
    expect({ name, file: st.isFile(), uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }).toEqual({ name, file: true, uid: vmUid, gid: vmGid(), mode: 0o660 });
  }
  expect(statSync(join(dir, "sub")).mode & 0o7777).toBe(0o2770);
  // What the guest asked for, kept where the host's metadata never sees it.
  const attrs = execFileSync("python3", ["-c", "import os,sys; print(sorted(os.listxattr(sys.argv[1])))", join(dir, "suid")], { encoding: "utf8" });
  expect(attrs).toContain("user.virtfs.mode");
  expect(readFileSync(join(dir, "plain"), "utf8")).toBe("from-guest\n");
  await b.client.instances.delete("share");
});

describe("a start after the directory changed", () => {
  beforeAll(async () => {
    sharedDir(join(root, "parent", "data"));
    await b.client.instances.create({ name: "swap", image: "base", memory_mb: 128, autostart: false, args: ["true"], volumes: [{ host_path: join(root, "parent", "data"), at: "/d" }] });
  });

  /** A start that must be refused with 409 HOST_PATH_UNSAFE, leaving the instance stopped and no VM. */
  async function refusedStart(message: RegExp): Promise<void> {
    expectError(await raw(b, "PUT", "/v1/instances/swap/start"), 409, "HOST_PATH_UNSAFE", message);
    const swap = await b.client.instances.get("swap");
    expect(swap.state).toBe("stopped");
    expect(b.vmPids().filter((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(swap.uuid))).toEqual([]);
  }

  it("is refused when the directory itself became a symbolic link", async () => {
    const data = join(root, "parent", "data");
    renameSync(data, `${data}.real`);
    symlinkSync("/etc", data);
    try {
      await refusedStart(new RegExp(`^Cannot start instance 'swap': a managed volume's directory '${data}' is now a symbolic link; refusing to share it$`));
    } finally {
      rmSync(data);
      renameSync(`${data}.real`, data);
    }
  });

  it("is refused when a directory on its way became a symbolic link", async () => {
    const parent = join(root, "parent");
    const decoy = sharedDir(join(root, "decoy", "data"));
    renameSync(parent, `${parent}.real`);
    symlinkSync(join(root, "decoy"), parent);
    try {
      await refusedStart(new RegExp(`'${join(parent, "data")}' now leads to '${decoy}' through a symbolic link`));
    } finally {
      rmSync(parent);
      renameSync(`${parent}.real`, parent);
    }
  });

  it("is refused, with the way to grant it, when VMs may not write the directory", async () => {
    const data = join(root, "parent", "data");
    chmodSync(data, 0o700);
    try {
      await refusedStart(/is not readable and writable by VMs \(group 'vmbranch-qemu'\); grant it, e\.g\. chgrp -R vmbranch-qemu .* && chmod -R g\+rwX/);
    } finally {
      chmodSync(data, 0o2770);
    }
  });

  it("goes ahead once the directory is what it was", async () => {
    await b.client.instances.start("swap");
    await b.client.instances.waitFor("swap", ["running", "stopped"], { timeoutMs: BOOT_MS });
    await b.client.instances.delete("swap");
  });
});
