/**
 * RAM images of snapshots. After a loader wrote one, every page exists in the file, zero pages
 * included; punching holes where pages are zero gives that memory back — restored VMs read a
 * hole as a zero page, and nothing else changes.
 */
import { execFile } from "node:child_process";

/** Deallocate the all-zero blocks of `path` (util-linux `fallocate --dig-holes`); failures only cost memory. */
export function digHoles(path: string): Promise<void> {
  return new Promise((resolve) => {
    execFile("fallocate", ["--dig-holes", path], { timeout: 120_000 }, () => resolve());
  });
}
