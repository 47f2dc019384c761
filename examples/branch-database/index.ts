// Pulumi entry point of the branch-database example: the program lives in program.ts so tests
// and `npm run demo` can run it inline; its outputs become the stack's.
import { program } from "./program";

const out = program();
export const volume = out.volume;
export const db = out.db;
export const dbUrl = out.dbUrl;
export const branches = out.branches;
