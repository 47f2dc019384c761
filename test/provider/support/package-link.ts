/**
 * The engine's dynamic-provider process loads our implementation with
 * `require("vmbranch/provider/impl/...")`, resolved from its working directory, which for inline
 * programs is the test process's (the repository root). A user's project has `vmbranch` in its
 * node_modules; the repository itself needs `node_modules/vmbranch → ..` for the same lookup.
 * Made here when missing, until scripts/setup makes it (see docs/provider.md, "Developing").
 */
import { existsSync, lstatSync, readlinkSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";

const REPO = join(__dirname, "..", "..", "..");

/** Ensure `node_modules/vmbranch` points at the repository, and that the package is built. */
export function ensurePackageLink(): void {
  const link = join(REPO, "node_modules", "vmbranch");
  let present = false;
  try {
    present = lstatSync(link).isSymbolicLink() ? resolve(join(REPO, "node_modules"), readlinkSync(link)) === REPO : true;
  } catch {
    present = false;
  }
  if (!present) {
    try {
      symlinkSync("..", link);
    } catch (err) {
      // Another test file made it at the same moment.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  if (!existsSync(join(REPO, "dist", "provider", "impl", "instance.js")))
    throw new Error("dist/provider is missing: run 'npm run build' (npm test does it)");
}
