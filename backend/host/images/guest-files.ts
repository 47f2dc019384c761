/**
 * The guest init's own files (backend/host/images/guest/), rendered for the initramfs: `@@NAME@@`
 * tokens are replaced with the values of guest-protocol.ts, so host and guest share one definition
 * of markers, exit codes and the fw_cfg name. Owns finding the files at run time (from the
 * sources, or next to the bundled CLI in dist/) and their content hash for the build cache.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { AGENT_MAX_FREEZE_S, AGENT_PREFIX, AGENT_TTY, AGENT_VERSION, ERROR_MARKER, EXIT_MARKER, GUEST_CONFIG_FW_CFG_NAME, INIT_EXIT_CODES, READY_MARKER } from "./guest-protocol";

/** Seconds the power-button handler waits after SIGTERM before it sends SIGKILL. */
export const STOP_GRACE_SECONDS = 5;

/** A rendered guest file and where it goes in the initramfs. */
export interface GuestFile {
  /** Path inside the guest, without the leading slash. */
  path: string;
  data: Buffer;
  mode: number;
}

/** Source file (under guest/) → initramfs path. */
const FILES: { source: string; target: string }[] = [
  { source: "init", target: "init" },
  // busybox acpid runs PWRF/00000080 under its config directory for the power button.
  { source: "power-button", target: "etc/acpi/PWRF/00000080" },
  { source: "agent", target: "sbin/vmbranch-agent" },
];

const TOKENS: Record<string, string> = {
  FW_CFG_NAME: GUEST_CONFIG_FW_CFG_NAME,
  READY_MARKER,
  EXIT_MARKER,
  ERROR_MARKER,
  EXIT_CONFIG: String(INIT_EXIT_CODES.configInvalid),
  EXIT_MOUNT: String(INIT_EXIT_CODES.mountFailed),
  EXIT_NET: String(INIT_EXIT_CODES.networkFailed),
  STOP_GRACE_TENTHS: String(STOP_GRACE_SECONDS * 10),
  AGENT_TTY,
  AGENT_PREFIX,
  AGENT_VERSION: String(AGENT_VERSION),
  AGENT_MAX_FREEZE_S: String(AGENT_MAX_FREEZE_S),
};

/** Finds the guest/ directory: beside this module in the sources, or from dist/ in the bundle. */
export function guestFilesDir(): string {
  const candidates = [path.join(__dirname, "guest"), path.join(__dirname, "..", "backend", "host", "images", "guest")];
  const found = candidates.find((d) => existsSync(path.join(d, "init")));
  if (!found) throw new Error(`guest init files not found (looked in ${candidates.join(", ")})`);
  return found;
}

/** Replaces every `@@NAME@@` in `text`; throws on a token it does not know. */
export function renderTemplate(text: string, tokens: Record<string, string> = TOKENS): string {
  return text.replace(/@@([A-Z0-9_]+)@@/g, (_, name: string) => {
    const value = tokens[name];
    if (value === undefined) throw new Error(`unknown guest template token @@${name}@@`);
    return value;
  });
}

/** The rendered guest files, ready for the initramfs. */
export function loadGuestFiles(dir: string = guestFilesDir()): GuestFile[] {
  return FILES.map(({ source, target }) => ({
    path: target,
    data: Buffer.from(renderTemplate(readFileSync(path.join(dir, source), "utf8")), "utf8"),
    mode: 0o755,
  }));
}

/** sha256 over the rendered files (paths included): part of the build inputs. */
export function guestFilesHash(files: GuestFile[]): string {
  const h = createHash("sha256");
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    h.update(`${f.path}\0${f.mode.toString(8)}\0${f.data.length}\0`);
    h.update(f.data);
  }
  return h.digest("hex");
}
