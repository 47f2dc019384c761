/**
 * What a failed host command or process tells core about itself, as a type: core maps every
 * error that carries one onto HOST_FAILURE (the command and its output to the log, a summary to
 * the client) without knowing which tool or driver failed. Types only.
 */

/**
 * Why a host failure happened, where the client's answer depends on it: `no-space`, a volume's
 * own filesystem too small for what it is given; `host-full`, a write on the host's filesystem
 * failed with ENOSPC (the data directory is full).
 */
export type HostFailureCause = "port-in-use" | "no-space" | "host-full" | "share-unsafe";

/** The details of a failed host command or process. */
export interface HostFailureDetail {
  /** The program that failed, with its first arguments (`qemu-img create -q`). */
  command: string;
  /** A summary that names no host path (`mke2fs failed (exit 1)`, `QEMU exited`): what the client sees. */
  summary: string;
  exitCode: number | null;
  /** Its own output (stderr), for the log only: it may name host paths. */
  output: string;
  cause?: HostFailureCause;
}

/** An error that carries host failure details (HostCommandError, VmStartError). */
export interface HostFailure {
  readonly hostFailure: HostFailureDetail;
}
