/**
 * The `@pulumi/pulumi` versions the provider works with, checked when a program declares its
 * first vmbranch resource or looks one up. The peer range in package.json (`^3.259.0`) is only
 * advice to npm; the provider relies on behaviour of the engine's Node.js dynamic-provider host,
 * which runs from the same `@pulumi/pulumi` as the program: `read` returning inputs (refresh),
 * errors carrying an id recorded as partial creates, and stack config reaching `configure`.
 */

/** Oldest `@pulumi/pulumi` the provider is tested with. */
export const MIN_PULUMI_VERSION = "3.259.0";

let checked = false;

/** The version of the `@pulumi/pulumi` this program loads. */
function loadedPulumiVersion(): string {
  return (require("@pulumi/pulumi/version") as { version: string }).version;
}

/** Why `version` cannot run the provider, or undefined when it can (3.x, at least MIN_PULUMI_VERSION). */
export function unsupportedPulumiReason(version: string): string | undefined {
  const [major, minor, patch] = version.split(/[.+-]/).map(Number) as [number, number, number];
  const [minMajor, minMinor, minPatch] = MIN_PULUMI_VERSION.split(".").map(Number) as [number, number, number];
  const tooOld = major === minMajor && (minor < minMinor || (minor === minMinor && patch < minPatch));
  if (major === minMajor && !tooOld) return undefined;
  return `vmbranch needs @pulumi/pulumi ^${MIN_PULUMI_VERSION} (3.x from ${MIN_PULUMI_VERSION} on), but this program loads @pulumi/pulumi ${version}: run 'npm install @pulumi/pulumi@^${MIN_PULUMI_VERSION}'`;
}

/** Throw, once per program, when the loaded `@pulumi/pulumi` is outside the supported range. */
export function requireSupportedPulumi(version: () => string = loadedPulumiVersion): void {
  if (checked) return;
  const reason = unsupportedPulumiReason(version());
  if (reason !== undefined) throw new Error(reason);
  checked = true;
}
