// Boots the real `base` image under QEMU (TCG here) and checks the guest init end to end: the main
// process with args/env and its exit code, an ext4 volume found by serial, a web server on a
// published port writing to it, a 9p share chowned to uid:gid, graceful power-off through QMP, and
// the error path. QEMU is started directly (the real runtime is backend/host/qemu); every process
// is `-name vmbranch-<uuid>`, killed in teardown, and every temp dir removed.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { buildBaseImage } from "../../backend/host/images/base-image-builder";
import { renderGuestConfig } from "../../backend/host/images/guest-config";
import { ERROR_MARKER, EXIT_MARKER, GUEST_CONFIG_FW_CFG_NAME, INIT_EXIT_CODES, READY_MARKER, type GuestConfig } from "../../backend/host/images/guest-protocol";
import { openImage, type ImageFiles } from "../../backend/host/images/image-store";
import { unclaimedPort } from "../helpers/ports";

jest.setTimeout(180_000);

const REPO = path.resolve(__dirname, "../..");
const IMAGE_DIR = process.env.VMBRANCH_IMAGE_DIR || path.join(REPO, ".cache/images");
const NET = { address: "10.0.2.15/24", gateway: "10.0.2.2", dns: "10.0.2.3" };
const DEADLINE_MS = 90_000;

let image: ImageFiles;
let tmp: string;
const guests: Guest[] = [];

beforeAll(async () => {
  // A no-op when npm test (or an earlier run) has built it already.
  await buildBaseImage({ imageDir: IMAGE_DIR });
  image = openImage(IMAGE_DIR, "base");
  tmp = mkdtempSync(path.join(os.tmpdir(), "vmbranch-image-boot-"));
});

afterEach(async () => {
  for (const g of guests.splice(0)) await g.kill();
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A QEMU guest with its serial console captured. */
interface Guest {
  proc: ChildProcess;
  qmpSocket: string;
  console(): string;
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

function boot(cfg: GuestConfig, extra: string[] = []): Guest {
  const id = randomUUID();
  const cfgFile = path.join(tmp, `${id}.cfg`);
  writeFileSync(cfgFile, renderGuestConfig(cfg));
  const qmpSocket = path.join(tmp, `${id}.qmp`);
  const args = [
    ["-name", `vmbranch-${id}`, "-M", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "256"],
    ["-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot"],
    ["-kernel", image.kernel, "-initrd", image.initrd, "-append", image.cmdline],
    ["-fw_cfg", `name=${GUEST_CONFIG_FW_CFG_NAME},file=${cfgFile}`],
    ["-qmp", `unix:${qmpSocket},server=on,wait=off`],
    extra,
  ].flat();
  const proc = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const waiters: (() => void)[] = [];
  const onData = (d: Buffer) => {
    out += d.toString("utf8");
    for (const w of waiters) w();
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  const guest: Guest = {
    proc,
    qmpSocket,
    console: () => out,
    exited,
    waitFor(pattern) {
      return new Promise((resolve, reject) => {
        let done = false;
        const settle = (m: RegExpMatchArray | null, why?: string) => {
          if (done || (!m && !why)) return;
          done = true;
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(check), 1);
          if (m) resolve(m);
          else reject(new Error(`${why} ${pattern}; console:\n${out}`));
        };
        const check = () => settle(out.match(pattern));
        const timer = setTimeout(() => settle(null, "timed out waiting for"), DEADLINE_MS);
        waiters.push(check);
        // Output still in the pipe when QEMU exits arrives just after the exit event.
        void exited.then(() => setTimeout(() => settle(out.match(pattern), "QEMU exited before"), 100));
        check();
      });
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGKILL");
        await exited;
      }
    },
  };
  guests.push(guest);
  return guest;
}

/** A minimal QMP exchange: negotiate, run one command, return its `return` value. */
function qmp(socketPath: string, command: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let buf = "";
    let stage = 0;
    sock.on("error", reject);
    sock.on("data", (d) => {
      buf += d.toString("utf8");
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        if (msg.error) return reject(new Error(JSON.stringify(msg.error)));
        if (stage === 0 && msg.QMP) {
          stage = 1;
          sock.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n");
        } else if (stage === 1 && "return" in msg) {
          stage = 2;
          sock.write(JSON.stringify({ execute: command }) + "\n");
        } else if (stage === 2 && "return" in msg) {
          sock.end();
          resolve(msg.return);
        }
      }
    });
  });
}

/** An empty ext4 volume as qcow2, like a vmbranch volume. */
function makeVolume(name: string): string {
  const raw = path.join(tmp, `${name}.raw`);
  const qcow2 = path.join(tmp, `${name}.qcow2`);
  execFileSync("truncate", ["-s", "64M", raw]);
  execFileSync("mke2fs", ["-q", "-F", "-t", "ext4", raw]);
  execFileSync("qemu-img", ["convert", "-O", "qcow2", raw, qcow2]);
  rmSync(raw);
  return qcow2;
}

/** Reads a file from the ext4 inside a qcow2 volume on the host. */
function readFromVolume(qcow2: string, file: string): string {
  const raw = qcow2.replace(/\.qcow2$/, ".check.raw");
  execFileSync("qemu-img", ["convert", "-O", "raw", qcow2, raw]);
  try {
    return execFileSync("debugfs", ["-R", `cat ${file}`, raw], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } finally {
    rmSync(raw, { force: true });
  }
}

const exitLine = (code: number) => new RegExp(`^${EXIT_MARKER} ${code}\\r?$`, "m");

describe("base image boot", () => {
  it("runs args with env, prints READY, the output and EXIT with the app's exit code, then powers off", async () => {
    const g = boot({
      hostname: "guest-one",
      args: ["sh", "-c", 'echo "out:$GREETING:$(hostname)"; echo "argv:$0|$1" >&2; exit 42', "zero 'quoted'", "one\ntwo"],
      env: { GREETING: "hello 'world' $HOME" },
      mounts: [],
      network: null,
    });
    await g.waitFor(new RegExp(`^${READY_MARKER}\\r?$`, "m"));
    await g.waitFor(exitLine(42));
    expect(await g.exited).toBe(0);
    const out = g.console();
    expect(out).toContain("out:hello 'world' $HOME:guest-one");
    expect(out).toContain("argv:zero 'quoted'|one\ntwo".replace("\n", "\r\n"));
    expect(out.indexOf(READY_MARKER)).toBeLessThan(out.indexOf(`${EXIT_MARKER} 42`));
  });

  it("serves a published port with busybox httpd, appending to an ext4 volume found by serial, then mounts it read-only", async () => {
    const volume = makeVolume("web");
    const port = await unclaimedPort();
    const cgi = ["#!/bin/sh", 'echo "$QUERY_STRING" >> /data/hits', "printf 'Content-Type: text/plain\\r\\n\\r\\n'", "cat /data/hits"].join("\n");
    const g = boot(
      {
        hostname: "web",
        args: ["sh", "-c", 'mkdir -p /www/cgi-bin && printf "%s\\n" "$CGI" > /www/cgi-bin/x && chmod +x /www/cgi-bin/x && exec httpd -f -p 8080 -h /www'],
        env: { CGI: cgi },
        mounts: [{ kind: "block", serial: "vol-web", at: "/data", readonly: false, fstype: "ext4" }],
        network: NET,
      },
      [
        ["-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:8080`, "-device", "virtio-net-pci,netdev=n0"],
        ["-blockdev", `driver=qcow2,node-name=vol0,file.driver=file,file.filename=${volume}`, "-device", "virtio-blk-pci,drive=vol0,serial=vol-web"],
      ].flat(),
    );
    await g.waitFor(new RegExp(`^${READY_MARKER}`, "m"));
    const get = async (q: string) => {
      // httpd may still be starting right after READY: retry connection errors briefly.
      for (let i = 0; ; i++) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/cgi-bin/x?${q}`);
          return { status: res.status, body: await res.text() };
        } catch (e) {
          if (i >= 50) throw e;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    };
    expect(await get("first")).toEqual({ status: 200, body: "first\n" });
    expect(await get("second")).toEqual({ status: 200, body: "first\nsecond\n" });

    await qmp(g.qmpSocket, "system_powerdown");
    // httpd does not catch SIGTERM: the app's status is 128 + 15.
    await g.waitFor(exitLine(143));
    expect(await g.exited).toBe(0);
    expect(readFromVolume(volume, "/hits")).toBe("first\nsecond\n");

    // The next guest gets the same volume read-only, as a shared read-only mount would be, inside a
    // second, writable ext4 volume (listed last: the parent must still be mounted first).
    const scratch = makeVolume("scratch");
    const reader = boot(
      {
        hostname: "reader",
        args: ["sh", "-c", "cat /scratch/web/hits; touch /scratch/web/new 2>/dev/null && echo wrote || echo write-refused; echo rw-ok > /scratch/f && cat /scratch/f"],
        env: {},
        mounts: [
          { kind: "block", serial: "vol-web", at: "/scratch/web", readonly: true, fstype: "ext4" },
          { kind: "block", serial: "vol-scratch", at: "/scratch", readonly: false, fstype: "ext4" },
        ],
        network: null,
      },
      [
        ["-blockdev", `driver=qcow2,node-name=vol0,read-only=on,file.driver=file,file.filename=${volume},file.read-only=on`, "-device", "virtio-blk-pci,drive=vol0,serial=vol-web"],
        ["-blockdev", `driver=qcow2,node-name=vol1,file.driver=file,file.filename=${scratch}`, "-device", "virtio-blk-pci,drive=vol1,serial=vol-scratch"],
      ].flat(),
    );
    await reader.waitFor(exitLine(0));
    expect(reader.console()).toMatch(/first\r?\nsecond\r?\nwrite-refused\r?\nrw-ok/);
    // Each module group is loaded once, even with two ext4 volumes.
    expect(reader.console()).not.toMatch(/insmod|File exists/);
    expect(await reader.exited).toBe(0);
    expect(readFromVolume(scratch, "/f")).toBe("rw-ok\n");
  });

  it("stops an app gracefully on ACPI power-off and reports the status it chose", async () => {
    const g = boot({
      hostname: "stopper",
      args: ["sh", "-c", "trap 'echo app-got-term; exit 7' TERM; echo app-started; while :; do sleep 0.2; done"],
      env: {},
      mounts: [],
      network: null,
    });
    await g.waitFor(/app-started/);
    await qmp(g.qmpSocket, "system_powerdown");
    await g.waitFor(exitLine(7));
    expect(g.console()).toContain("app-got-term");
    expect(await g.exited).toBe(0);
  });

  it("idles without args and exits 0 on power-off", async () => {
    const g = boot({ hostname: "idle", args: [], env: {}, mounts: [], network: null });
    await g.waitFor(new RegExp(`^${READY_MARKER}`, "m"));
    await qmp(g.qmpSocket, "system_powerdown");
    await g.waitFor(exitLine(0));
    expect(await g.exited).toBe(0);
  });

  it("mounts a 9p share and chowns its root to uid:gid", async () => {
    const share = path.join(tmp, "share");
    mkdirSync(share);
    const g = boot(
      {
        hostname: "share",
        args: ["sh", "-c", "echo from-guest > /mnt/share/file && stat -c 'owner=%u:%g' /mnt/share"],
        env: {},
        mounts: [{ kind: "9p", tag: "share0", at: "/mnt/share", readonly: false, uid: 1234, gid: 4321 }],
        network: null,
      },
      ["-fsdev", `local,id=fs0,path=${share},security_model=passthrough`, "-device", "virtio-9p-pci,fsdev=fs0,mount_tag=share0"],
    );
    await g.waitFor(exitLine(0));
    expect(g.console()).toContain("owner=1234:4321");
    expect(await g.exited).toBe(0);
    const st = statSync(share);
    expect([st.uid, st.gid]).toEqual([1234, 4321]);
    expect(execFileSync("cat", [path.join(share, "file")], { encoding: "utf8" })).toBe("from-guest\n");
  });

  it("reports a volume it cannot find and powers off with the mount-failure code", async () => {
    const g = boot({
      hostname: "broken",
      args: ["sh", "-c", "echo should-not-run"],
      env: {},
      mounts: [{ kind: "block", serial: "missing", at: "/data", readonly: false, fstype: "ext4" }],
      network: null,
    });
    await g.waitFor(exitLine(INIT_EXIT_CODES.mountFailed));
    expect(g.console()).toMatch(new RegExp(`^${ERROR_MARKER} mount /data: no virtio disk with serial 'missing'`, "m"));
    expect(g.console()).not.toContain("should-not-run");
    expect(g.console()).not.toContain(READY_MARKER);
    expect(await g.exited).toBe(0);
  });
});
