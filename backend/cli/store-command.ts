/**
 * `vmbranch store migrate --to postgres://… [--data-dir DIR]`: copies the data dir's SQLite state
 * into an empty PostgreSQL database and verifies the copy by reading every row back from both
 * (store/postgres/copy-from-sqlite.ts). Owns the command line, the data dir's lock (serve must not
 * run on it meanwhile) and what is printed; the SQLite file is only read and stays serve's store.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openCopy, type Db } from "../store/db";
import { MIGRATIONS } from "../store/migrations";
import { connectPostgres, PostgresConnectError, redactUrl } from "../store/postgres/connection";
import { copySqliteToPostgres, TargetNotEmpty } from "../store/postgres/copy-from-sqlite";
import { UsageError, type CliCommand } from "./command-registry";
import { resolveDataDir } from "./data-dir";
import { DataDirBusy, lockDataDir } from "./data-dir-lock";
import { EXIT } from "./operator/connection";

const USAGE = [
  "usage: vmbranch store migrate --to postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE [--data-dir DIR]",
  "",
  "Copies the state of the data dir (default $VMBRANCH_DATA_DIR or ~/.vmbranch) into an empty",
  "PostgreSQL database: creates the schema, copies every table in one transaction, reads every row",
  "back from both and compares them; any difference rolls everything back. The SQLite state is only",
  "read. `vmbranch serve` must not run on the data dir meanwhile.",
  "Exit status: 0 copied and verified; 1 failed (nothing kept in the target); 2 bad command line;",
  "4 the target database is not empty, or another vmbranch process uses the data dir (nothing changed).",
];

/** The `store` subcommand (one action today: `migrate`). */
export const storeCommand: CliCommand = {
  name: "store",
  summary: "copy the state into PostgreSQL (store migrate --to postgres://…)",
  usage: USAGE,
  async run(args, ctx) {
    let parsed;
    try {
      parsed = parseArgs({ args, strict: true, allowPositionals: true, options: { to: { type: "string" }, "data-dir": { type: "string" } } });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values, positionals } = parsed;
    if (positionals.length !== 1 || positionals[0] !== "migrate") throw new UsageError(positionals.length === 0 ? "name an action: migrate" : `unknown action '${positionals.join(" ")}'`);
    const url = values.to;
    if (url === undefined || url === "") throw new UsageError("--to postgres://… is required");

    const dataDir = resolveDataDir(values["data-dir"], ctx.env);
    const dbFile = join(dataDir, "vmbranch.db");
    if (!existsSync(dbFile)) throw new Error(`no state to migrate: ${dbFile} does not exist`);
    let unlock: () => void;
    try {
      unlock = lockDataDir(dataDir, "store migrate");
    } catch (e) {
      if (!(e instanceof DataDirBusy)) throw e;
      ctx.stderr(`vmbranch store: ${e.message}\n`);
      return EXIT.CONFLICT;
    }
    let source: Db | undefined;
    try {
      // A private copy in memory, brought to this version's schema: the file keeps its own.
      source = openCopy(dbFile);
      const client = await connectPostgres(url);
      try {
        const counts = await copySqliteToPostgres(source, client);
        const width = Math.max(...counts.map((c) => c.table.length));
        ctx.stdout(`copied ${dbFile} (schema version ${MIGRATIONS.length}) into ${redactUrl(url)}; every row of every table read back equal:\n`);
        for (const c of counts) ctx.stdout(`  ${c.table.padEnd(width)}  ${c.postgres} rows\n`);
        ctx.stdout(`the SQLite state is unchanged; \`vmbranch serve\` still runs on it (serving from PostgreSQL is not available yet)\n`);
        return EXIT.OK;
      } finally {
        await client.end().catch(() => undefined);
      }
    } catch (e) {
      if (e instanceof TargetNotEmpty) {
        ctx.stderr(`vmbranch store: ${e.message}; nothing was changed\n`);
        return EXIT.CONFLICT;
      }
      if (e instanceof PostgresConnectError) {
        ctx.stderr(`vmbranch store: ${e.message}\n`);
        return EXIT.FAILED;
      }
      throw e;
    } finally {
      source?.close();
      unlock();
    }
  },
};
