/**
 * A QMP connection over a unix socket: reads the greeting, negotiates capabilities, correlates
 * replies with requests by `id`, delivers asynchronous events, and turns every way a command can
 * fail into a typed error (qmp/errors.ts). It knows no command by name except `qmp_capabilities`:
 * typed commands live in qmp/commands.ts. Reconnecting, and deciding what a closed connection
 * means for the VM, are left to the caller (vm-process.ts).
 */
import { EventEmitter } from "node:events";
import { connect as netConnect, type Socket } from "node:net";
import { QmpClosedError, QmpCommandError, QmpProtocolError, QmpTimeoutError } from "./errors";

/** The version triple QEMU reports in its greeting and in `query-version`. */
export interface QemuVersionTriple {
  major: number;
  minor: number;
  micro: number;
}

/** The first message QEMU sends on a new connection. */
export interface QmpGreeting {
  version: { qemu: QemuVersionTriple; package: string };
  capabilities: string[];
}

/** An asynchronous event such as `SHUTDOWN`, `STOP`, `RESUME`, `DEVICE_DELETED`, `JOB_STATUS_CHANGE`. */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

/** Options of `QmpMonitor.connect`. */
export interface QmpConnectOptions {
  /** Deadline for connecting plus greeting plus negotiation (default 5 s). */
  timeoutMs?: number;
  /** Keep retrying a missing or refusing socket until the deadline (QEMU still starting). */
  retry?: boolean;
  /** Default per-command deadline (default 30 s). */
  commandTimeoutMs?: number;
  signal?: AbortSignal;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

/**
 * One negotiated QMP connection. Emits `event` (QmpEvent) and `close` (reason). QEMU serves one
 * client per QMP socket: while this is open, another `connect` to the same socket waits.
 */
export class QmpMonitor extends EventEmitter {
  private buffer = "";
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closeReason: string | null = null;
  private resolveClosed!: (reason: string) => void;
  /** Settles with the reason once the connection is closed, for whatever cause. */
  readonly closed: Promise<string> = new Promise((resolve) => (this.resolveClosed = resolve));

  private constructor(
    private readonly socket: Socket,
    /** What QEMU announced on connect. */
    readonly greeting: QmpGreeting,
    private readonly commandTimeoutMs: number,
    leftover: string,
  ) {
    super();
    socket.on("data", (chunk: string) => this.onData(chunk));
    socket.on("error", (err) => this.markClosing(`socket error: ${err.message}`));
    socket.on("close", () => this.onClose());
    if (leftover) this.onData(leftover);
    socket.resume();
  }

  /** Connects to a QMP unix socket and negotiates capabilities; rejects with a QmpError or socket error. */
  static async connect(socketPath: string, opts: QmpConnectOptions = {}): Promise<QmpMonitor> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const { socket, greeting, leftover } = await openAndGreet(socketPath, deadline - Date.now(), opts.signal);
        const monitor = new QmpMonitor(socket, greeting, opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, leftover);
        try {
          await monitor.execute("qmp_capabilities", undefined, { timeoutMs: Math.max(deadline - Date.now(), 1) });
        } catch (err) {
          monitor.close();
          throw err;
        }
        return monitor;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const retriable = opts.retry && (code === "ENOENT" || code === "ECONNREFUSED");
        if (!retriable || Date.now() + 20 >= deadline || opts.signal?.aborted) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** True once the connection is closed; every later command rejects with QmpClosedError. */
  get isClosed(): boolean {
    return this.closeReason !== null;
  }

  /** Sends one command and resolves with its `return` value. Prefer the typed wrappers in commands.ts. */
  execute<T = unknown>(command: string, args?: object, opts: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closeReason !== null) return Promise.reject(new QmpClosedError(command, this.closeReason));
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        // The reply may still come; its id is then unknown and it is dropped.
        this.pending.delete(id);
        reject(new QmpTimeoutError(command, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.socket.write(JSON.stringify(message) + "\n");
    });
  }

  /**
   * Resolves with the next event named `name` that satisfies `predicate`. Register before sending
   * the command that causes the event: events already delivered are not replayed.
   */
  waitForEvent(
    name: string,
    predicate: (ev: QmpEvent) => boolean = () => true,
    timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS,
    signal?: AbortSignal,
  ): Promise<QmpEvent> {
    if (this.closeReason !== null) return Promise.reject(new QmpClosedError(`wait for ${name}`, this.closeReason));
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.off("event", onEvent);
        this.off("close", onClose);
        signal?.removeEventListener("abort", onAbort);
      };
      const onEvent = (ev: QmpEvent) => {
        if (ev.event !== name || !predicate(ev)) return;
        cleanup();
        resolve(ev);
      };
      const onClose = (reason: string) => {
        cleanup();
        reject(new QmpClosedError(`wait for ${name}`, reason));
      };
      const onAbort = () => {
        cleanup();
        reject(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new QmpTimeoutError(`wait for ${name}`, timeoutMs));
      }, timeoutMs);
      this.on("event", onEvent);
      this.on("close", onClose);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Closes the connection (QEMU keeps running); pending commands reject with QmpClosedError. */
  close(): void {
    this.markClosing("closed by caller");
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // A peer that sends garbage cannot be trusted with later replies either.
      this.markClosing(`malformed QMP message: ${line.slice(0, 200)}`);
      this.socket.destroy();
      return;
    }
    if (typeof msg.event === "string") {
      this.emit("event", { data: {}, ...msg } as unknown as QmpEvent);
      return;
    }
    const id = typeof msg.id === "number" ? msg.id : null;
    const p = id === null ? undefined : this.pending.get(id);
    if (!p || id === null) return; // reply to a timed-out command
    this.pending.delete(id);
    clearTimeout(p.timer);
    if ("return" in msg) p.resolve(msg.return);
    else if (msg.error && typeof msg.error === "object") {
      const e = msg.error as { class?: unknown; desc?: unknown };
      p.reject(new QmpCommandError(p.command, String(e.class ?? "GenericError"), String(e.desc ?? "")));
    } else p.reject(new QmpProtocolError(`unexpected reply to ${p.command}: ${line.slice(0, 200)}`));
  }

  private markClosing(reason: string): void {
    if (this.closeReason === null) this.closeReason = reason;
  }

  private onClose(): void {
    this.markClosing("QEMU closed the connection");
    const reason = this.closeReason ?? "closed";
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new QmpClosedError(p.command, reason));
    }
    this.resolveClosed(reason);
    this.emit("close", reason);
  }
}

/** Opens the socket and reads the greeting line; anything after it is handed on as `leftover`. */
function openAndGreet(
  socketPath: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ socket: Socket; greeting: QmpGreeting; leftover: string }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ path: socketPath });
    socket.setEncoding("utf8");
    let buf = "";
    const fail = (err: Error) => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onData = (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      let greeting: QmpGreeting | undefined;
      try {
        greeting = (JSON.parse(buf.slice(0, nl)) as { QMP?: QmpGreeting }).QMP;
      } catch {
        /* reported below */
      }
      if (!greeting?.version?.qemu) return fail(new QmpProtocolError(`bad greeting: ${buf.slice(0, nl).slice(0, 200)}`));
      cleanup();
      resolve({ socket, greeting, leftover: buf.slice(nl + 1) });
    };
    const onError = (err: Error) => fail(err);
    const onClose = () => fail(new QmpClosedError(null, "closed before the QMP greeting"));
    const onAbort = () => fail(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
    // A second client on a busy QMP socket is accepted by the kernel but never greeted.
    const timer = setTimeout(
      () => fail(new QmpTimeoutError("greeting", timeoutMs)),
      Math.max(timeoutMs, 1),
    );
    const cleanup = () => {
      clearTimeout(timer);
      // Paused until the monitor attaches its own listeners, so no reply is lost in between.
      socket.pause();
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
      signal?.removeEventListener("abort", onAbort);
    };
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
