/**
 * The vmbranch Pulumi provider (the package root, `import * as vmbranch from "vmbranch"`):
 * dynamic resources `Instance`, `Volume`, `VolumeTemplate`, `VolumeClone` and `Checkpoint` (each
 * with `get` to read an existing one), the `GoldenImage` component, lookups (`getInstance`,
 * `getVolume`, `getVolumeTemplate`), and their argument and output types. Connection settings,
 * inputs and what each change does: docs/provider.md. The public types never refer to the SDK's
 * wire schemas, so a program type-checks without loading them.
 */
export { Instance, type InstanceArgs, type InstanceVolumeArgs, type PortArgs, type CloneOptionsArgs } from "./resources/instance";
export { Volume, type VolumeArgs } from "./resources/volume";
export { VolumeTemplate, type VolumeTemplateArgs } from "./resources/volume-template";
export { VolumeClone, type VolumeCloneArgs } from "./resources/volume-clone";
export { Checkpoint, type CheckpointArgs } from "./resources/checkpoint";
export { GoldenImage, type GoldenImageArgs, type GoldenImageJobArgs, type GoldenImageInstanceArgs } from "./resources/golden-image";
export {
  getInstance,
  getInstanceOutput,
  getVolume,
  getVolumeOutput,
  getVolumeTemplate,
  getVolumeTemplateOutput,
  type InstanceInfo,
  type VolumeInfo,
  type VolumeTemplateInfo,
  type LookupArgs,
  type LookupInputArgs,
} from "./resources/lookups";
export type { AttachedVolume, PublishedPort, ReadinessInput } from "./impl/instance-model";
export type { TimeoutsInput } from "./impl/timeouts";
