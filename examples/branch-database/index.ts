// Pulumi entry point of the branch-database example (`pulumi up` in this directory): the program
// lives in program.ts so `npm run demo` can also run it inline; its outputs become the stack's.
import { program } from "./program";

const out = program();
export const volume = out.volume;
export const db = out.db;
export const dbUrl = out.dbUrl;
export const branches = out.branches;
