// Background work and the state database being down (backend/core/background.ts): work that meets
// StoreUnavailable is tried again until it gets past it, each try running the work afresh; any
// other failure ends it (a superseded serve's too: its work is the newer serve's), rethrown to whileUnavailable's caller and only logged by untilRecorded,
// so work serve does on its own never becomes an unhandled rejection. The undos of a failed request
// (storeReverter) wait out an outage the same way.
import { storeReverter, untilRecorded, whileUnavailable } from "../../backend/core/background";
import type { Logger } from "../../backend/core/context";
import { StoreSuperseded, StoreUnavailable } from "../../backend/store/engine";

/** A logger that keeps each line as "level: message". */
function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (obj: object | string, msg?: string) => void lines.push(`${level}: ${msg ?? obj}`);
  return { lines, info: at("info"), warn: at("warn"), error: at("error"), debug: at("debug") };
}

/** Work that fails with `errors` in turn, then returns how many tries it took. */
function failing(...errors: Error[]): () => number {
  let tries = 0;
  return () => {
    tries++;
    if (errors.length > 0) throw errors.shift()!;
    return tries;
  };
}

it("tries work that met an unavailable store again until it gets past it, saying so once", async () => {
  const log = memoryLog();
  await expect(whileUnavailable(log, "recording x", failing(new StoreUnavailable("down"), new StoreUnavailable("still down")))).resolves.toBe(3);
  expect(log.lines).toEqual(["warn: recording x: the state database is unavailable; trying again until it is back", "info: recording x: done now that the state database is back"]);
});

it("leaves any other failure to its caller, after trying again past the store's outage", async () => {
  const log = memoryLog();
  await expect(whileUnavailable(log, "recording x", failing(new StoreUnavailable("down"), new Error("refused")))).rejects.toThrow("refused");
});

it("untilRecorded never rejects: a failure other than the store's outage is logged and ends the work", async () => {
  const log = memoryLog();
  const work = failing(new Error("disk full"));
  await expect(untilRecorded(log, "recording y", () => void work())).resolves.toBeUndefined();
  expect(log.lines).toEqual(["error: recording y failed"]);
  const done: string[] = [];
  await untilRecorded(log, "recording z", () => void done.push("z"));
  expect(done).toEqual(["z"]);
});

it("does not retry for a serve whose term is over: the newer serve does that work", async () => {
  const log = memoryLog();
  await expect(whileUnavailable(log, "recording x", failing(new StoreSuperseded("term 2 began")))).rejects.toThrow(StoreSuperseded);
  expect(log.lines).toEqual([]);
});

it("a request's undos wait out the store's outage, newest first, and an undo failing otherwise is logged and does not stop the rest", async () => {
  const log = memoryLog();
  const done: string[] = [];
  const rev = storeReverter(log, { instance: "i-1" });
  const rowUndo = failing(new StoreUnavailable("down"));
  rev.add("create the file", () => void done.push("file removed"));
  rev.add("insert the row", () => {
    rowUndo();
    done.push("row deleted");
  });
  rev.add("publish the port", () => {
    throw new Error("port gone");
  });
  await expect(rev.run(async () => Promise.reject(new Error("the store went down")))).rejects.toThrow("the store went down");
  expect(done).toEqual(["row deleted", "file removed"]);
  expect(log.lines).toEqual([
    "error: revert: undoing 'publish the port' failed",
    "warn: undoing 'insert the row': the state database is unavailable; trying again until it is back",
    "info: undoing 'insert the row': done now that the state database is back",
  ]);
});
