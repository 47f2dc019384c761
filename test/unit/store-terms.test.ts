// Terms of office on a real SQLite file (migration 7): each serve that takes the state begins the
// next term, and the database refuses a journal entry of any term but the newest, so a serve that
// was superseded cannot start an operation. Entries of earlier terms stay readable and deletable:
// the next serve settles them. Old terms are trimmed to the newest 100.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StoreSuperseded } from "../../backend/store/engine";
import type { OperationRecord } from "../../backend/store/records";
import { Store } from "../../backend/store/store";

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "vmbranch-terms-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const at = "2026-12-03T10:00:00.000Z";
const entry = (id: string, epoch: number): OperationRecord => ({
  id, kind: "resize", subject: id, intent: { kind: "resize", volumeUuid: id, sizeMb: 64 }, startedAt: at, epoch,
});
const never = () => {
  throw new Error("SQLite's session is never lost: nothing can supersede it");
};

test("each serve begins the next term and names the one before", () => {
  const file = join(dir, "vmbranch.db");
  const first = Store.open(file);
  expect(first.epoch).toBe(0);
  expect(first.beginTerm("host-a pid 10", at, never)).toEqual({ term: { epoch: 1, holder: "host-a pid 10", startedAt: at }, previous: null });
  expect(first.epoch).toBe(1);
  first.close();
  const second = Store.open(file);
  const begun = second.beginTerm("host-a pid 11", "2026-12-03T11:00:00.000Z", never);
  expect(begun.previous).toEqual({ epoch: 1, holder: "host-a pid 10", startedAt: at });
  expect(begun.term.epoch).toBe(2);
  second.close();
});

test("a journal entry of a superseded term is refused; entries it left are settled by the newer term", () => {
  const file = join(dir, "vmbranch.db");
  const old = Store.open(file);
  old.beginTerm("host-a pid 10", at, never);
  old.operations.insert(entry("left-open", old.epoch));
  const current = Store.open(file);
  current.beginTerm("host-a pid 11", at, never);

  expect(() => old.operations.insert(entry("late", old.epoch))).toThrow(StoreSuperseded);
  expect(() => old.operations.insert(entry("late", old.epoch))).toThrow("journal entry of term 1 refused: a newer term has begun (another serve took the state)");
  expect(() => current.operations.insert(entry("stale", 1))).toThrow(StoreSuperseded);
  current.operations.insert(entry("now", current.epoch));
  expect(current.operations.open().map((o) => [o.id, o.epoch])).toEqual([["left-open", 1], ["now", 2]]);
  current.operations.delete({ id: "left-open" });
  expect(current.operations.open().map((o) => o.id)).toEqual(["now"]);
  old.close();
  current.close();
});

test("the newest 100 terms are kept", () => {
  const store = Store.open(join(dir, "vmbranch.db"));
  for (let i = 0; i < 105; i++) store.beginTerm(`host-a pid ${i}`, at, never);
  expect(store.terms.latest()?.epoch).toBe(105);
  expect(store.terms.all().map((t) => t.epoch).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 6));
  store.close();
});
