/**
 * Lookups of things a program references but does not manage (`getInstance`, `getVolume`,
 * `getVolumeTemplate`): one GET each, answered as plain typed data in the same camelCase terms as
 * the resources' outputs. They run where the program runs, with the program's stack config and
 * environment (the same order as the provider's connection). The result types are declared here
 * without the SDK's types, so a program's type check never has to load the wire schemas.
 */
import type { Volume, VmbranchClient } from "vmbranch/sdk";
import { connectionSettings, withClient } from "./connection";
import { failure } from "./errors";
import type { InstanceOutputs } from "./instance-model";
import { instanceOutputs } from "./instance-outputs";

/** The stack config's connection settings (`vmbranch:endpoint`, `vmbranch:token`), where given. */
export interface LookupConnection {
  endpoint?: string;
  token?: string;
}

/** Which object to look up: by `name` or by `uuid` (exactly one). */
export interface LookupArgs {
  name?: string;
  uuid?: string;
}

/** An instance as `getInstance` reports it: the Instance resource's outputs without the provider's bookkeeping. */
export type InstanceInfo = Omit<
  InstanceOutputs,
  "schemaVersion" | "namePrefix" | "autoNamed" | "managedInputs" | "timeouts" | "readiness" | "waitForExit" | "triggers" | "branchFrom" | "cloneOptions" | "volumes" | "ports"
>;

/** A volume (a clone too) as `getVolume` reports it. */
export interface VolumeInfo {
  uuid: string;
  name: string;
  /** `available`, `mounted`, `pending` (a clone whose data is not ready), `error`. */
  state: string;
  kind: "block" | "managed";
  sizeMb: number | null;
  filesystem: string | null;
  hostPath: string | null;
  uid: number | null;
  gid: number | null;
  /** The volume template it was made or cloned from. */
  template: string | null;
  /** For a clone: what it was cloned from. */
  sourceName: string | null;
  sourceUuid: string | null;
  tags: string[];
  deleteLock: boolean;
  /** Names of the instances it is attached to. */
  attachedTo: string[];
  /** False for an instance's inline volume, which dies with it. */
  persistent: boolean;
  createdAt: string;
  /** The host its data lives on; null from servers older than hosts. */
  host: string | null;
  /** `online`, or `offline` once its host's heartbeats stopped; null from servers older than host failure. */
  hostState: string | null;
}

/** A volume template as `getVolumeTemplate` reports it. */
export interface VolumeTemplateInfo {
  uuid: string;
  name: string;
  sizeMb: number | null;
  filesystem: string | null;
  /** The volume it was frozen from (when made with `mode: "copy"`, as the VolumeTemplate resource does). */
  sourceVolumeName: string | null;
  sourceVolumeUuid: string | null;
  tags: string[];
  deleteLock: boolean;
  /** How many volumes depend on it (it cannot be deleted while any do). */
  clones: number;
  createdAt: string;
}

function idOf(kind: string, args: LookupArgs): string {
  const given = [args.name, args.uuid].filter((v) => typeof v === "string" && v !== "");
  if (given.length !== 1) throw new Error(`vmbranch: looking up ${kind}: give exactly one of 'name' or 'uuid'`);
  return given[0] as string;
}

async function lookup<T>(kind: string, args: LookupArgs, config: LookupConnection, env: NodeJS.ProcessEnv, get: (client: VmbranchClient, id: string) => Promise<T>): Promise<T> {
  const id = idOf(kind, args);
  const settings = connectionSettings(env, config);
  return withClient(async (client) => {
    try {
      return await get(client, id);
    } catch (err) {
      throw failure(`looking up ${kind} '${id}'`, err);
    }
  }, { settings });
}

/** The instance named (or with the uuid) in `args`. */
export function lookupInstance(args: LookupArgs, config: LookupConnection, env: NodeJS.ProcessEnv = process.env): Promise<InstanceInfo> {
  return lookup("instance", args, config, env, async (client, id) => {
    const { schemaVersion: _v, namePrefix: _p, autoNamed: _a, managedInputs: _m, timeouts: _t, readiness: _r, waitForExit: _w, triggers: _g, branchFrom: _b, cloneOptions: _c, volumes: _vs, ports: _ps, ...info } =
      instanceOutputs(await client.instances.get(id), {});
    return info;
  });
}

/** The volume (or clone) named (or with the uuid) in `args`. */
export function lookupVolume(args: LookupArgs, config: LookupConnection, env: NodeJS.ProcessEnv = process.env): Promise<VolumeInfo> {
  return lookup("volume", args, config, env, async (client, id) => volumeInfo(await client.volumes.get(id)));
}

/** The volume template named (or with the uuid) in `args`. */
export function lookupVolumeTemplate(args: LookupArgs, config: LookupConnection, env: NodeJS.ProcessEnv = process.env): Promise<VolumeTemplateInfo> {
  return lookup("volume template", args, config, env, async (client, id) => {
    const v = await client.volumes.templates.get(id);
    return {
      uuid: v.uuid,
      name: v.name,
      sizeMb: v.size_mb,
      filesystem: v.filesystem,
      sourceVolumeName: v.clone?.source.name ?? null,
      sourceVolumeUuid: v.clone?.source.uuid ?? null,
      tags: v.tags,
      deleteLock: v.delete_lock,
      clones: v.clones,
      createdAt: v.created_at,
    };
  });
}

function volumeInfo(v: Volume): VolumeInfo {
  return {
    uuid: v.uuid,
    name: v.name,
    state: v.state,
    kind: v.kind,
    sizeMb: v.size_mb,
    filesystem: v.filesystem,
    hostPath: v.host_path,
    uid: v.uid,
    gid: v.gid,
    template: v.template?.name ?? null,
    sourceName: v.clone?.source.name ?? null,
    sourceUuid: v.clone?.source.uuid ?? null,
    tags: v.tags,
    deleteLock: v.delete_lock,
    attachedTo: v.attached_to.map((a) => a.name),
    persistent: v.persistent,
    createdAt: v.created_at,
    host: v.host ?? null,
    hostState: v.host_state ?? null,
  };
}
