/**
 * Which host a serve is (docs/cluster.md, "Hosts"): `--host-name`, else the name its data dir
 * recorded at its first start, else the machine's host name; each held to the rules of names,
 * since it appears in the API and is what a request's `host` names.
 */
import { hostname } from "node:os";
import { join } from "node:path";
import { NameSchema } from "vmbranch/sdk";
import { UsageError } from "./command-registry";
import { readPrivateFile, writePrivateFile } from "./private-paths";

/** The data dir's record of its host's name. */
export const HOST_NAME_FILE = "host-name";

/** `given` (`--host-name`), else the machine's host name, when it is a valid name; a UsageError saying which was not. */
export function checkHostName(given: string | undefined, system: () => string = hostname): string {
  const name = given ?? system();
  const parsed = NameSchema.safeParse(name);
  if (parsed.success) return name;
  const why = parsed.error.issues[0]?.message ?? "is not a valid name";
  if (given !== undefined) throw new UsageError(`--host-name '${given}' ${why}`);
  throw new UsageError(`this machine's host name '${name}' cannot name a host (it ${why}); give one with --host-name NAME`);
}

/**
 * The host name of the serve of `dataDir` (held under its lock), recorded in `<data-dir>/host-name`
 * at its first start. Its instances and volumes name that host, so the name outlives a rename of
 * the machine or a container's new host name at each start, which would otherwise leave them all
 * on another host, offline. A `--host-name` other than the recorded one is refused: renaming a
 * host would have to move every row that names it.
 */
export function dataDirHostName(dataDir: string, given: string | undefined, system: () => string = hostname): string {
  const file = join(dataDir, HOST_NAME_FILE);
  const recorded = readPrivateFile(file)?.trim();
  if (!recorded) {
    const name = checkHostName(given, system);
    writePrivateFile(file, `${name}\n`);
    return name;
  }
  if (!NameSchema.safeParse(recorded).success) throw new UsageError(`${file} holds '${recorded}', which cannot name a host; correct the file`);
  if (given !== undefined && given !== recorded)
    throw new UsageError(`--host-name '${given}': this data dir is host '${recorded}' (${file}), the host its instances and volumes name; a host cannot be renamed`);
  return recorded;
}
