/**
 * The jail of a confined QEMU: the directory it chroots into once initialised, holding only what
 * that VM may open afterwards. Everything else QEMU needs (kernel, RAM image, device state,
 * sockets, logs, read-only layers) it opens as root while it initialises, outside the jail.
 *
 * What it may open later: QEMU reopens a disk file by name when a live snapshot turns it into a
 * backing file, and opens the overlay a snapshot adds. So every disk file the VM has open for
 * writing is hard-linked into the jail at its own absolute path (QEMU's names stay the true ones)
 * and belongs to the VM while it runs; they go back to the service when it ends. The VM already
 * holds each of them open for writing, so this gives it nothing it did not have. A snapshot loader
 * gets a jail of its own inside its source's, where it listens for the source's state. And a
 * userfaultfd device node lets the source write-protect its RAM for live snapshots without the
 * capability the kernel otherwise asks for that (vm.unprivileged_userfaultfd is 0 by default).
 *
 * The jail and every directory in it belong to root (0711): the VM can use what is there but can
 * neither add nor replace an entry, so nothing it does can redirect what the service links or
 * moves. Only a loader's own directory is the VM's, for the socket and file it writes.
 */
import { chmod, chown, link, lstat, mkdir, readdir, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, sep } from "node:path";

/** A VM's jail on the host and the identity it belongs to. */
export interface Jail {
  /** The directory QEMU chroots into. */
  root: string;
  uid: number;
  gid: number;
}

/** The jail directory of a VM whose run directory is `runDir`. */
export function jailRoot(runDir: string): string {
  return join(runDir, "jail");
}

/** The service's record of the files lent to a jail (beside it, out of the VM's reach). */
function lentRecord(root: string): string {
  return `${root}.lent`;
}

const SERVICE_UID = () => process.getuid?.() ?? 0;
const SERVICE_GID = () => process.getgid?.() ?? 0;

/** Creates `path` (and its parents up to `root`) as directories of the jail: root's, 0711 (the VM may pass through, not change them). */
async function jailDir(root: string, path: string): Promise<void> {
  let at = root;
  for (const part of ["", ...relative(root, path).split(sep).filter(Boolean)]) {
    at = join(at, part);
    await mkdir(at, { recursive: true });
    // Not through mkdir's mode: the service's umask (0077) would take the VM's search right away.
    await chmod(at, 0o711);
  }
}

/** Creates the jail (or takes over an existing one) for `uid`/`gid`, with `userfaultfd` linked in when given. */
export async function prepareJail(root: string, uid: number, gid: number, userfaultfd: string | null): Promise<Jail> {
  await jailDir(root, root);
  // Where a VM with 9p shares gets a /proc of its own (vm-launch.ts); empty otherwise.
  await jailDir(root, join(root, "proc"));
  if (userfaultfd) {
    await jailDir(root, join(root, "dev"));
    const node = join(root, "dev", "userfaultfd");
    if (!(await lstat(node).then(() => true, () => false))) await link(userfaultfd, node);
  }
  return { root, uid, gid };
}

/** The path a jailed QEMU uses for host path `hostPath` inside its jail. Throws when it is outside. */
export function insideJail(jail: Jail, hostPath: string): string {
  const rel = relative(jail.root, hostPath);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) throw new Error(`'${hostPath}' is not inside the jail ${jail.root}`);
  return sep + rel;
}

/**
 * Lends `hostFile` (a regular file of the service) to the VM until `returnLent`: hard-linked into
 * the jail at its own absolute path and owned by the VM. Precondition: same filesystem as the jail.
 */
export async function lendFile(jail: Jail, hostFile: string): Promise<void> {
  const inJail = join(jail.root, hostFile);
  await jailDir(jail.root, dirname(inJail));
  const record = lentRecord(jail.root);
  const lent = await readLent(record);
  if (!lent.includes(hostFile)) await writeFile(record, JSON.stringify([...lent, hostFile]), { mode: 0o600 });
  await rm(inJail, { force: true });
  await link(hostFile, inJail);
  await chown(hostFile, jail.uid, jail.gid);
}

/**
 * Takes `hostFile` back from a VM that never used it (an overlay of a failed snapshot): its link
 * in the jail goes, and the file is the service's again.
 */
export async function withdrawFile(jail: Jail, hostFile: string): Promise<void> {
  await unlink(join(jail.root, hostFile)).catch(() => undefined);
  await chown(hostFile, SERVICE_UID(), SERVICE_GID()).catch(() => undefined);
  const record = lentRecord(jail.root);
  const lent = await readLent(record);
  if (lent.includes(hostFile)) await writeFile(record, JSON.stringify(lent.filter((f) => f !== hostFile)), { mode: 0o600 });
}

async function readLent(record: string): Promise<string[]> {
  return readFile(record, "utf8").then((t) => JSON.parse(t) as string[], () => []);
}

/** Gives every lent file back to the service and empties the jail of them. Only valid once the VM is gone. */
export async function returnLent(root: string): Promise<void> {
  const record = lentRecord(root);
  for (const hostFile of await readLent(record)) {
    // By the host path, in the service's own directory: never through a name in the jail.
    await chown(hostFile, SERVICE_UID(), SERVICE_GID()).catch(() => undefined);
    await unlink(join(root, hostFile)).catch(() => undefined);
  }
  await rm(record, { force: true });
  for (const top of await readdir(root).catch(() => [])) if (top !== "dev" && top !== "proc") await rm(join(root, top), { recursive: true, force: true });
}

/** A loader's jail inside `parent` (the jail of the VM it snapshots): the one directory the VM owns. */
export async function nestedJail(parent: Jail, name: string): Promise<Jail> {
  const root = join(parent.root, name);
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { mode: 0o700 });
  await chown(root, parent.uid, parent.gid);
  return { root, uid: parent.uid, gid: parent.gid };
}
