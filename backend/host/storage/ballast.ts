/**
 * The data directory's emergency ballast (as CockroachDB keeps one): a file of real blocks that
 * serve writes at start and deletes the moment its filesystem is full. The store shares that
 * filesystem with the disks the guests grow, so when a guest fills it, the write that records the
 * VM's stall (or a request's failure) would fail too; freeing the ballast leaves the store room to
 * commit the truth. It is written again at the next start.
 */
import { closeSync, fsyncSync, openSync, statSync, unlinkSync, writeSync } from "node:fs";

/** Size of the ballast: far more than the store needs to record errors, little on any real disk. */
export const BALLAST_BYTES = 8 * 1024 * 1024;

/** The ballast file of one data directory. */
export class Ballast {
  constructor(
    readonly path: string,
    private readonly bytes = BALLAST_BYTES,
  ) {}

  /**
   * Write the ballast unless it is there whole. Returns null, or why it could not (the disk is
   * already too full): serve then runs without the reserve and says so.
   */
  ensure(): string | null {
    const size = (() => {
      try {
        return statSync(this.path).size;
      } catch {
        return -1;
      }
    })();
    if (size === this.bytes) return null;
    const chunk = Buffer.alloc(1024 * 1024);
    let fd: number | null = null;
    try {
      // Zeros written, not a sparse file or a preallocation a filesystem may fake: the blocks are real.
      fd = openSync(this.path, "w", 0o600);
      for (let done = 0; done < this.bytes; done += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, this.bytes - done));
      fsyncSync(fd);
      return null;
    } catch (err) {
      this.release();
      return (err as Error).message;
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }

  /** Delete the ballast (synchronously: callers are inside a store write); true when that freed room. */
  release(): boolean {
    try {
      unlinkSync(this.path);
      return true;
    } catch {
      return false;
    }
  }
}
