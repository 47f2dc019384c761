// Each typed QMP method sends exactly the JSON QEMU 10 expects (checked against a scripted peer).
import { QmpCommands } from "../../backend/host/qemu/qmp/commands";
import { QmpCommandError } from "../../backend/host/qemu/qmp/errors";
import { QmpMonitor } from "../../backend/host/qemu/qmp/monitor";
import { FakeQmpServer } from "../helpers/qmp-fake-server";

let fake: FakeQmpServer;
let qmp: QmpCommands;

beforeEach(async () => {
  fake = await FakeQmpServer.start();
  qmp = new QmpCommands(await QmpMonitor.connect(fake.path));
});
afterEach(async () => {
  qmp.monitor.close();
  await fake.close();
});

const last = () => {
  const { execute, arguments: args } = fake.received.at(-1) ?? { execute: "" };
  return args === undefined ? { execute } : { execute, arguments: args };
};

test.each<[string, (q: QmpCommands) => Promise<unknown>, object]>([
  ["query-status", (q) => q.queryStatus(), { execute: "query-status" }],
  ["query-version", (q) => q.queryVersion(), { execute: "query-version" }],
  ["stop", (q) => q.stop(), { execute: "stop" }],
  ["cont", (q) => q.cont(), { execute: "cont" }],
  ["system_powerdown", (q) => q.systemPowerdown(), { execute: "system_powerdown" }],
  ["query-migrate", (q) => q.queryMigrate(), { execute: "query-migrate" }],
  ["query-migrate-capabilities", (q) => q.queryMigrateCapabilities(), { execute: "query-migrate-capabilities" }],
  [
    "migrate-set-capabilities",
    (q) => q.migrateSetCapabilities({ "x-ignore-shared": true, "background-snapshot": false }),
    {
      execute: "migrate-set-capabilities",
      arguments: {
        capabilities: [
          { capability: "x-ignore-shared", state: true },
          { capability: "background-snapshot", state: false },
        ],
      },
    },
  ],
  ["migrate-set-parameters", (q) => q.migrateSetParameters({ "multifd-channels": 2 }), { execute: "migrate-set-parameters", arguments: { "multifd-channels": 2 } }],
  ["migrate", (q) => q.migrate("file:/snap/dev"), { execute: "migrate", arguments: { uri: "file:/snap/dev" } }],
  ["migrate-incoming", (q) => q.migrateIncoming("file:/snap/dev"), { execute: "migrate-incoming", arguments: { uri: "file:/snap/dev" } }],
  [
    "migrate-incoming exit-on-error",
    (q) => q.migrateIncoming("file:/d", { exitOnError: false }),
    { execute: "migrate-incoming", arguments: { uri: "file:/d", "exit-on-error": false } },
  ],
  ["migrate_cancel", (q) => q.migrateCancel(), { execute: "migrate_cancel" }],
  [
    "blockdev-add",
    (q) => q.blockdevAdd({ driver: "qcow2", "node-name": "ov", file: { driver: "file", "node-name": "ov-file", filename: "/o.qcow2" }, backing: null }),
    {
      execute: "blockdev-add",
      arguments: { driver: "qcow2", "node-name": "ov", file: { driver: "file", "node-name": "ov-file", filename: "/o.qcow2" }, backing: null },
    },
  ],
  ["blockdev-del", (q) => q.blockdevDel("ov"), { execute: "blockdev-del", arguments: { "node-name": "ov" } }],
  [
    "transaction",
    (q) =>
      q.transaction([
        { type: "blockdev-snapshot", data: { node: "disk-a", overlay: "ov-a" } },
        { type: "blockdev-snapshot", data: { node: "disk-b", overlay: "ov-b" } },
      ]),
    {
      execute: "transaction",
      arguments: {
        actions: [
          { type: "blockdev-snapshot", data: { node: "disk-a", overlay: "ov-a" } },
          { type: "blockdev-snapshot", data: { node: "disk-b", overlay: "ov-b" } },
        ],
      },
    },
  ],
  ["block_resize", (q) => q.blockResize("disk-a", 1 << 30), { execute: "block_resize", arguments: { "node-name": "disk-a", size: 1 << 30 } }],
  [
    "block-stream",
    (q) => q.blockStream({ "job-id": "flatten-a", device: "disk-a", "auto-dismiss": false }),
    { execute: "block-stream", arguments: { "job-id": "flatten-a", device: "disk-a", "auto-dismiss": false } },
  ],
  ["query-block-jobs", (q) => q.queryBlockJobs(), { execute: "query-block-jobs" }],
  ["job-dismiss", (q) => q.jobDismiss("flatten-a"), { execute: "job-dismiss", arguments: { id: "flatten-a" } }],
  [
    "device_add",
    (q) => q.deviceAdd({ driver: "virtio-blk-pci", id: "disk-x", drive: "disk-x", serial: "vol-x", addr: "0x5" }),
    { execute: "device_add", arguments: { driver: "virtio-blk-pci", id: "disk-x", drive: "disk-x", serial: "vol-x", addr: "0x5" } },
  ],
  ["device_del", (q) => q.deviceDel("disk-x"), { execute: "device_del", arguments: { id: "disk-x" } }],
  ["query-named-block-nodes", (q) => q.queryNamedBlockNodes(), { execute: "query-named-block-nodes", arguments: { flat: true } }],
  ["query-block", (q) => q.queryBlock(), { execute: "query-block" }],
])("%s", async (_name, call, expected) => {
  await call(qmp);
  expect(last()).toEqual(expected);
});

test("quit succeeds whether QEMU replies first or just closes the connection", async () => {
  await qmp.quit();
  fake.on("quit", "die");
  await expect(qmp.quit()).resolves.toBeUndefined();
});

test("hostfwd_add goes through HMP, and HMP error text is thrown", async () => {
  fake.on("human-monitor-command", { return: "" });
  await qmp.hostfwdAdd("net0", "tcp:127.0.0.1:8080-:80");
  expect(last()).toEqual({ execute: "human-monitor-command", arguments: { "command-line": "hostfwd_add net0 tcp:127.0.0.1:8080-:80" } });
  fake.on("human-monitor-command", { return: "Could not set up host forwarding rule 'tcp:127.0.0.1:8080-:80'\r\n" });
  const err = await qmp.hostfwdAdd("net0", "tcp:127.0.0.1:8080-:80").catch((e: unknown) => e);
  expect(err).toBeInstanceOf(QmpCommandError);
  expect(String(err)).toMatch(/Could not set up host forwarding rule/);
});

test("hostfwd_remove checks QEMU's confirmation", async () => {
  fake.on("human-monitor-command", { return: "host forwarding rule for tcp:127.0.0.1:8080 removed\r\n" });
  await qmp.hostfwdRemove("net0", "tcp:127.0.0.1:8080");
  fake.on("human-monitor-command", { return: "host forwarding rule for tcp:127.0.0.1:8080 not found\r\n" });
  await expect(qmp.hostfwdRemove("net0", "tcp:127.0.0.1:8080")).rejects.toThrow(/not found/);
});

test("an HMP line with a newline is refused before it is sent", async () => {
  const before = fake.received.length;
  await expect(qmp.humanMonitorCommand("info status\nquit")).rejects.toThrow(/newline/);
  expect(fake.received.length).toBe(before);
});
