/**
 * Renders a GuestConfig into the shell fragment the guest init sources from fw_cfg
 * (guest-protocol.ts), and validates everything that is not safely quotable (names, paths,
 * addresses). Owns the variable layout; the init (guest/init) is its only reader. Attaching the
 * file to QEMU (`-fw_cfg name=…,file=…`) is left to the QEMU runtime.
 *
 * Layout (every value single-quoted, counts are plain integers):
 *   VMB_HOSTNAME
 *   VMB_NET=0|1, VMB_NET_ADDRESS (a.b.c.d/prefix), VMB_NET_GATEWAY, VMB_NET_DNS
 *   VMB_ARGC, VMB_ARG_<i>                          i = 0 … ARGC-1, argv of the main process
 *   VMB_ENVC, VMB_ENV_<i>_NAME, VMB_ENV_<i>_VALUE  exported before the main process starts
 *   VMB_MOUNTC, VMB_MOUNT_<i>_KIND (block|9p), _SOURCE (serial or tag), _AT, _READONLY (0|1),
 *     _FSTYPE, _UID, _GID, _MSIZE
 */
import { DEFAULT_9P_MSIZE, type GuestConfig, type GuestMount } from "./guest-protocol";

/** Thrown when a GuestConfig holds a value the guest cannot honour safely. */
export class GuestConfigError extends Error {
  override name = "GuestConfigError";
}

/** Quotes any string (without NUL) as one POSIX shell word: '…' with ' written as '\''. */
export function shellQuote(value: string): string {
  if (value.includes("\0")) throw new GuestConfigError("shell values cannot contain NUL bytes");
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
// virtio serials and 9p tags end up in sysfs and mount(8) arguments: keep them plain.
const DEVICE_ID = /^[A-Za-z0-9._-]+$/;
const FSTYPE = /^[a-z0-9]+$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Checks an environment variable name (`[A-Za-z_][A-Za-z0-9_]*`); throws GuestConfigError. */
export function validateEnvName(name: string): void {
  if (!ENV_NAME.test(name)) throw new GuestConfigError(`invalid environment variable name '${name}'`);
}

/** Checks a host name (RFC 1123, at most 64 characters, the Linux limit); throws GuestConfigError. */
export function validateHostname(hostname: string): void {
  const ok = hostname.length > 0 && hostname.length <= 64 && hostname.split(".").every((l) => HOST_LABEL.test(l));
  if (!ok) throw new GuestConfigError(`invalid hostname '${hostname}'`);
}

/** Checks an absolute guest mount path without `.`/`..` components; throws GuestConfigError. */
export function validateMountPath(at: string): void {
  const parts = at.split("/").slice(1);
  const ok = at.startsWith("/") && at !== "/" && !/[\0\n]/.test(at) && parts.every((p) => p !== "." && p !== ".." && p !== "");
  if (!ok) throw new GuestConfigError(`invalid mount path '${at}': must be absolute and normalised, and not /`);
}

/** Normalises `a.b.c.d[/prefix]` to `a.b.c.d/prefix` (default /24); throws GuestConfigError. */
export function normaliseCidr(address: string): string {
  const [ip, prefix = "24", ...rest] = address.split("/");
  const bits = Number(prefix);
  if (rest.length > 0 || !IPV4.test(ip ?? "") || !/^\d{1,2}$/.test(prefix) || bits > 32) {
    throw new GuestConfigError(`invalid IPv4 address '${address}'`);
  }
  return `${ip}/${bits}`;
}

function validateIpv4(what: string, ip: string): void {
  if (!IPV4.test(ip)) throw new GuestConfigError(`invalid ${what} '${ip}'`);
}

function validateId(id: number, what: string): void {
  if (!Number.isInteger(id) || id < 0 || id > 0xfffffffe) throw new GuestConfigError(`invalid ${what} ${id}`);
}

function mountLines(i: number, m: GuestMount): string[] {
  validateMountPath(m.at);
  const p = `VMB_MOUNT_${i}_`;
  const lines = [`${p}KIND=${m.kind === "block" ? "block" : "9p"}`, `${p}AT=${shellQuote(m.at)}`, `${p}READONLY=${m.readonly ? 1 : 0}`];
  if (m.kind === "block") {
    if (!DEVICE_ID.test(m.serial) || m.serial.length > 20) throw new GuestConfigError(`invalid virtio serial '${m.serial}' (at most 20 of [A-Za-z0-9._-])`);
    if (!FSTYPE.test(m.fstype)) throw new GuestConfigError(`invalid filesystem type '${m.fstype}'`);
    lines.push(`${p}SOURCE=${shellQuote(m.serial)}`, `${p}FSTYPE=${shellQuote(m.fstype)}`, `${p}UID=0`, `${p}GID=0`);
  } else if (m.kind === "9p") {
    if (!DEVICE_ID.test(m.tag) || m.tag.length > 31) throw new GuestConfigError(`invalid 9p mount tag '${m.tag}' (at most 31 of [A-Za-z0-9._-])`);
    validateId(m.uid, "uid");
    validateId(m.gid, "gid");
    const msize = m.msize ?? DEFAULT_9P_MSIZE;
    if (!Number.isInteger(msize) || msize < 4096) throw new GuestConfigError(`invalid 9p msize ${msize}`);
    lines.push(`${p}SOURCE=${shellQuote(m.tag)}`, `${p}FSTYPE=9p`, `${p}UID=${m.uid}`, `${p}GID=${m.gid}`, `${p}MSIZE=${msize}`);
  } else {
    throw new GuestConfigError(`unknown mount kind '${(m as { kind: unknown }).kind}'`);
  }
  return lines;
}

/**
 * Renders the shell fragment for `cfg`; throws GuestConfigError on anything the guest could not
 * honour. The result is deterministic and safe to `.`-source in busybox sh.
 */
export function renderGuestConfig(cfg: GuestConfig): string {
  validateHostname(cfg.hostname);
  const lines = ["# vmbranch guest configuration (rendered by the host; sourced by /init)", `VMB_HOSTNAME=${shellQuote(cfg.hostname)}`];
  if (cfg.network) {
    validateIpv4("gateway", cfg.network.gateway);
    validateIpv4("dns server", cfg.network.dns);
    lines.push("VMB_NET=1", `VMB_NET_ADDRESS=${normaliseCidr(cfg.network.address)}`, `VMB_NET_GATEWAY=${cfg.network.gateway}`, `VMB_NET_DNS=${cfg.network.dns}`);
  } else {
    lines.push("VMB_NET=0");
  }
  lines.push(`VMB_ARGC=${cfg.args.length}`);
  cfg.args.forEach((arg, i) => lines.push(`VMB_ARG_${i}=${shellQuote(arg)}`));
  // Sorted so the same config always renders the same bytes (stable fw_cfg digests).
  const env = Object.entries(cfg.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  lines.push(`VMB_ENVC=${env.length}`);
  env.forEach(([name, value], i) => {
    validateEnvName(name);
    lines.push(`VMB_ENV_${i}_NAME=${name}`, `VMB_ENV_${i}_VALUE=${shellQuote(value)}`);
  });
  const ats = new Set<string>();
  lines.push(`VMB_MOUNTC=${cfg.mounts.length}`);
  // Parents before children (/data before /data/logs); the init mounts in index order.
  const depth = (m: GuestMount) => m.at.split("/").length;
  const mounts = [...cfg.mounts].sort((a, b) => depth(a) - depth(b));
  mounts.forEach((m, i) => {
    if (ats.has(m.at)) throw new GuestConfigError(`two volumes mounted at '${m.at}'`);
    ats.add(m.at);
    lines.push(...mountLines(i, m));
  });
  return lines.join("\n") + "\n";
}
