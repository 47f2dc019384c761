// Pulumi entry point of the volume-workflow example (`pulumi up` in this directory): the program
// lives in program.ts so it can also run inline; its outputs become the stack's.
import { program } from "./program";

const out = program();
export const volume = out.volume;
export const instance = out.instance;
export const generation = out.generation;
export const hostPort = out.hostPort;
export const url = out.url;
export const attachedTo = out.attachedTo;
