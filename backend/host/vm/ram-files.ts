/**
 * RAM images of snapshots. After a loader wrote one, every page exists in the file, zero pages
 * included; punching holes where pages are zero gives that memory back — restored VMs read a
 * hole as a zero page, and nothing else changes.
 */
import { run } from "../util/exec";

/** Deallocate the all-zero blocks of `path` (util-linux `fallocate --dig-holes`); failures only cost memory. */
export async function digHoles(path: string): Promise<void> {
  await run("fallocate", ["--dig-holes", path]).catch(() => undefined);
}
