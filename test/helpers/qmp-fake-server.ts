/**
 * A scripted QMP peer on a unix socket, for unit tests of the monitor and the typed commands: it
 * greets like QEMU 10, negotiates capabilities, records every command, answers with handlers the
 * test sets, emits events on demand, and can "die" mid-command. Owns its temp dir; `close()` removes it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** What a handler returns: a reply, an error, or a behaviour. */
export type FakeReply =
  | { return: unknown; delayMs?: number }
  | { error: { class: string; desc: string }; delayMs?: number }
  | "hang" // never answer
  | "die" // close every connection without answering, like a crashing QEMU
  | { raw: string }; // send these bytes verbatim

/** A command as the fake server received it. */
export interface ReceivedCommand {
  execute: string;
  arguments?: Record<string, unknown>;
  id?: unknown;
}

/** A fake QEMU monitor for tests; start with `FakeQmpServer.start()`. */
export class FakeQmpServer {
  readonly received: ReceivedCommand[] = [];
  private readonly handlers = new Map<string, (args: Record<string, unknown> | undefined) => FakeReply>();
  private readonly clients = new Set<Socket>();
  /** When false, connections are accepted but never greeted (like a busy QMP socket). */
  greet = true;

  private constructor(
    private readonly server: Server,
    private readonly dir: string,
    /** Path of the listening socket. */
    readonly path: string,
  ) {}

  /** Listens on a fresh socket in a new temp dir. */
  static async start(): Promise<FakeQmpServer> {
    const dir = mkdtempSync(join(tmpdir(), "vmb-fakeqmp-"));
    const path = join(dir, "qmp.sock");
    const server = createServer();
    const fake = new FakeQmpServer(server, dir, path);
    server.on("connection", (s) => fake.onConnection(s));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return fake;
  }

  /** Sets the reply to `command` (the default is `{return: {}}`). */
  on(command: string, handler: FakeReply | ((args: Record<string, unknown> | undefined) => FakeReply)): this {
    this.handlers.set(command, typeof handler === "function" ? handler : () => handler);
    return this;
  }

  /** Sends an event to every connected client. */
  emitEvent(event: string, data: Record<string, unknown> = {}): void {
    const line = JSON.stringify({ event, data, timestamp: { seconds: 1, microseconds: 2 } }) + "\r\n";
    for (const c of this.clients) c.write(line);
  }

  /** Writes `bytes` verbatim to every connected client (split or glued messages). */
  sendRaw(bytes: string): void {
    for (const c of this.clients) c.write(bytes);
  }

  /** Closes every client connection (the server keeps listening). */
  dropClients(): void {
    for (const c of this.clients) c.destroy();
    this.clients.clear();
  }

  /** Number of currently connected clients. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Stops listening, drops clients and removes the temp dir. */
  async close(): Promise<void> {
    this.dropClients();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private onConnection(socket: Socket): void {
    this.clients.add(socket);
    socket.on("close", () => this.clients.delete(socket));
    socket.on("error", () => undefined);
    if (!this.greet) return;
    const greeting = { QMP: { version: { qemu: { micro: 2, minor: 0, major: 10 }, package: "fake" }, capabilities: ["oob"] } };
    socket.write(JSON.stringify(greeting) + "\r\n");
    let buf = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) this.onCommand(socket, JSON.parse(line) as ReceivedCommand);
      }
    });
  }

  private onCommand(socket: Socket, cmd: ReceivedCommand): void {
    this.received.push(cmd);
    const handler = this.handlers.get(cmd.execute);
    const reply: FakeReply = handler ? handler(cmd.arguments) : { return: {} };
    if (reply === "hang") return;
    if (reply === "die") return this.dropClients();
    if ("raw" in reply) {
      socket.write(reply.raw);
      return;
    }
    const { delayMs, ...body } = reply;
    const send = () => socket.write(JSON.stringify({ ...body, id: cmd.id }) + "\r\n");
    if (delayMs) setTimeout(send, delayMs);
    else send();
  }
}
