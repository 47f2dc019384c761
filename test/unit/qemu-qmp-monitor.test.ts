// The QMP monitor's protocol logic against a scripted peer on a real unix socket.
import { QmpMonitor } from "../../backend/host/qemu/qmp/monitor";
import { QmpClosedError, QmpCommandError, QmpProtocolError, QmpTimeoutError } from "../../backend/host/qemu/qmp/errors";
import { FakeQmpServer } from "../helpers/qmp-fake-server";

let fake: FakeQmpServer;
let monitors: QmpMonitor[];

beforeEach(async () => {
  fake = await FakeQmpServer.start();
  monitors = [];
});
afterEach(async () => {
  for (const m of monitors) m.close();
  await fake.close();
});

async function connect(opts = {}): Promise<QmpMonitor> {
  const m = await QmpMonitor.connect(fake.path, opts);
  monitors.push(m);
  return m;
}

test("reads the greeting and negotiates capabilities before anything else", async () => {
  const m = await connect();
  expect(m.greeting.version.qemu).toEqual({ major: 10, minor: 0, micro: 2 });
  expect(fake.received.map((c) => c.execute)).toEqual(["qmp_capabilities"]);
});

test("correlates replies by id even when they arrive out of order", async () => {
  const m = await connect();
  fake.on("slow", { return: { n: 1 }, delayMs: 80 });
  fake.on("fast", { return: { n: 2 } });
  const order: number[] = [];
  const first = m.execute<{ n: number }>("slow").then((r) => (order.push(r.n), r));
  const second = m.execute<{ n: number }>("fast").then((r) => (order.push(r.n), r));
  await expect(Promise.all([first, second])).resolves.toEqual([{ n: 1 }, { n: 2 }]);
  expect(order).toEqual([2, 1]);
});

test("sends arguments and returns the typed reply", async () => {
  const m = await connect();
  fake.on("query-status", { return: { running: true, status: "running" } });
  await expect(m.execute("query-status")).resolves.toEqual({ running: true, status: "running" });
  await m.execute("device_del", { id: "disk-a" });
  expect(fake.received.at(-1)).toMatchObject({ execute: "device_del", arguments: { id: "disk-a" } });
  expect(fake.received.at(-2)).not.toHaveProperty("arguments");
});

test("a QMP error becomes QmpCommandError with QEMU's class and description", async () => {
  const m = await connect();
  fake.on("device_del", { error: { class: "DeviceNotFound", desc: "Device 'x' not found" } });
  const err = await m.execute("device_del", { id: "x" }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(QmpCommandError);
  expect(err).toMatchObject({ command: "device_del", errorClass: "DeviceNotFound", desc: "Device 'x' not found" });
  // The connection is still usable afterwards.
  await expect(m.execute("query-status")).resolves.toEqual({});
});

test("a command without an answer times out and the connection stays usable", async () => {
  const m = await connect();
  fake.on("stop", "hang");
  const err = await m.execute("stop", undefined, { timeoutMs: 50 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(QmpTimeoutError);
  expect(err).toMatchObject({ command: "stop", timeoutMs: 50 });
  await expect(m.execute("cont")).resolves.toEqual({});
});

test("QEMU dying mid-command rejects every pending command with QmpClosedError", async () => {
  const m = await connect();
  fake.on("migrate", "hang");
  fake.on("query-migrate", "die");
  const pendingA = m.execute("migrate", { uri: "file:/x" });
  const pendingB = m.execute("query-migrate");
  const [a, b] = await Promise.all([pendingA.catch((e: unknown) => e), pendingB.catch((e: unknown) => e)]);
  expect(a).toBeInstanceOf(QmpClosedError);
  expect(a).toMatchObject({ command: "migrate" });
  expect(b).toBeInstanceOf(QmpClosedError);
  await expect(m.closed).resolves.toBe("QEMU closed the connection");
  expect(m.isClosed).toBe(true);
  await expect(m.execute("query-status")).rejects.toBeInstanceOf(QmpClosedError);
});

test("delivers events to listeners and to waitForEvent with a predicate", async () => {
  const m = await connect();
  const seen: string[] = [];
  m.on("event", (ev: { event: string }) => seen.push(ev.event));
  const waited = m.waitForEvent("DEVICE_DELETED", (ev) => ev.data.device === "disk-b", 1000);
  fake.emitEvent("DEVICE_DELETED", { device: "disk-a" });
  fake.emitEvent("STOP");
  fake.emitEvent("DEVICE_DELETED", { device: "disk-b", path: "/machine/peripheral/disk-b" });
  await expect(waited).resolves.toMatchObject({ event: "DEVICE_DELETED", data: { device: "disk-b" } });
  expect(seen).toEqual(["DEVICE_DELETED", "STOP", "DEVICE_DELETED"]);
});

test("waitForEvent times out, and rejects when the connection closes", async () => {
  const m = await connect();
  await expect(m.waitForEvent("SHUTDOWN", undefined, 30)).rejects.toBeInstanceOf(QmpTimeoutError);
  const w = m.waitForEvent("SHUTDOWN", undefined, 5000);
  fake.dropClients();
  await expect(w).rejects.toBeInstanceOf(QmpClosedError);
});

test("waitForEvent honours an abort signal", async () => {
  const m = await connect();
  const ac = new AbortController();
  const w = m.waitForEvent("RESUME", undefined, 5000, ac.signal);
  ac.abort(new Error("stop waiting"));
  await expect(w).rejects.toThrow("stop waiting");
});

test("events and replies split across packets or glued together are both parsed", async () => {
  const m = await connect();
  const got = m.waitForEvent("RESUME", undefined, 1000);
  fake.on("cont", "hang");
  const cont = m.execute("cont");
  while (fake.received.at(-1)?.execute !== "cont") await new Promise((r) => setTimeout(r, 5));
  const id = fake.received.at(-1)?.id;
  const glued = JSON.stringify({ event: "RESUME", data: {}, timestamp: { seconds: 0, microseconds: 0 } }) + "\r\n" + JSON.stringify({ return: {}, id }) + "\r\n";
  fake.sendRaw(glued.slice(0, 17));
  // The second half goes out only once the monitor holds the first, so the two arrive as two reads.
  const buffered = () => (m as unknown as { buffer: string }).buffer;
  while (buffered() !== glued.slice(0, 17)) await new Promise((r) => setImmediate(r));
  fake.sendRaw(glued.slice(17));
  await expect(cont).resolves.toEqual({});
  await expect(got).resolves.toMatchObject({ event: "RESUME" });
});

test("a malformed message closes the connection with a clear reason", async () => {
  const m = await connect();
  fake.on("query-status", { raw: "this is not json\r\n" });
  await expect(m.execute("query-status")).rejects.toThrow(/malformed QMP message/);
});

test("close() by the caller rejects pending commands and leaves the peer running", async () => {
  const m = await connect();
  fake.on("stop", "hang");
  const p = m.execute("stop");
  m.close();
  await expect(p).rejects.toThrow("closed by caller");
  // The peer accepts a new client afterwards, as QEMU does.
  const again = await connect();
  await expect(again.execute("query-status")).resolves.toEqual({});
});

test("connect fails clearly on a missing socket, a bad greeting and a silent peer", async () => {
  await expect(QmpMonitor.connect(fake.path + ".missing", { timeoutMs: 200 })).rejects.toMatchObject({ code: "ENOENT" });
  await expect(QmpMonitor.connect(fake.path + ".missing", { timeoutMs: 100, retry: true })).rejects.toMatchObject({ code: "ENOENT" });
  fake.greet = false;
  const err = await QmpMonitor.connect(fake.path, { timeoutMs: 100 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(QmpTimeoutError);
  expect(String(err)).toMatch(/greeting timed out/);
});

test("a peer that is not QMP is reported as a protocol error", async () => {
  const { createServer } = await import("node:net");
  const path = fake.path + ".notqmp";
  const srv = createServer((s) => s.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
  await new Promise<void>((r) => srv.listen(path, r));
  try {
    await expect(QmpMonitor.connect(path, { timeoutMs: 500 })).rejects.toBeInstanceOf(QmpProtocolError);
  } finally {
    await new Promise<void>((r) => srv.close(() => r()));
  }
});

test("retry waits for a socket that appears later", async () => {
  const { FakeQmpServer: F } = await import("../helpers/qmp-fake-server");
  const late = await F.start();
  await late.close();
  const { mkdirSync } = await import("node:fs");
  const { dirname } = await import("node:path");
  const { createServer } = await import("node:net");
  // The first attempt connects before `connect` returns (a unix socket's connect is synchronous)
  // and fails, the socket being gone; the listener created after it is one a retry must find.
  const pending = QmpMonitor.connect(late.path, { timeoutMs: 2000, retry: true });
  mkdirSync(dirname(late.path), { recursive: true });
  const srv = createServer((s) => {
    s.write(JSON.stringify({ QMP: { version: { qemu: { major: 10, minor: 0, micro: 2 }, package: "" }, capabilities: [] } }) + "\r\n");
    s.on("data", (d) => s.write(JSON.stringify({ return: {}, id: JSON.parse(String(d)).id }) + "\r\n"));
  });
  await new Promise<void>((r) => srv.listen(late.path, r));
  const m = await pending;
  m.close();
  await new Promise<void>((r) => srv.close(() => r()));
  const { rmSync } = await import("node:fs");
  rmSync(dirname(late.path), { recursive: true, force: true });
});
