/**
 * Which provider/impl module serves each resource type and function of the plugin: the same
 * modules the dynamic resources load, so the two providers share check, diff and CRUD and cannot
 * drift. Owns only the table.
 */
import type { DiffDetail } from "../impl/instance-diff";
import * as checkpoint from "../impl/checkpoint";
import * as instance from "../impl/instance";
import { lookupInstance, lookupVolume, lookupVolumeTemplate, type LookupArgs, type LookupConnection } from "../impl/lookups";
import type { CheckOptions } from "../impl/naming";
import type { OperationOptions } from "../impl/timeouts";
import * as volume from "../impl/volume";
import * as volumeClone from "../impl/volume-clone";
import * as volumeTemplate from "../impl/volume-template";

type Props = Record<string, unknown>;

/** What an impl module offers the plugin for one resource type. */
export interface ResourceImpl {
  check(olds: Props, news: Props, opts?: CheckOptions): Promise<{ inputs: object; failures: { property: string; reason: string }[] }>;
  diffDetail(id: string, olds: Props, news: Props): Promise<DiffDetail>;
  create(inputs: Props, opts?: OperationOptions): Promise<{ id: string; outs: object }>;
  read(id: string, props?: Props): Promise<{ id?: string; props?: object; inputs?: object }>;
  update(id: string, olds: Props, news: Props, opts?: OperationOptions): Promise<{ outs: object }>;
  remove(id: string, props: Props, opts?: OperationOptions): Promise<void>;
}

/** The resource types by token. */
export const RESOURCE_IMPLS: Record<string, ResourceImpl> = {
  "vmbranch:index:Instance": instance,
  "vmbranch:index:Volume": volume,
  "vmbranch:index:VolumeTemplate": volumeTemplate,
  "vmbranch:index:VolumeClone": volumeClone,
  "vmbranch:index:Checkpoint": checkpoint,
};

/** The functions by token. */
export const FUNCTION_IMPLS: Record<string, (args: LookupArgs, connection: LookupConnection) => Promise<object>> = {
  "vmbranch:index:getInstance": lookupInstance,
  "vmbranch:index:getVolume": lookupVolume,
  "vmbranch:index:getVolumeTemplate": lookupVolumeTemplate,
};

/** The type token of a resource URN (`urn:pulumi:stack::project::[parent$]type::name`). */
export function typeOfUrn(urn: string): string {
  const parts = urn.split("::");
  const qualified = parts[2] ?? "";
  return qualified.split("$").pop() ?? qualified;
}
