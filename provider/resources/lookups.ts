/**
 * Lookups for programs that reference vmbranch objects they do not manage: `getInstance`,
 * `getVolume` and `getVolumeTemplate` return plain typed data (a Promise), and their `...Output`
 * forms take inputs and return an Output. They read the server when the program runs (in
 * `preview` too), connected like the provider: `VMBRANCH_ENDPOINT` / `VMBRANCH_TOKEN` when set,
 * else the stack config `vmbranch:endpoint` / `vmbranch:token`, else the local defaults. To pull
 * an object into the stack as a read-only resource instead, use `Instance.get(name, id)` and the
 * like.
 */
import * as pulumi from "@pulumi/pulumi";
import { lookupInstance, lookupVolume, lookupVolumeTemplate, type InstanceInfo, type LookupArgs, type LookupConnection, type VolumeInfo, type VolumeTemplateInfo } from "../impl/lookups";
import { requireSupportedPulumi } from "./pulumi-version";

export type { InstanceInfo, LookupArgs, VolumeInfo, VolumeTemplateInfo };

/** What to look up, as inputs: `name` or `uuid`. */
export interface LookupInputArgs {
  name?: pulumi.Input<string>;
  uuid?: pulumi.Input<string>;
}

/** The program's stack config for the connection (secrets come decrypted, as the engine passes them). */
function programConnection(): LookupConnection {
  requireSupportedPulumi();
  const read = (key: string) => {
    const v = pulumi.runtime.getConfig(key);
    return v !== undefined && v.trim() !== "" ? v.trim() : undefined;
  };
  return { endpoint: read("vmbranch:endpoint"), token: read("vmbranch:token") };
}

/** The instance with this `name` (or `uuid`), as the server has it now. */
export function getInstance(args: LookupArgs): Promise<InstanceInfo> {
  return lookupInstance(args, programConnection());
}

/** `getInstance` for inputs. */
export function getInstanceOutput(args: LookupInputArgs): pulumi.Output<InstanceInfo> {
  return pulumi.output(args).apply((a) => getInstance(a));
}

/** The volume (a clone too) with this `name` (or `uuid`), as the server has it now. */
export function getVolume(args: LookupArgs): Promise<VolumeInfo> {
  return lookupVolume(args, programConnection());
}

/** `getVolume` for inputs. */
export function getVolumeOutput(args: LookupInputArgs): pulumi.Output<VolumeInfo> {
  return pulumi.output(args).apply((a) => getVolume(a));
}

/** The volume template with this `name` (or `uuid`), as the server has it now. */
export function getVolumeTemplate(args: LookupArgs): Promise<VolumeTemplateInfo> {
  return lookupVolumeTemplate(args, programConnection());
}

/** `getVolumeTemplate` for inputs. */
export function getVolumeTemplateOutput(args: LookupInputArgs): pulumi.Output<VolumeTemplateInfo> {
  return pulumi.output(args).apply((a) => getVolumeTemplate(a));
}
