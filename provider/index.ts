/**
 * The vmbranch Pulumi provider (the package root, `import * as vmbranch from "vmbranch"`):
 * dynamic resources `Instance`, `Volume`, `VolumeTemplate`, `VolumeClone` and `Checkpoint`, with their argument
 * and output types. Connection settings, inputs and what each change does: docs/provider.md.
 */
export { Instance, type InstanceArgs, type InstanceVolumeArgs, type PortArgs, type CloneOptionsArgs } from "./resources/instance";
export { Volume, type VolumeArgs } from "./resources/volume";
export { VolumeTemplate, type VolumeTemplateArgs } from "./resources/volume-template";
export { VolumeClone, type VolumeCloneArgs } from "./resources/volume-clone";
export { Checkpoint, type CheckpointArgs } from "./resources/checkpoint";
export type { AttachedVolume, PublishedPort, ReadinessInput } from "./impl/instance-model";
export type { TimeoutsInput } from "./impl/timeouts";
