// Which heartbeats of serve's host are written to the state store (backend/core/hosts.ts): the
// first, one per refresh interval for liveness, and any real move of the memory placement reads.
import { OFFLINE_AFTER_MS, REFRESH_MS, worthRecording, type Recorded } from "../../backend/core/hosts";
import { MEMORY_STEP_MIB } from "../../backend/core/placement";

const last: Recorded = { at: 1_000_000, totalMib: 8192, freeMib: 4000 };

describe("worthRecording", () => {
  it("records the first heartbeat", () => {
    expect(worthRecording(null, last)).toBe(true);
  });

  it("skips a heartbeat that changes nothing within the refresh interval", () => {
    expect(worthRecording(last, { ...last, at: last.at + REFRESH_MS - 1, freeMib: last.freeMib! + MEMORY_STEP_MIB - 1 })).toBe(false);
  });

  it("records one per refresh interval even when nothing changed, well inside the offline threshold", () => {
    expect(worthRecording(last, { ...last, at: last.at + REFRESH_MS })).toBe(true);
    expect(OFFLINE_AFTER_MS).toBeGreaterThanOrEqual(3 * REFRESH_MS);
  });

  it("records free memory moving by a step, either way, at once", () => {
    expect(worthRecording(last, { ...last, at: last.at + 5_000, freeMib: last.freeMib! - MEMORY_STEP_MIB })).toBe(true);
    expect(worthRecording(last, { ...last, at: last.at + 5_000, freeMib: last.freeMib! + MEMORY_STEP_MIB })).toBe(true);
  });

  it("records a change of total memory or of whether memory could be read", () => {
    expect(worthRecording(last, { ...last, at: last.at + 5_000, totalMib: 16384 })).toBe(true);
    expect(worthRecording(last, { ...last, at: last.at + 5_000, freeMib: null })).toBe(true);
    expect(worthRecording({ ...last, freeMib: null }, { ...last, at: last.at + 5_000, freeMib: null })).toBe(false);
  });
});
