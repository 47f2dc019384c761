/**
 * `pulumi-resource-vmbranch`: the entry point of the schema-based resource plugin, which the
 * Pulumi engine starts once per vmbranch provider (docs/provider.md, "The schema-based
 * provider"). Bundled with everything it needs into one file by scripts/build.mjs.
 */
import { engineAddress } from "./pulumi-runtime";
import { serve } from "./server";

declare const __VMBRANCH_VERSION__: string;

// The engine passes its address as the one argument: only Construct uses it (a component's
// children are registered through the engine); otherwise the plugin connects to nothing on its own.
serve(typeof __VMBRANCH_VERSION__ === "string" ? __VMBRANCH_VERSION__ : "0.0.0", engineAddress(process.argv.slice(2))).catch((err: unknown) => {
  process.stderr.write(`pulumi-resource-vmbranch: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
