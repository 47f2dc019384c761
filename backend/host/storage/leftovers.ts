/**
 * Storage a dead serve may leave: scratch directories of disk operations (raw views of disks, a
 * qemu-storage-daemon with a FUSE mount, `withRawView`; filesystems being made; flatten copies, all
 * in disk-images.ts) and the paths live processes hold open, which doctor must never delete.
 * Read from /proc; deciding what is a leftover is core's (core/doctor.ts).
 */
import { readdir, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { run } from "../util/exec";
import type { ViewLeftover } from "../storage-driver";
import { SCRATCH_BESIDE, SCRATCH_PREFIXES, activeScratch } from "./disk-images";

export type { ViewLeftover };

function unescapeMount(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

async function fuseMounts(): Promise<string[]> {
  const text = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const [left, right] = line.split(" - ");
    if (!left || !right || !right.startsWith("fuse")) continue;
    const mountPoint = left.split(" ")[4];
    if (mountPoint) out.push(unescapeMount(mountPoint));
  }
  return out;
}

async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Scratch directories of disk operations (in `disksDir` or the shared temp dir) that no operation of this process uses. */
export async function viewLeftovers(disksDir: string): Promise<ViewLeftover[]> {
  const mounts = new Set(await fuseMounts());
  const candidates: string[] = [];
  for (const e of await readdir(disksDir).catch(() => [] as string[])) if (SCRATCH_BESIDE.some((p) => e.startsWith(p))) candidates.push(join(disksDir, e));
  for (const e of await readdir(tmpdir()).catch(() => [] as string[])) if (e.startsWith(SCRATCH_PREFIXES.shared)) candidates.push(join(tmpdir(), e));
  const out: ViewLeftover[] = [];
  for (const dir of candidates) {
    if (activeScratch.has(dir)) continue;
    const pid = Number((await readFile(join(dir, "pid"), "utf8").catch(() => "")).trim()) || null;
    const cmd = pid ? await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "") : "";
    const daemon = pid && cmd.includes("qemu-storage-daemon") ? pid : null;
    // A view in the shared temp dir is ours only when its daemon serves one of our disks.
    if (basename(dir).startsWith(SCRATCH_PREFIXES.shared) && !(daemon && cmd.includes(`${disksDir}/`))) continue;
    const raw = join(dir, "raw");
    const mounted = mounts.has(raw);
    out.push({
      dir, mounted, daemonPid: daemon,
      async remove() {
        if (daemon) {
          process.kill(daemon, "SIGTERM");
          for (let i = 0; i < 100 && (await alive(daemon)); i++) await new Promise((r) => setTimeout(r, 20));
          if (await alive(daemon)) process.kill(daemon, "SIGKILL");
        }
        if ((await fuseMounts()).includes(raw)) await run("umount", ["-l", raw]);
        await rm(dir, { recursive: true, force: true });
      },
    });
  }
  return out;
}

/** Every path some process on this host holds open (from /proc/<pid>/fd), so it is never taken for a leftover. */
export async function openPaths(): Promise<Set<string>> {
  const out = new Set<string>();
  for (const pid of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => null);
      if (target?.startsWith("/")) out.add(target.replace(/ \(deleted\)$/, ""));
    }
  }
  return out;
}
