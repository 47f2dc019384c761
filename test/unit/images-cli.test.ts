// The `vmbranch` CLI around images: subcommand registry, data dir resolution, `image ls` and
// usage errors of `image build` (building for real is test/system/image-build.test.ts).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CommandRegistry, UsageError, type CliCommand, type CliContext } from "../../backend/cli/command-registry";
import { resolveDataDir } from "../../backend/cli/data-dir";
import { buildRegistry } from "../../backend/cli/main";
import { DEFAULT_KERNEL_CMDLINE } from "../../backend/host/images/base-image-spec";

function capture(env: NodeJS.ProcessEnv = {}): CliContext & { out: string; err: string } {
  const ctx = { out: "", err: "", env, stdout: (t: string) => void (ctx.out += t), stderr: (t: string) => void (ctx.err += t) };
  return ctx;
}

describe("command registry", () => {
  const echo: CliCommand = {
    name: "echo",
    summary: "print arguments",
    usage: ["usage: vmbranch echo ARGS"],
    async run(args, ctx) {
      if (args[0] === "--bad") throw new UsageError("no such flag");
      if (args[0] === "--boom") throw new Error("kaput");
      ctx.stdout(args.join(" ") + "\n");
      return 0;
    },
  };
  const registry = new CommandRegistry().register(echo);

  it("dispatches to a registered command with the remaining arguments", async () => {
    const ctx = capture();
    expect(await registry.dispatch(["echo", "a", "b"], ctx)).toBe(0);
    expect(ctx.out).toBe("a b\n");
  });

  it("prints usage for unknown commands (2), usage errors (2) and failures (1)", async () => {
    let ctx = capture();
    expect(await registry.dispatch(["nope"], ctx)).toBe(2);
    expect(ctx.err).toContain("unknown command 'nope'");
    ctx = capture();
    expect(await registry.dispatch(["echo", "--bad"], ctx)).toBe(2);
    expect(ctx.err).toContain("no such flag\nusage: vmbranch echo ARGS");
    ctx = capture();
    expect(await registry.dispatch(["echo", "--boom"], ctx)).toBe(1);
    expect(ctx.err).toBe("vmbranch echo: kaput\n");
  });

  it("has help for everything and refuses duplicate names", async () => {
    const ctx = capture();
    expect(await registry.dispatch(["help"], ctx)).toBe(0);
    expect(ctx.out).toMatch(/echo\s+print arguments/);
    const ctx2 = capture();
    expect(await registry.dispatch(["help", "echo"], ctx2)).toBe(0);
    expect(ctx2.out).toBe("usage: vmbranch echo ARGS\n");
    expect(() => registry.register(echo)).toThrow(/twice/);
  });
});

describe("data dir", () => {
  it("prefers --data-dir, then $VMBRANCH_DATA_DIR, then ~/.vmbranch", () => {
    expect(resolveDataDir("/flag", { VMBRANCH_DATA_DIR: "/env", HOME: "/home/u" })).toBe("/flag");
    expect(resolveDataDir(undefined, { VMBRANCH_DATA_DIR: "/env", HOME: "/home/u" })).toBe("/env");
    expect(resolveDataDir(undefined, { HOME: "/home/u" })).toBe("/home/u/.vmbranch");
    expect(resolveDataDir("rel", {})).toBe(path.resolve("rel"));
  });
});

describe("vmbranch image", () => {
  let data: string;
  beforeEach(() => {
    data = mkdtempSync(path.join(os.tmpdir(), "vmbranch-cli-"));
  });
  afterEach(() => rmSync(data, { recursive: true, force: true }));

  it("ls prints a table, and JSON with --json", async () => {
    const dir = path.join(data, "images", "base");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "vmlinux"), "k".repeat(1048576));
    writeFileSync(path.join(dir, "initrd"), "i");
    const manifest = {
      format: 1,
      name: "base",
      digest: "sha256:" + "d".repeat(64),
      kernel: { file: "vmlinux", sha256: "1".repeat(64), size: 1048576, version: "6.1.0-56-amd64", boot: "pvh" },
      initrd: { file: "initrd", sha256: "2".repeat(64), size: 1, format: "newc" },
      kernel_cmdline: DEFAULT_KERNEL_CMDLINE,
      features: ["9p", "vmgenid"],
      created_at: "2026-01-01T00:00:00.000Z",
      inputs_hash: "h",
    };
    writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest));
    const ctx = capture();
    expect(await buildRegistry().dispatch(["image", "ls", "--data-dir", data], ctx)).toBe(0);
    const [header, row] = ctx.out.trim().split("\n");
    expect(header).toMatch(/^NAME\s+KERNEL\s+DIGEST\s+SIZE\s+FEATURES\s+CREATED$/);
    expect(row).toMatch(/^base\s+6\.1\.0-56-amd64\s+sha256:dddddddddddd\s+1\.0 MiB\s+9p,vmgenid\s+2026-01-01/);
    const json = capture({ VMBRANCH_DATA_DIR: data });
    expect(await buildRegistry().dispatch(["image", "ls", "--json"], json)).toBe(0);
    expect(JSON.parse(json.out)).toEqual([expect.objectContaining({ name: "base", size_bytes: 1048577 })]);
  });

  it("ls honours $VMBRANCH_IMAGE_DIR and prints only the header for an empty store", async () => {
    const ctx = capture({ VMBRANCH_IMAGE_DIR: path.join(data, "nothing-here") });
    expect(await buildRegistry().dispatch(["image", "ls"], ctx)).toBe(0);
    expect(ctx.out.trim().split("\n")).toHaveLength(1);
  });

  it.each([
    [["image"], /missing subcommand/],
    [["image", "frobnicate"], /unknown subcommand 'frobnicate'/],
    [["image", "build", "ubuntu"], /only 'base' can be built/],
    [["image", "build", "--bogus"], /bogus/],
    [["image", "ls", "extra"], /no arguments/],
  ])("%j is a usage error", async (argv, message) => {
    const ctx = capture({ VMBRANCH_DATA_DIR: data });
    expect(await buildRegistry().dispatch(argv, ctx)).toBe(2);
    expect(ctx.err).toMatch(message);
  });
});
