// Pulumi entry point of the golden-image example (`pulumi up` in this directory): the program
// lives in program.ts so it can also run inline; its outputs become the stack's.
import { program } from "./program";

const out = program();
export const goldenVolume = out.goldenVolume;
export const preparedBy = out.preparedBy;
export const preparationExitCode = out.preparationExitCode;
export const template = out.template;
export const templateSizeMb = out.templateSizeMb;
export const sites = out.sites;
export const urls = out.urls;
