// Picking host ports for published guest ports: the window below the kernel's ephemeral range
// that picks come from, what a pick does when that window is busy or full, and the operator's
// `--published-ports` range. Real sockets on 127.0.0.1, no VM.
import { createServer, type Server } from "node:net";
import { ephemeralLow, isPortFree, pickFreePort, pickInRange, publishedWindow } from "../../backend/host/net/ports";
import { UsageError } from "../../backend/cli/command-registry";
import { parsePortRange } from "../../backend/cli/port-range";
import { unclaimedPort } from "../helpers/ports";

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });
}

const close = (srv: Server) => new Promise((r) => srv.close(r));

describe("the published-port window", () => {
  it("is the 2768 ports just below the ephemeral range, never reaching the privileged ports", () => {
    expect(publishedWindow(32768)).toEqual({ low: 30000, high: 32767 });
    expect(publishedWindow(49152)).toEqual({ low: 46384, high: 49151 });
    expect(publishedWindow(2000)).toEqual({ low: 1024, high: 1999 });
    expect(publishedWindow(1024)).toBeNull();
  });

  it("follows this host's ip_local_port_range", () => {
    expect(publishedWindow()?.high).toBe(ephemeralLow() - 1);
  });
});

describe("pickFreePort", () => {
  it("picks a free port of the window, below the ephemeral range, for tcp and udp", async () => {
    const window = publishedWindow()!;
    for (const protocol of ["tcp", "udp"] as const) {
      const port = await pickFreePort(protocol, new Set());
      expect(port).toBeGreaterThanOrEqual(window.low);
      expect(port).toBeLessThanOrEqual(window.high);
      expect(await isPortFree(port, protocol)).toBe(true);
    }
  });

  it("skips ports promised to others and ports in use, down to the last free one of the window", async () => {
    // A window of three below the ephemeral range: one promised, one listening, one left.
    const base = await unclaimedPort();
    const window = { low: base, high: base + 2 };
    const busy = await listen(base + 1);
    try {
      for (let i = 0; i < 5; i++) expect(await pickFreePort("tcp", new Set([base]), window)).toBe(base + 2);
    } finally {
      await close(busy);
    }
  });

  it("falls back to a port the kernel hands out when the whole window is taken", async () => {
    const window = publishedWindow()!;
    const promised = new Set<number>();
    for (let p = window.low; p <= window.high; p++) promised.add(p);
    const port = await pickFreePort("tcp", promised);
    expect(promised.has(port)).toBe(false);
    expect(port).toBeGreaterThanOrEqual(ephemeralLow());
  });

  it("never leaves a range the operator named: a full one has no port to give", async () => {
    const base = await unclaimedPort();
    const range = { low: base, high: base + 1 };
    const busy = await listen(base);
    try {
      expect(await pickInRange("tcp", new Set(), range)).toBe(base + 1);
      expect(await pickInRange("tcp", new Set([base + 1]), range)).toBeNull();
    } finally {
      await close(busy);
    }
  });
});

describe("--published-ports", () => {
  it("takes LOW-HIGH of unprivileged ports and refuses anything else with the exact message", () => {
    expect(parsePortRange("published-ports", "40000-40999")).toEqual({ low: 40000, high: 40999 });
    expect(parsePortRange("published-ports", "1024-1024")).toEqual({ low: 1024, high: 1024 });
    expect(parsePortRange("published-ports", undefined)).toBeUndefined();
    for (const bad of ["80-90", "40000", "40999-40000", "40000-70000", "a-b", "-1-5", "40000 - 40999", ""]) {
      expect(() => parsePortRange("published-ports", bad)).toThrow(new UsageError(`--published-ports must be LOW-HIGH with 1024 <= LOW <= HIGH <= 65535, got '${bad}'`));
    }
  });
});
