/**
 * Failpoints: named places in multi-step operations where a test makes serve fail on purpose —
 * be killed (SIGKILL, as a power cut or an OOM kill would), throw, or stall — to prove that every
 * step can fail and nothing is lost (docs/architecture.md, "Failpoints"). This file is the one
 * list of them. They are inert unless `VMBRANCH_FAILPOINTS` names them when serve starts, e.g.
 * `VMBRANCH_FAILPOINTS="snapshot.after-transaction=kill;flatten.after-stream=error"`; when none is
 * set, a failpoint is one comparison.
 */
import { setTimeout as sleep } from "node:timers/promises";

/** Every failpoint and the instant it marks. */
export const FAILPOINTS = {
  "snapshot.after-overlays": "a live snapshot added its overlays to the source QEMU, before the pause",
  "snapshot.loader-started": "a loader (live snapshot or suspend) waits for the source's state; a live snapshot's source may be frozen by its guest agent meanwhile",
  "snapshot.after-transaction": "the source's read-write disks switched to their overlays; the source is paused",
  "snapshot.after-capture": "the source resumed after the capture; the store does not know the new overlays yet",
  "snapshot.after-commit": "the store recorded the freeze and the pending snapshot; RAM is still being copied",
  "snapshot.before-ready": "the RAM image and device state are written; the snapshot is not marked ready",
  "snapshot.after-release-rows": "a snapshot's rows are deleted (its branch runs, or it was given up); its files and the disk layers only it kept are not released yet",
  "branch.batch-after-record": "one branch of a batch (`count`) is recorded after the live snapshot; the others are not yet",
  "branch.before-restore": "the branch's disks are made from the snapshot; its VM is not started",
  "suspend.after-save": "the suspended VM's state is saved and its QEMU ended; standby is not recorded",
  "freeze.after-transaction": "a volume a running VM writes switched to its overlay (clone, template); the store does not know it yet",
  "clone.after-freeze": "a clone's source is frozen; the clone's head does not exist yet",
  "import.after-extract": "an import filled its temporary directory; the volume's disk is not made yet",
  "flatten.before-rename": "an offline flatten's standalone copy is on disk beside the head; the head is unchanged",
  "flatten.before-flush": "a flatten through a running VM concluded (the head's header stands alone); the head is not flushed yet",
  "flatten.after-stream": "a flatten copied the backing chain into the head; the store still names the parent",
  "start.after-launch": "a VM process runs; its state is not recorded as running yet",
  "create.before-start": "a new instance's row, ports and volumes (their disks) are recorded; its VM is not started",
  "stop.before-kill": "a stop recorded the instance as stopping; its VM still runs",
  "template.after-freeze": "a volume template's source is frozen; the template's row does not exist yet",
  "template.before-instance-commit": "an instance and its volumes were checked for conversion into a template; nothing is recorded",
  "resize.after-grow": "a volume's disk and filesystem grew; the store still records the old size",
  "delete.after-rows": "an instance's rows are deleted; its volumes' files are not",
  "delete.after-volume-row": "a volume's row is deleted; its disk file and layers are not released yet",
} as const;

/** The name of a failpoint. */
export type FailpointName = keyof typeof FAILPOINTS;

type Action = { kind: "kill" } | { kind: "error" } | { kind: "delay"; ms: number };

/** Thrown by a failpoint whose action is `error`. */
export class FailpointError extends Error {
  override name = "FailpointError";
}

let armed: Map<string, Action> | null = null;

/**
 * Arm the failpoints named in `spec` (`name=action;…`, action `kill`, `error` or `delay:MS`);
 * throws on an unknown name or action, so a typo is not a silently passing test.
 */
export function armFailpoints(spec: string | undefined): void {
  armed = null;
  if (!spec?.trim()) return;
  const map = new Map<string, Action>();
  for (const part of spec.split(";").map((s) => s.trim()).filter(Boolean)) {
    const [name, action = ""] = part.split("=").map((s) => s.trim()) as [string, string?];
    if (!(name in FAILPOINTS)) throw new Error(`VMBRANCH_FAILPOINTS: unknown failpoint '${name}' (known: ${Object.keys(FAILPOINTS).join(", ")})`);
    const delay = /^delay:(\d+)$/.exec(action);
    if (action === "kill" || action === "error") map.set(name, { kind: action });
    else if (delay) map.set(name, { kind: "delay", ms: Number(delay[1]) });
    else throw new Error(`VMBRANCH_FAILPOINTS: '${part}': the action must be kill, error or delay:MS`);
  }
  armed = map;
}

const NOTHING = Promise.resolve();

/** Pass failpoint `name`: nothing happens unless it is armed. */
export function failpoint(name: FailpointName): Promise<void> {
  if (armed === null) return NOTHING;
  const action = armed.get(name);
  if (!action) return NOTHING;
  process.stderr.write(`vmbranch: failpoint ${name}: ${action.kind}\n`);
  if (action.kind === "kill") {
    process.kill(process.pid, "SIGKILL");
    // SIGKILL is delivered before this line matters; never continue past a kill point.
    return new Promise<void>(() => {});
  }
  if (action.kind === "error") return Promise.reject(new FailpointError(`failpoint ${name} failed the operation on purpose`));
  return sleep(action.ms);
}
