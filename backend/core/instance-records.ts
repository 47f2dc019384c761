/**
 * The one factory of instance records: a new instance, template instance, branch, loaded
 * checkpoint or checkpoint row starts from the same defaults (stopped, never started, no VM), and
 * one made from a source (a branch, a template, a checkpoint) takes the source's machine under the
 * clone rules (clone-identity.ts).
 */
import type { InstanceCreateRequest } from "vmbranch/sdk";
import type { InstanceRecord } from "../store/records";
import { cloneIdentity, cloneLabels } from "./clone-identity";
import { newUuid, now } from "./identity";

/** What a new instance record needs; everything else starts at its default. */
export type InstanceBasics = Pick<
  InstanceRecord,
  "name" | "image" | "memoryMb" | "vcpus" | "args" | "env" | "hostname" | "mac" | "smbiosSerial" | "tags" | "annotations" | "deleteLock" | "autostart" | "outboundNetwork"
>;

/** A new record: stopped, never started, no VM; `more` sets anything else (state, lineage, …). */
export function newInstanceRecord(basics: InstanceBasics, more: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    uuid: newUuid(), state: "stopped", isTemplate: false, createdAt: now(), startedAt: null, stoppedAt: null, bootTimeMs: null, exitCode: null,
    stopReason: null, startCount: 0, accelerator: null, snapshotUuid: null, template: null, branch: null, pid: null, error: null,
    ...basics,
    ...more,
  };
}

/** A host name derived from an instance name (names allow '.' and '_', host names do not). */
export function hostnameFor(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/^-+|-+$/g, "").slice(0, 63) || "vm";
}

/**
 * A new record with the machine of `source` (a branch, a template instance, a loaded checkpoint):
 * labels and identity under the clone rules; a warm start runs the source's kernel, which keeps
 * the source's host name until it reboots.
 */
export function instanceFromSource(source: InstanceRecord, req: InstanceCreateRequest, name: string, warm: boolean, more: Partial<InstanceRecord> = {}): InstanceRecord {
  const labels = cloneLabels(source, req);
  const identity = cloneIdentity(source, req, warm);
  return newInstanceRecord(
    {
      name, image: source.image, memoryMb: source.memoryMb, vcpus: source.vcpus, args: source.args, env: source.env,
      hostname: warm ? source.hostname : (req.hostname ?? hostnameFor(name)), mac: identity.mac, smbiosSerial: identity.smbiosSerial,
      tags: labels.tags, annotations: labels.annotations, deleteLock: req.delete_lock ?? false, autostart: req.autostart ?? true,
      outboundNetwork: req.outbound_network ?? source.outboundNetwork,
    },
    // Placed beside its source (core/service.ts decides; a source's memory and disks are files on its host).
    { host: req.host ?? source.host ?? null, ...more },
  );
}
