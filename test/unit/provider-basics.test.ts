// Pure helpers of the provider: plain JSON values and unknowns, auto-naming, timeouts, the
// @pulumi/pulumi versions it runs with, and lookup arguments.
import { UNKNOWN, containsUnknown, jsonEqual, plain } from "vmbranch/provider/impl/values";
import { autoName, resolveName, sanitizePrefix } from "vmbranch/provider/impl/naming";
import { Deadline, parseDuration, resolveTimeouts, timeoutsFailures } from "vmbranch/provider/impl/timeouts";
import * as pulumi from "@pulumi/pulumi";
import { MIN_PULUMI_VERSION, requireSupportedPulumi, unsupportedPulumiReason } from "vmbranch/provider/resources/pulumi-version";
import { lookupVolume } from "vmbranch/provider/impl/lookups";

describe("values", () => {
  it("uses the engine's unknown placeholder", () => {
    expect(UNKNOWN).toBe(pulumi.runtime.unknownValue);
    expect(containsUnknown({ a: [1, { b: UNKNOWN }] })).toBe(true);
    expect(containsUnknown({ a: [1, { b: "x" }] })).toBe(false);
  });

  it("compares JSON deeply, ignoring key order and undefined keys", () => {
    expect(jsonEqual({ a: 1, b: [1, 2], c: undefined }, { b: [1, 2], a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: null }, {})).toBe(false);
  });

  it("makes outputs without undefined anywhere, keys sorted", () => {
    const out = plain({ b: undefined, a: [undefined, { y: 1, x: undefined }] });
    expect(out).toEqual({ a: [null, { y: 1 }] });
    expect(JSON.stringify(out)).toBe('{"a":[null,{"y":1}]}');
  });
});

describe("auto-naming", () => {
  it("appends 7 hex characters to a sanitised logical name", () => {
    expect(autoName("web")).toMatch(/^web-[0-9a-f]{7}$/);
    expect(sanitizePrefix("my web/app")).toBe("my-web-app");
    expect(sanitizePrefix("--x")).toBe("x");
    expect(autoName("a".repeat(80))).toHaveLength(63);
  });

  it("keeps the user's name, reuses an old auto-name, and makes a new one on replacement", () => {
    expect(resolveName(undefined, { name: "db", namePrefix: "db" })).toEqual({ name: "db", namePrefix: "db", autoNamed: false });
    const first = resolveName(undefined, { namePrefix: "web" });
    expect(first.autoNamed).toBe(true);
    expect(first.name).toMatch(/^web-[0-9a-f]{7}$/);
    // An update: the engine passes the old inputs, which carry the auto-name.
    expect(resolveName(first, { namePrefix: "web" }).name).toBe(first.name);
    // A replacement's second check has no old inputs: a fresh name that cannot collide.
    expect(resolveName({}, { namePrefix: "web" }).name).not.toBe(first.name);
    // A name the user fixed is not reused once they remove it.
    expect(resolveName({ name: "fixed", autoNamed: false }, { namePrefix: "web" }).name).toMatch(/^web-/);
  });
});

describe("timeouts", () => {
  it("parses durations and seconds", () => {
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration(45)).toBe(45_000);
    expect(parseDuration("5 minutes")).toBeUndefined();
    expect(parseDuration(0)).toBeUndefined();
  });

  it("resolves against defaults and reports bad values", () => {
    expect(resolveTimeouts({ create: "10m" })).toEqual({ createMs: 600_000, updateMs: 300_000, deleteMs: 120_000 });
    expect(timeoutsFailures({ create: "soon", destroy: "1m" }).map((f) => f.property)).toEqual(["timeouts.create", "timeouts.destroy"]);
    expect(timeoutsFailures({ create: UNKNOWN })).toEqual([]);
    expect(timeoutsFailures(UNKNOWN)).toEqual([]);
  });

  it("tracks what is left of a budget", () => {
    const d = new Deadline(60_000);
    expect(d.remainingMs()).toBeGreaterThan(59_000);
    expect(d.describe()).toBe("1m");
    expect(new Deadline(1).remainingMs()).toBeGreaterThanOrEqual(1);
  });
});

describe("the @pulumi/pulumi versions the provider runs with", () => {
  it("accepts 3.x from 3.259.0 on, the one these tests load included", () => {
    expect(MIN_PULUMI_VERSION).toBe("3.259.0");
    for (const v of ["3.259.0", "3.259.1", "3.276.0", "3.300.0-alpha.1", (require("@pulumi/pulumi/version") as { version: string }).version]) expect(unsupportedPulumiReason(v)).toBeUndefined();
  });

  it("refuses older and other majors, saying what to install", () => {
    expect(unsupportedPulumiReason("3.258.9")).toBe(
      "vmbranch needs @pulumi/pulumi ^3.259.0 (3.x from 3.259.0 on), but this program loads @pulumi/pulumi 3.258.9: run 'npm install @pulumi/pulumi@^3.259.0'",
    );
    expect(unsupportedPulumiReason("3.100.0")).toMatch(/loads @pulumi\/pulumi 3.100.0/);
    expect(unsupportedPulumiReason("4.0.0")).toMatch(/loads @pulumi\/pulumi 4.0.0/);
    expect(() => requireSupportedPulumi(() => "2.25.0")).toThrow(/loads @pulumi\/pulumi 2.25.0/);
  });
});

describe("lookups", () => {
  it("need exactly one of name or uuid", async () => {
    await expect(lookupVolume({}, { token: "t" })).rejects.toThrow("vmbranch: looking up volume: give exactly one of 'name' or 'uuid'");
    await expect(lookupVolume({ name: "a", uuid: "b" }, { token: "t" })).rejects.toThrow(/exactly one/);
  });
});
