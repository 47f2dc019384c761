/**
 * Auto-naming, like Pulumi's own providers: a resource without `name` gets
 * `<logical name>-<7 random hex characters>`, chosen once in `check` and reused on every later
 * update, so a create-before-delete replacement (for which the engine calls `check` again without
 * old inputs) gets a fresh name and never collides with the resource it replaces. A name the user
 * fixed asks for delete-before-replace instead. Owns only the name; validation is the checks'.
 */
import { createHash, randomBytes } from "node:crypto";
import { isUnknown } from "./values";

/** The inputs naming reads and writes (every resource has them). */
export interface NamingInputs {
  /** The name the user asked for, or the auto-name `check` chose. */
  name?: string;
  /** The resource's logical name in the program, set by the resource's constructor. */
  namePrefix?: string;
  /** True when `name` was chosen by the provider, not by the user. */
  autoNamed?: boolean;
}

/** Length of the random suffix (Pulumi uses 7 hex characters too). */
export const AUTO_NAME_SUFFIX_LENGTH = 7;
// API names: 1-63 characters of [A-Za-z0-9._-], starting with a letter or digit.
const MAX_NAME_LENGTH = 63;

/** Make a logical name usable as the prefix of an API name: invalid characters become '-'. */
export function sanitizePrefix(prefix: string): string {
  const cleaned = prefix.replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "");
  const room = MAX_NAME_LENGTH - AUTO_NAME_SUFFIX_LENGTH - 1;
  return (cleaned === "" ? "vmb" : cleaned).slice(0, room);
}

/** What `check` may receive besides the inputs (the schema-based plugin passes the engine's seed). */
export interface CheckOptions {
  /**
   * The engine's random seed for this resource: the same seed gives the same auto-name, so a
   * `pulumi up --plan` or a second preview names resources as the first one did.
   */
  randomSeed?: Uint8Array;
}

/** A fresh auto-name for `prefix`: `<prefix>-<7 hex>`, derived from `seed` when given. */
export function autoName(prefix: string, seed?: Uint8Array): string {
  const clean = sanitizePrefix(prefix);
  const hex = seed && seed.length > 0 ? createHash("sha256").update(seed).update(clean).digest("hex") : randomBytes(4).toString("hex");
  return `${clean}-${hex.slice(0, AUTO_NAME_SUFFIX_LENGTH)}`;
}

/**
 * Decide the name of `news` in `check`: the user's when given; otherwise the previous auto-name
 * when `olds` carries one (an update), else a new one (a create, or a replacement's second check).
 */
export function resolveName<T extends NamingInputs>(olds: NamingInputs | undefined, news: T, opts: CheckOptions = {}): T & { name: string; autoNamed: boolean } {
  if (news.name !== undefined && news.name !== null) return { ...news, name: news.name, autoNamed: false };
  const prefix = typeof news.namePrefix === "string" && !isUnknown(news.namePrefix) ? news.namePrefix : "vmb";
  const reuse = olds?.autoNamed === true && typeof olds.name === "string" && !isUnknown(olds.name) ? olds.name : undefined;
  return { ...news, name: reuse ?? autoName(prefix, opts.randomSeed), autoNamed: true };
}

/** True when the user fixed the name, so a replacement must delete the old resource first. */
export function nameIsFixed(inputs: NamingInputs): boolean {
  return inputs.autoNamed !== true;
}
