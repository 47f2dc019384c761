/**
 * Plans which kernel modules go into the initramfs and in which order the guest init loads them:
 * the dependency closure of the modules we ask for, split into load groups (core, then one group
 * per filesystem loaded only when a volume needs it) and, inside a group, into levels whose
 * members depend only on earlier levels, so the init can insmod a level in parallel. Owns the
 * graph logic; reading modules from disk is done lazily through a ModuleLookup.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { canonicalModuleName, readModuleInfo, type ModuleInfo } from "./kernel-modinfo";

/** A module found in the kernel tree: its info and the path of its .ko file. */
export interface ModuleEntry extends ModuleInfo {
  /** Absolute path of the .ko file (unused by the planner; carried for the builder). */
  file: string;
}

/** Finds a module by (canonical) name; undefined when the kernel has no such module. */
export type ModuleLookup = (name: string) => ModuleEntry | undefined;

/** A named set of modules the init loads together (`/etc/modules/<name>`). */
export interface ModuleGroupSpec {
  name: string;
  modules: string[];
}

/** The load plan of one group: levels in order, names sorted inside a level. */
export interface ModuleGroupPlan {
  name: string;
  levels: string[][];
}

/** Thrown when a module is missing or the dependency graph has a cycle. */
export class ModulePlanError extends Error {
  override name = "ModulePlanError";
}

/** Every module needed to load `roots`, dependencies included (canonical names). Throws ModulePlanError. */
export function moduleClosure(roots: string[], lookup: ModuleLookup): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string, wantedBy: string | undefined) => {
    const canonical = canonicalModuleName(name);
    if (seen.has(canonical)) return;
    const entry = lookup(canonical);
    if (!entry) throw new ModulePlanError(`kernel module '${canonical}' not found${wantedBy ? ` (needed by ${wantedBy})` : ""}`);
    seen.add(canonical);
    for (const dep of entry.depends) visit(dep, canonical);
  };
  for (const root of roots) visit(root, undefined);
  return seen;
}

/**
 * Orders `modules` into levels: a module's level is one more than the deepest of its
 * dependencies that are not `alreadyLoaded`. Every dependency must be in `modules` or
 * `alreadyLoaded`. Throws ModulePlanError on a cycle.
 */
export function loadLevels(modules: Iterable<string>, lookup: ModuleLookup, alreadyLoaded: ReadonlySet<string> = new Set()): string[][] {
  const wanted = new Set([...modules].map(canonicalModuleName).filter((m) => !alreadyLoaded.has(m)));
  const level = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (name: string): number => {
    const known = level.get(name);
    if (known !== undefined) return known;
    if (visiting.has(name)) throw new ModulePlanError(`module dependency cycle through '${name}'`);
    visiting.add(name);
    let depth = 0;
    for (const dep of lookup(name)?.depends ?? []) {
      if (alreadyLoaded.has(dep)) continue;
      if (!wanted.has(dep)) throw new ModulePlanError(`module '${name}' depends on '${dep}', which is not planned`);
      depth = Math.max(depth, depthOf(dep) + 1);
    }
    visiting.delete(name);
    level.set(name, depth);
    return depth;
  };
  const levels: string[][] = [];
  for (const name of [...wanted].sort()) {
    const depth = depthOf(name);
    while (levels.length <= depth) levels.push([]);
    levels[depth]!.push(name);
  }
  return levels.map((l) => l.sort());
}

/** Plans groups in order; a group leaves out what earlier groups already load. Throws ModulePlanError. */
export function planModuleGroups(groups: ModuleGroupSpec[], lookup: ModuleLookup): ModuleGroupPlan[] {
  const loaded = new Set<string>();
  return groups.map((group) => {
    const closure = moduleClosure(group.modules, lookup);
    const levels = loadLevels(closure, lookup, loaded);
    for (const m of closure) loaded.add(m);
    return { name: group.name, levels };
  });
}

/** Renders one group's plan as the init reads it: one level per line, names separated by spaces. */
export function renderModuleGroup(plan: ModuleGroupPlan): string {
  return plan.levels.map((l) => l.join(" ")).join("\n") + "\n";
}

/**
 * A lookup over an unpacked kernel tree (`…/lib/modules/<version>`): files are indexed by name at
 * once, .modinfo is read only for modules that are asked for.
 */
export function moduleTreeLookup(modulesDir: string): ModuleLookup {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const ent of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.name.endsWith(".ko")) files.set(canonicalModuleName(ent.name.slice(0, -3)), p);
    }
  };
  walk(modulesDir);
  const cache = new Map<string, ModuleEntry>();
  return (name) => {
    const canonical = canonicalModuleName(name);
    const cached = cache.get(canonical);
    if (cached) return cached;
    const file = files.get(canonical);
    if (!file) return undefined;
    const entry = { ...readModuleInfo(readFileSync(file), canonical), file };
    cache.set(canonical, entry);
    return entry;
  };
}
