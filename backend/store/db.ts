/**
 * Opens the embedded SQLite database (WAL, foreign keys, busy timeout) and applies migrations.
 * Owns the connection; repositories own their tables' SQL. Callers own transactions' scope.
 */
import Database from "better-sqlite3";
import { MIGRATIONS } from "./migrations";

/** The database handle every repository takes. */
export type Db = Database.Database;

/** Open (creating if needed) the database at `file` and bring its schema up to date. ":memory:" works for tests. */
export function openDatabase(file: string): Db {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  // FULL: a commit is on disk before the call returns, so a file unlinked after a commit never
  // leaves a row pointing at it after a power cut (NORMAL could lose the last commits).
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  return db;
}

/**
 * A private in-memory copy of the database in `file`, brought up to date like `openDatabase`
 * does: the file itself is only read (its schema stays as it is), for tools that copy a state out.
 */
export function openCopy(file: string): Db {
  const source = new Database(file, { readonly: true, fileMustExist: true });
  let image: Buffer;
  try {
    image = source.serialize();
  } finally {
    source.close();
  }
  // Bytes 18 and 19 of the header say WAL (2); an in-memory database cannot use a WAL, so the
  // copy says rollback journal (1), as `PRAGMA journal_mode = DELETE` would have written.
  image[18] = 1;
  image[19] = 1;
  const db = new Database(image);
  db.pragma("foreign_keys = ON");
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length)
    throw new Error(`database schema version ${current} is newer than this vmbranch (${MIGRATIONS.length}); upgrade vmbranch`);
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

