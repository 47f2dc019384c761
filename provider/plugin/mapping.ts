/**
 * The pure part of the resource plugin: how the engine's requests map onto provider/impl and back
 * (logical names from URNs, the connection from `Configure`'s variables, `customTimeouts` in
 * seconds, the detailed diff from the impl's replace and update lists). No I/O, no gRPC: unit
 * tests cover it whole.
 */
import type { DiffDetail } from "../impl/instance-diff";
import type { ConfigReader } from "../impl/connection";

/** The kinds of a property's change, as Pulumi's `PropertyDiff.Kind` names them. */
export type PropertyDiffKind = "ADD" | "ADD_REPLACE" | "DELETE" | "DELETE_REPLACE" | "UPDATE" | "UPDATE_REPLACE";

/** The resource's logical name: the last `::` part of its URN (a component's parent types come before it). */
export function logicalName(urn: string): string {
  const i = urn.lastIndexOf("::");
  return i < 0 ? urn : urn.slice(i + 2);
}

/**
 * The inputs `check` hands to the impl: the program's, plus the logical name as the auto-name's
 * prefix (the dynamic resources pass it as `namePrefix`; the engine gives it only in the URN).
 */
export function checkInputs(urn: string, news: Record<string, unknown>): Record<string, unknown> {
  return news.namePrefix === undefined ? { ...news, namePrefix: logicalName(urn) } : news;
}

/**
 * The connection settings of `Configure`: the engine passes each provider input (or stack config
 * value) as `vmbranch:config:<key>`, secrets decrypted; the impl reads `vmbranch:<key>`.
 */
export function configReader(variables: ReadonlyMap<string, string> | Record<string, string>): ConfigReader {
  const lookup = (k: string) => (variables instanceof Map ? variables.get(k) : (variables as Record<string, string>)[k]);
  return {
    get(key: string) {
      const short = key.startsWith("vmbranch:") ? key.slice("vmbranch:".length) : key;
      return lookup(`vmbranch:config:${short}`) ?? lookup(`vmbranch:${short}`);
    },
  };
}

/** An operation's deadline from the engine (`customTimeouts`, in seconds; 0 when none was given) in ms. */
export function timeoutMs(seconds: number | undefined): number | undefined {
  return seconds !== undefined && Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : undefined;
}

const present = (v: unknown) => v !== undefined && v !== null;

/**
 * The detailed diff of one `diff`: every property the impl reports, as an addition, deletion or
 * update (judged on the old and new inputs), replacing when the impl says it replaces.
 */
export function detailedDiff(detail: DiffDetail, oldInputs: Record<string, unknown>, news: Record<string, unknown>): Record<string, PropertyDiffKind> {
  const kind = (field: string, replace: boolean): PropertyDiffKind => {
    const base = !present(oldInputs[field]) && present(news[field]) ? "ADD" : present(oldInputs[field]) && !present(news[field]) ? "DELETE" : "UPDATE";
    return (replace ? `${base}_REPLACE` : base) as PropertyDiffKind;
  };
  const out: Record<string, PropertyDiffKind> = {};
  for (const f of detail.updates) out[f] = kind(f, false);
  for (const f of detail.replaces) out[f] = kind(f, true);
  return out;
}

/** A plain-JSON copy of `value` (no `undefined`, which protobuf's Struct refuses). */
export function plainJson<T>(value: T): T {
  return value === undefined ? value : JSON.parse(JSON.stringify(value));
}

// How the engine marks a secret value in a Struct (Pulumi's "special signature" of secrets).
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

type Json = unknown;
const isPlainObject = (v: Json): v is Record<string, Json> => typeof v === "object" && v !== null && !Array.isArray(v);
const isSecret = (v: Json): v is { value?: Json } => isPlainObject(v) && v[SIG_KEY] === SECRET_SIG;

/** `value` with every secret replaced by what it holds: what the impl reads. */
export function withoutSecrets<T>(value: T): T {
  if (isSecret(value)) return withoutSecrets(value.value) as T;
  if (Array.isArray(value)) return value.map(withoutSecrets) as T;
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutSecrets(v)])) as T;
  return value;
}

function containsSecrets(value: Json): boolean {
  if (isSecret(value)) return true;
  if (Array.isArray(value)) return value.some(containsSecrets);
  if (isPlainObject(value)) return Object.values(value).some(containsSecrets);
  return false;
}

/**
 * `outs` with each property secret whose input of the same name held a secret, objects compared
 * field by field (an array with a secret anywhere is secret whole): what the engine does itself for
 * a provider that does not take secrets. This plugin takes them because the engine requires it of
 * a provider with components (Construct), so it marks its outputs the same way.
 */
export function withSecretsOf(outs: Record<string, Json>, ins: Record<string, Json>): Record<string, Json> {
  const result: Record<string, Json> = { ...outs };
  for (const [key, inValue] of Object.entries(ins)) {
    if (!(key in result)) continue;
    const outValue = result[key];
    if (isPlainObject(outValue) && !isSecret(outValue) && isPlainObject(inValue) && !isSecret(inValue)) result[key] = withSecretsOf(outValue, inValue);
    else if (!isSecret(outValue) && containsSecrets(inValue)) result[key] = { [SIG_KEY]: SECRET_SIG, value: outValue };
  }
  return result;
}
