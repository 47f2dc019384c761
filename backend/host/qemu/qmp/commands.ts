/**
 * One QMP command = one typed method (docs/architecture.md, "Rules of the code"): nobody else
 * writes QMP JSON. Each method sends exactly one command on the monitor it wraps and returns QEMU's
 * reply, typed. Sequencing several commands (snapshot, branch, hot-plug and wait for the event) is
 * left to callers.
 */
import { QmpClosedError, QmpCommandError } from "./errors";
import type { QmpMonitor } from "./monitor";
import type {
  BlockDeviceInfo,
  BlockdevOptions,
  BlockInfo,
  BlockJobInfo,
  BlockStats,
  BlockStreamOptions,
  DeviceAddOptions,
  JobInfo,
  MigrationCapability,
  MigrationCapabilityStatus,
  MigrationInfo,
  MigrationParameters,
  StatusInfo,
  TransactionAction,
  VersionInfo,
} from "./types";

/** Per-call options every command accepts. */
export interface QmpCallOptions {
  timeoutMs?: number;
}

/** Typed QMP commands over one monitor connection. */
export class QmpCommands {
  constructor(
    /** The connection the commands go to; events are read from it directly. */
    readonly monitor: QmpMonitor,
  ) {}

  /** `query-status`: the run state. */
  queryStatus(o?: QmpCallOptions): Promise<StatusInfo> {
    return this.monitor.execute("query-status", undefined, o);
  }

  /** `query-version`: the QEMU version of this process. */
  queryVersion(o?: QmpCallOptions): Promise<VersionInfo> {
    return this.monitor.execute("query-version", undefined, o);
  }

  /** `stop`: pause the vCPUs (emits `STOP`). */
  async stop(o?: QmpCallOptions): Promise<void> {
    await this.monitor.execute("stop", undefined, o);
  }

  /** `cont`: resume the vCPUs (emits `RESUME`). Fails while an incoming migration is unfinished. */
  async cont(o?: QmpCallOptions): Promise<void> {
    await this.monitor.execute("cont", undefined, o);
  }

  /** `system_powerdown`: press the ACPI power button; the guest decides what happens next. */
  async systemPowerdown(o?: QmpCallOptions): Promise<void> {
    await this.monitor.execute("system_powerdown", undefined, o);
  }

  /** `quit`: end QEMU at once. Resolves also when QEMU closes the connection before replying. */
  async quit(o?: QmpCallOptions): Promise<void> {
    try {
      await this.monitor.execute("quit", undefined, o);
    } catch (err) {
      if (!(err instanceof QmpClosedError)) throw err;
    }
  }

  /** `query-migrate`: status and counters of the current (or last) migration. */
  queryMigrate(o?: QmpCallOptions): Promise<MigrationInfo> {
    return this.monitor.execute("query-migrate", undefined, o);
  }

  /** `query-migrate-capabilities`: every capability this QEMU knows, with its current state. */
  queryMigrateCapabilities(o?: QmpCallOptions): Promise<MigrationCapabilityStatus[]> {
    return this.monitor.execute("query-migrate-capabilities", undefined, o);
  }

  /** `migrate-set-capabilities`. Only valid while no migration is running. */
  async migrateSetCapabilities(caps: Partial<Record<MigrationCapability, boolean>>, o?: QmpCallOptions): Promise<void> {
    const capabilities = Object.entries(caps).map(([capability, state]) => ({ capability, state: state === true }));
    await this.monitor.execute("migrate-set-capabilities", { capabilities }, o);
  }

  /** `migrate-set-parameters`. */
  async migrateSetParameters(params: MigrationParameters, o?: QmpCallOptions): Promise<void> {
    await this.monitor.execute("migrate-set-parameters", params, o);
  }

  /** `migrate` to `uri` (`file:/path`, `unix:/path`, `fd:name`); returns at once, poll queryMigrate. */
  async migrate(uri: string, o?: QmpCallOptions): Promise<void> {
    await this.monitor.execute("migrate", { uri }, o);
  }

  /**
   * `migrate-incoming` from `uri`. Only valid in a process started with `-incoming defer`.
   * `exitOnError: false` keeps QEMU alive after a failed load so the error can be queried.
   */
  async migrateIncoming(uri: string, opts: { exitOnError?: boolean } & QmpCallOptions = {}): Promise<void> {
    const args: Record<string, unknown> = { uri };
    if (opts.exitOnError !== undefined) args["exit-on-error"] = opts.exitOnError;
    await this.monitor.execute("migrate-incoming", args, opts);
  }

  /** `migrate_cancel`: abort the outgoing migration, if any. */
  async migrateCancel(o?: QmpCallOptions): Promise<void> {
    await this.monitor.execute("migrate_cancel", undefined, o);
  }

  /** `blockdev-add`: open a block node. The node name must not exist yet. */
  async blockdevAdd(options: BlockdevOptions, o?: QmpCallOptions): Promise<void> {
    await this.monitor.execute("blockdev-add", options, o);
  }

  /** `blockdev-del`: close a node that no device or other node uses any more. */
  async blockdevDel(nodeName: string, o?: QmpCallOptions): Promise<void> {
    await this.monitor.execute("blockdev-del", { "node-name": nodeName }, o);
  }

  /** `transaction`: run the actions atomically (e.g. snapshot several disks at one instant). */
  async transaction(actions: TransactionAction[], o?: QmpCallOptions): Promise<void> {
    await this.monitor.execute("transaction", { actions }, o);
  }

  /** `block_resize` of a node to `sizeBytes` (growing only is safe for a mounted filesystem). */
  async blockResize(nodeName: string, sizeBytes: number, o?: QmpCallOptions): Promise<void> {
    await this.monitor.execute("block_resize", { "node-name": nodeName, size: sizeBytes }, o);
  }

  /** `block-stream`: start a job; follow it with queryBlockJobs or JOB_STATUS_CHANGE events. */
  async blockStream(options: BlockStreamOptions, o?: QmpCallOptions): Promise<void> {
    await this.monitor.execute("block-stream", options, o);
  }

  /** `query-block-jobs`: running block jobs. */
  queryBlockJobs(o?: QmpCallOptions): Promise<BlockJobInfo[]> {
    return this.monitor.execute("query-block-jobs", undefined, o);
  }

  /** `query-jobs`: every job, with its status and, once concluded, its error if it failed. */
  queryJobs(o?: QmpCallOptions): Promise<JobInfo[]> {
    return this.monitor.execute("query-jobs", undefined, o);
  }

  /** `job-cancel`: stop a job; it concludes (with an error) and, without auto-dismiss, waits to be dismissed. */
  async jobCancel(id: string, o?: QmpCallOptions): Promise<void> {
    await this.monitor.execute("job-cancel", { id }, o);
  }

  /** `job-dismiss`: forget a concluded job (one started with `auto-dismiss: false`). */
  async jobDismiss(id: string, o?: QmpCallOptions): Promise<void> {
    await this.monitor.execute("job-dismiss", { id }, o);
  }

  /** `device_add`: hot-plug a device. The id must be unused. */
  async deviceAdd(options: DeviceAddOptions, o?: QmpCallOptions): Promise<void> {
    await this.monitor.execute("device_add", options, o);
  }

  /**
   * `device_del`: ask the guest to release a device. Returns before the device is gone: wait for
   * `DEVICE_DELETED` with data.device === id (register the wait first).
   */
  async deviceDel(id: string, o?: QmpCallOptions): Promise<void> {
    await this.monitor.execute("device_del", { id }, o);
  }

  /** `query-named-block-nodes` (flat: one entry per node, without nested backing images). */
  queryNamedBlockNodes(o?: QmpCallOptions): Promise<BlockDeviceInfo[]> {
    return this.monitor.execute("query-named-block-nodes", { flat: true }, o);
  }

  /** `query-block`: guest-visible block backends and what is inserted in them. */
  queryBlock(o?: QmpCallOptions): Promise<BlockInfo[]> {
    return this.monitor.execute("query-block", undefined, o);
  }

  /** `query-blockstats`: I/O counters of every guest-visible block device. */
  queryBlockstats(o?: QmpCallOptions): Promise<BlockStats[]> {
    return this.monitor.execute("query-blockstats", { "query-nodes": false }, o);
  }

  /**
   * `human-monitor-command`. Only for what QMP lacks (user-mode `hostfwd_add`/`hostfwd_remove`,
   * flushing one block node):
   * HMP reports errors as text, so a non-empty reply to an action is thrown as QmpCommandError.
   */
  humanMonitorCommand(commandLine: string, o?: QmpCallOptions): Promise<string> {
    // One HMP line per call: a newline would smuggle a second command in.
    if (/[\r\n]/.test(commandLine)) return Promise.reject(new QmpCommandError("human-monitor-command", "GenericError", "newline in HMP command"));
    return this.monitor.execute<string>("human-monitor-command", { "command-line": commandLine }, o);
  }

  /** HMP `hostfwd_add`: publish `rule` (`tcp:127.0.0.1:8080-:80`) on user-mode netdev `netdevId`. */
  async hostfwdAdd(netdevId: string, rule: string, o?: QmpCallOptions): Promise<void> {
    await this.hmpAction(`hostfwd_add ${netdevId} ${rule}`, o);
  }

  /** HMP `hostfwd_remove`: withdraw `rule` (`tcp:127.0.0.1:8080`) from user-mode netdev `netdevId`. */
  async hostfwdRemove(netdevId: string, rule: string, o?: QmpCallOptions): Promise<void> {
    // QEMU answers a successful removal with "host forwarding rule for … removed".
    const out = await this.humanMonitorCommand(`hostfwd_remove ${netdevId} ${rule}`, o);
    if (!/removed/.test(out)) throw new QmpCommandError("hostfwd_remove", "GenericError", out.trim());
  }

  /**
   * Flush block node `node` to its file: QEMU writes out the qcow2 metadata it caches (L2 and
   * refcount tables) and syncs the file. QMP has no flush command; HMP's `qemu-io` runs one on a
   * node by name. Node names are ours (letters, digits, dashes), never guest or user input.
   */
  async flushNode(node: string, o?: QmpCallOptions): Promise<void> {
    if (!/^[A-Za-z0-9_-]+$/.test(node)) throw new QmpCommandError("qemu-io", "GenericError", `not a node name: ${node}`);
    await this.hmpAction(`qemu-io ${node} "flush"`, o);
  }

  private async hmpAction(commandLine: string, o?: QmpCallOptions): Promise<void> {
    const out = await this.humanMonitorCommand(commandLine, o);
    if (out.trim()) throw new QmpCommandError(commandLine.split(" ")[0] ?? "human-monitor-command", "GenericError", out.trim());
  }
}
