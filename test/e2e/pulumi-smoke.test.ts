// test/e2e/pulumi-smoke.test.ts: proves the real Pulumi engine runs here, before any vmbranch
// resource is involved: the CLI we install reports a suitable version, and a one-resource inline
// program goes up, previews with no changes, and is destroyed through the Automation API with the
// local file backend. The dynamic provider is defined here, so this exercises the engine, the
// dynamic-provider plugin and provider serialization, not the vmbranch backend.
import { execFileSync } from "node:child_process";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { createInlineStack, createPulumiSandbox, pulumiBinDir, type InlineStack } from "../helpers/pulumi";

jest.setTimeout(180_000);

const MIN_CLI = [3, 259, 0];

/** Parses "v3.259.0" (also with a suffix) into numbers, or undefined. */
function parseVersion(text: string): number[] | undefined {
  const m = /^v(\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  return m ? m.slice(1, 4).map(Number) : undefined;
}

function atLeast(v: number[], min: number[]): boolean {
  for (let i = 0; i < min.length; i++) {
    if ((v[i] ?? 0) !== (min[i] ?? 0)) return (v[i] ?? 0) > (min[i] ?? 0);
  }
  return true;
}

// Serialized into the state by the engine: only globals inside the methods, nothing captured.
const tokenProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    const token = `tok-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    return { id: token, outs: { label: inputs.label, token } };
  },
  async diff(_id, olds, news) {
    return { changes: olds.label !== news.label, replaces: olds.label !== news.label ? ["label"] : [] };
  },
  async delete() {},
};

class Token extends pulumi.dynamic.Resource {
  declare readonly token: pulumi.Output<string>;
  constructor(name: string, label: string) {
    super(tokenProvider, name, { label, token: undefined }, undefined, "smoke", "Token");
  }
}

test("the installed pulumi CLI reports v3.259.0 or a newer v3", () => {
  const sandbox = createPulumiSandbox();
  try {
    const out = execFileSync(path.join(pulumiBinDir(), "pulumi"), ["version"], {
      encoding: "utf8",
      env: { ...process.env, ...sandbox.env },
    });
    const version = parseVersion(out);
    expect(version).toBeDefined();
    expect(version?.[0]).toBe(3);
    expect(atLeast(version ?? [], MIN_CLI)).toBe(true);
  } finally {
    sandbox.cleanup();
  }
});

describe("a one-resource inline program", () => {
  let s: InlineStack | undefined;
  let destroyed = false;
  afterAll(async () => {
    await s?.cleanup({ destroy: !destroyed }); // destroy here only when the test stopped half-way
  });

  test("goes up, previews with no changes, and is destroyed", async () => {
    s = await createInlineStack({
      projectName: "vmbranch-smoke",
      program: async () => {
        const t = new Token("one", "hello");
        return { token: t.token };
      },
    });

    const up = await s.stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(up.summary.resourceChanges).toEqual({ create: 2 }); // the stack and the token
    expect(up.outputs.token?.value).toMatch(/^tok-[a-z0-9]+-[a-z0-9]+$/);

    const preview = await s.stack.preview();
    expect(preview.changeSummary).toEqual({ same: 2 });

    const destroy = await s.stack.destroy();
    destroyed = destroy.summary.result === "succeeded";
    expect(destroy.summary.result).toBe("succeeded");
    expect(destroy.summary.resourceChanges).toEqual({ delete: 2 });
    const state = await s.stack.exportStack();
    expect(state.deployment.resources ?? []).toEqual([]);
  });
});
