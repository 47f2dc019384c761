// Migration waits wake on QEMU's MIGRATION events (backend/host/vm/migration.ts): no query between
// events, none lost when it comes before the wait, failures and deadlines reported; and the estimate
// of how long a copy still takes.
import { EventEmitter } from "node:events";
import { MigrationError, completed, copyEtaMs, waitMigration } from "../../backend/host/vm/migration";
import type { QmpCommands } from "../../backend/host/qemu/qmp/commands";
import type { MigrationInfo } from "../../backend/host/qemu/qmp/types";

/** A QMP connection whose query-migrate answers `statuses` in turn, calling `during` while answering the n-th. */
function fakeQmp(statuses: MigrationInfo["status"][], during: (n: number, monitor: EventEmitter) => void = () => {}) {
  const monitor = new EventEmitter();
  let n = 0;
  const qmp = {
    monitor,
    async queryMigrate(): Promise<MigrationInfo> {
      const status = statuses[Math.min(n, statuses.length - 1)];
      during(n++, monitor);
      return { status } as MigrationInfo;
    },
  };
  return { qmp: qmp as unknown as QmpCommands, monitor, queries: () => n };
}

const migrationEvent = (status: string) => ({ event: "MIGRATION", data: { status }, timestamp: { seconds: 0, microseconds: 0 } });

afterEach(() => jest.useRealTimers());

it("queries again only when QEMU reports a change, and returns once done", async () => {
  jest.useFakeTimers();
  const { qmp, monitor, queries } = fakeQmp(["active", "active", "completed"]);
  const wait = waitMigration(qmp, completed, { timeoutMs: 60_000, what: "test migration" });
  await jest.advanceTimersByTimeAsync(0);
  expect(queries()).toBe(1);
  monitor.emit("event", migrationEvent("device"));
  await jest.advanceTimersByTimeAsync(0);
  expect(queries()).toBe(2);
  monitor.emit("event", migrationEvent("completed"));
  await expect(wait).resolves.toMatchObject({ status: "completed" });
  expect(queries()).toBe(3);
  expect(monitor.listenerCount("event")).toBe(0);
});

it("does not lose an event that arrives while the status is being asked", async () => {
  jest.useFakeTimers();
  // The event comes during the first query: the wait must not sleep past it.
  const { qmp, queries } = fakeQmp(["active", "completed"], (n, monitor) => n === 0 && monitor.emit("event", migrationEvent("completed")));
  await expect(waitMigration(qmp, completed, { timeoutMs: 60_000, what: "test migration" })).resolves.toMatchObject({ status: "completed" });
  expect(queries()).toBe(2);
});

it("throws MigrationError when the migration failed, and an error at the deadline", async () => {
  const failed = fakeQmp(["failed"]);
  await expect(waitMigration(failed.qmp, completed, { timeoutMs: 1_000, what: "test migration" })).rejects.toBeInstanceOf(MigrationError);
  jest.useFakeTimers();
  const stuck = fakeQmp(["active"]);
  const wait = waitMigration(stuck.qmp, completed, { timeoutMs: 5_000, what: "test migration" });
  const outcome = expect(wait).rejects.toThrow(/did not finish within 5s \(status active\)/);
  await jest.advanceTimersByTimeAsync(6_000);
  await outcome;
});

test("a copy's time left is what remains at the pace of what is done; unknown before anything is done", () => {
  const MiB = 1024 * 1024;
  // A quarter of 256 MiB copied in 100 ms: three quarters left take 300 ms.
  expect(copyEtaMs({ total: 256 * MiB, remaining: 192 * MiB }, 100)).toBe(300);
  expect(copyEtaMs({ total: 256 * MiB, remaining: 0 }, 250)).toBe(0);
  expect(copyEtaMs({ total: 256 * MiB, remaining: 256 * MiB }, 40)).toBeNull();
  expect(copyEtaMs({ total: 256 * MiB, remaining: 128 * MiB }, 0)).toBeNull();
});
