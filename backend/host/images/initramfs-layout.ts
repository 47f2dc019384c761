/**
 * The file layout of the `base` initramfs: busybox with a symlink per applet (made at build time,
 * so the guest does not spend boot time on `busybox --install`), the init and its helper files,
 * the kernel modules flat in /lib/modules/<name>.ko and the load plan in /etc/modules/<group>.
 * Owns the layout; the archive format is cpio-newc.ts and the contents come from the builder.
 */
import type { CpioEntry } from "./cpio-newc";
import type { GuestFile } from "./guest-files";
import { renderModuleGroup, type ModuleGroupPlan } from "./module-plan";

/** Everything that goes into the initramfs. */
export interface InitramfsParts {
  busybox: Buffer;
  /** Applet paths from `busybox --list-full`, e.g. `bin/sh`, `usr/bin/[`. */
  applets: string[];
  guestFiles: GuestFile[];
  /** Module name → .ko contents, for every module of every group. */
  modules: Map<string, Buffer>;
  moduleGroups: ModuleGroupPlan[];
  /** Lines of /etc/vmbranch-release (what this image is), `key=value`. */
  release: Record<string, string>;
}

/** Directories every guest needs, mount points included. */
const BASE_DIRS = ["bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "run", "tmp", "etc", "lib/modules", "root", "mnt", "var/log"];

/** Parses `busybox --list-full` output into applet paths (relative, without busybox itself). */
export function parseBusyboxApplets(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim().replace(/^\/+/, ""))
    .filter((l) => l.length > 0 && l !== "bin/busybox");
}

function parents(p: string): string[] {
  const parts = p.split("/");
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join("/"));
}

/** The archive entries, directories first (parents before children), in a deterministic order. */
export function initramfsEntries(parts: InitramfsParts): CpioEntry[] {
  const files: CpioEntry[] = [];
  files.push({ kind: "file", path: "bin/busybox", data: parts.busybox, mode: 0o755 });
  for (const applet of [...new Set(parts.applets)].sort()) {
    files.push({ kind: "symlink", path: applet, target: "/bin/busybox" });
  }
  for (const f of parts.guestFiles) files.push({ kind: "file", path: f.path, data: f.data, mode: f.mode });
  for (const group of parts.moduleGroups) {
    files.push({ kind: "file", path: `etc/modules/${group.name}`, data: Buffer.from(renderModuleGroup(group)), mode: 0o644 });
    for (const name of group.levels.flat()) {
      const ko = parts.modules.get(name);
      if (!ko) throw new Error(`module ${name} is planned but was not provided`);
      files.push({ kind: "file", path: `lib/modules/${name}.ko`, data: ko, mode: 0o644 });
    }
  }
  const release = Object.entries(parts.release).map(([k, v]) => `${k}=${v}\n`).join("");
  files.push({ kind: "file", path: "etc/vmbranch-release", data: Buffer.from(release), mode: 0o644 });

  const dirs = new Set<string>();
  for (const d of BASE_DIRS) for (const p of [...parents(d), d]) dirs.add(p);
  for (const f of files) for (const p of parents(f.path)) dirs.add(p);
  const dirEntries: CpioEntry[] = [...dirs].sort().map((d) => ({ kind: "dir", path: d, mode: d === "tmp" ? 0o1777 : 0o755 }));
  // The kernel opens /dev/console for init's stdio before init can mount devtmpfs.
  const console: CpioEntry = { kind: "chardev", path: "dev/console", major: 5, minor: 1, mode: 0o600 };
  return [...dirEntries, console, ...files];
}
