/**
 * `vmbranch image build [base] [--data-dir DIR] [--force]` and `vmbranch image ls [--data-dir DIR]
 * [--json]`: the CLI face of the image store. Owns argument parsing and output; building and
 * listing are backend/host/images.
 */
import { mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { BASE_IMAGE_NAME, buildBaseImage, listImages, resolveImageDir } from "../host/images";
import { UsageError, type CliCommand, type CliContext } from "./command-registry";
import { resolveDataDir } from "./data-dir";
import { progress } from "./operator/progress";

const USAGE = [
  "usage: vmbranch image build [base] [--data-dir DIR] [--force]",
  "       vmbranch image ls [--data-dir DIR] [--json]",
  "",
  "Images live in $VMBRANCH_IMAGE_DIR if set, else <data-dir>/images; the data dir defaults to",
  "$VMBRANCH_DATA_DIR or ~/.vmbranch. A build with unchanged inputs does nothing.",
];

function parse(args: string[], flag: "force" | "json") {
  try {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { "data-dir": { type: "string" }, [flag]: { type: "boolean" } } });
    return { dataDir: values["data-dir"] as string | undefined, flag: values[flag] === true, positionals };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Human-readable byte count (MiB with one decimal). */
export function formatSize(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

async function build(args: string[], ctx: CliContext): Promise<number> {
  const { dataDir, flag: force, positionals } = parse(args, "force");
  if (positionals.length > 1) throw new UsageError("build takes at most one image name");
  const name = positionals[0] ?? BASE_IMAGE_NAME;
  if (name !== BASE_IMAGE_NAME) throw new UsageError(`cannot build image '${name}': only '${BASE_IMAGE_NAME}' can be built`);
  const data = resolveDataDir(dataDir, ctx.env);
  const imageDir = resolveImageDir(data, ctx.env);
  // The data dir holds secrets once serve runs there: whoever makes it first makes it private.
  if (imageDir.startsWith(data + "/")) mkdirSync(data, { recursive: true, mode: 0o700 });
  // On a terminal the build's steps are the phase of a spinner; elsewhere each is a line of the log.
  const bar = ctx.interactive ? progress(ctx, `image build ${name}`) : null;
  let result;
  try {
    result = await buildBaseImage({ imageDir, force, log: (line) => (bar ? bar.phase(line) : ctx.stderr(`image build: ${line}\n`)) });
  } catch (e) {
    bar?.done("failed", false);
    throw e;
  }
  bar?.done(result.cached ? "up to date" : "built");
  const m = result.manifest;
  const what = result.cached ? "is up to date (cached), nothing to do" : "built";
  ctx.stdout(`image ${m.name} ${what}: kernel ${m.kernel.version}, ${m.digest}, ${result.dir}\n`);
  return 0;
}

async function list(args: string[], ctx: CliContext): Promise<number> {
  const { dataDir, flag: json, positionals } = parse(args, "json");
  if (positionals.length > 0) throw new UsageError("ls takes no arguments");
  const images = listImages(resolveImageDir(resolveDataDir(dataDir, ctx.env), ctx.env));
  if (json) {
    ctx.stdout(JSON.stringify(images, null, 2) + "\n");
    return 0;
  }
  const rows = [["NAME", "KERNEL", "DIGEST", "SIZE", "FEATURES", "CREATED"]];
  for (const i of images) rows.push([i.name, i.kernel_version, i.digest.slice(0, 19), formatSize(i.size_bytes), i.features.join(","), i.created_at]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  ctx.stdout(rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd()).join("\n") + "\n");
  return 0;
}

/** The `image` subcommand. */
export const imageCommand: CliCommand = {
  name: "image",
  summary: "build and list guest images (image build [base], image ls)",
  usage: USAGE,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === "build") return build(rest, ctx);
    if (sub === "ls" || sub === "list") return list(rest, ctx);
    throw new UsageError(sub === undefined ? "missing subcommand" : `unknown subcommand '${sub}'`);
  },
};
