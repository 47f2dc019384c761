/**
 * `pulumi-resource-vmbranch`: the entry point of the schema-based resource plugin, which the
 * Pulumi engine starts once per vmbranch provider (docs/provider.md, "The schema-based
 * provider"). Bundled with everything it needs into one file by scripts/build.mjs.
 */
import { serve } from "./server";

declare const __VMBRANCH_VERSION__: string;

// The engine passes its address as the one argument; the plugin connects to nothing on its own.
serve(typeof __VMBRANCH_VERSION__ === "string" ? __VMBRANCH_VERSION__ : "0.0.0").catch((err: unknown) => {
  process.stderr.write(`pulumi-resource-vmbranch: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
