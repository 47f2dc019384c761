// The one mapping from host failures to API errors (backend/core/host-errors.ts): what the client
// sees, what the log keeps, and the causes the host recognises.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostError, unexpectedError } from "../../backend/core/host-errors";
import { createFormattedDisk } from "../../backend/host/storage/disk-images";
import { filesystemDriver } from "../../backend/host/storage/filesystems";
import { VmStartError } from "../../backend/host/qemu/vm-launch";
import { HostCommandError, run } from "../../backend/host/util/exec";

function recordingLog() {
  const lines: { obj: unknown; msg?: string }[] = [];
  const write = (obj: object | string, msg?: string) => void lines.push({ obj, msg });
  return { lines, log: { info: write, warn: write, error: write, debug: write } };
}

it("a failed host command is HOST_FAILURE naming the step and the tool; its output goes to the log only", async () => {
  const err = await run("sh", ["-c", "echo '/secret/host/path: broken' >&2; exit 4"]).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(HostCommandError);
  const { lines, log } = recordingLog();
  const mapped = hostError(err, "Cannot grow volume 'data'", log);
  expect(mapped.code).toBe("HOST_FAILURE");
  expect(mapped.message).toBe("Cannot grow volume 'data': sh failed (exit 4); the service log has its output");
  expect(JSON.stringify(lines)).toContain("/secret/host/path: broken");
});

it("QEMU refusing a taken host port is PORT_UNAVAILABLE; other start failures are HOST_FAILURE", () => {
  const { log } = recordingLog();
  const taken = new VmStartError("QEMU exited", "qemu-system-x86_64: Could not set up host forwarding rule 'tcp:127.0.0.1:8080-:80'\n", 1);
  expect(hostError(taken, "Cannot start instance 'web'", log).code).toBe("PORT_UNAVAILABLE");
  const other = hostError(new VmStartError("QEMU exited", "could not open kernel file '/x'", 1), "Cannot start instance 'web'", log);
  expect(other.code).toBe("HOST_FAILURE");
  expect(other.message).toBe("Cannot start instance 'web': QEMU exited; the service log has its output");
});

it("a host step failing otherwise keeps its message; an unmapped non-host error is INTERNAL", () => {
  const { log } = recordingLog();
  expect(hostError(new Error("QMP closed"), "Suspend of instance 'a' failed", log).message).toBe("Suspend of instance 'a' failed: QMP closed");
  expect(unexpectedError(new Error("boom"), log).code).toBe("INTERNAL");
  expect(unexpectedError(new HostCommandError("qemu-img info", 1, "bad"), log).code).toBe("HOST_FAILURE");
});

it("a command failing with ENOSPC is cause host-full, which the client sees as 507 INSUFFICIENT_STORAGE", async () => {
  // /dev/full answers every write with ENOSPC, as a full filesystem does.
  const err = await run("dd", ["if=/dev/zero", "of=/dev/full", "bs=4096", "count=1"]).catch((e: unknown) => e);
  expect((err as HostCommandError).hostFailure.cause).toBe("host-full");
  const { log } = recordingLog();
  const mapped = hostError(err, "Cannot create volume 'data'", log);
  expect(mapped.code).toBe("INSUFFICIENT_STORAGE");
  expect(mapped.status).toBe(507);
  // The same words without the cause (a caller that knew better, or another failure) are not a full disk.
  expect(hostError(new HostCommandError("qemu-img create", 1, "No space left on device"), "Cannot create volume 'data'", log).code).toBe("HOST_FAILURE");
  expect(hostError((err as HostCommandError).because("no-space"), "Import into volume 'data' failed", log).code).toBe("HOST_FAILURE");
});

it("mke2fs running out of room for the files it is given says so (cause no-space)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vmb-host-errors-"));
  try {
    const files = join(dir, "files");
    await run("sh", ["-c", `mkdir -p ${files} && head -c 3000000 /dev/urandom > ${files}/big`]);
    const err = await createFormattedDisk(join(dir, "disk.qcow2"), 1, filesystemDriver("ext4")!, files).catch((e: unknown) => e);
    expect((err as HostCommandError).hostFailure.cause).toBe("no-space");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
