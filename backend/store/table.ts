/**
 * A small typed table mapper: one column spec per record type turns records into rows and back
 * (snake_case columns, JSON and boolean codecs) and gives insert/get/update/delete/select.
 * Repositories add the queries that are specific to them; nothing here knows a table's meaning.
 */
import { isPostgres, type StoreDb } from "./engine";

type Codec = "text" | "int" | "real" | "bool" | "json";

/** Column spec: record field → [column, codec]. */
export type Columns<T> = { [K in keyof T]-?: readonly [string, Codec] };

function encode(value: unknown, codec: Codec): unknown {
  if (value === null || value === undefined) return null;
  if (codec === "bool") return value ? 1 : 0;
  if (codec === "json") return JSON.stringify(value);
  return value;
}

function decode(value: unknown, codec: Codec): unknown {
  if (value === null || value === undefined) return null;
  if (codec === "bool") return value === 1 || value === true;
  if (codec === "json") return JSON.parse(value as string);
  return value;
}

/** An insert or update refused by a unique index; `columns` names the index's columns (e.g. `host_port`). */
export class UniqueViolation extends Error {
  constructor(
    readonly table: string,
    readonly columns: string[],
    cause: Error,
  ) {
    super(cause.message, { cause });
    this.name = "UniqueViolation";
  }

  /** The engine's error as a UniqueViolation, or the error itself when it is something else. */
  static from(table: string, err: unknown): unknown {
    const e = err as { code?: string; message?: string; detail?: string } | null;
    if (typeof e !== "object" || e === null) return err;
    // SQLite names the columns in its message: "UNIQUE constraint failed: ports.host_port, ports.protocol";
    // PostgreSQL (23505) in its detail: "Key (host_port, protocol)=(8080, tcp) already exists."
    let list: string | undefined;
    if (e.code === "SQLITE_CONSTRAINT_UNIQUE") list = (e.message ?? "").split(":").slice(1).join(":");
    else if (e.code === "23505") list = /^Key \(([^)]*)\)=/.exec(e.detail ?? "")?.[1];
    if (list === undefined) return err;
    return new UniqueViolation(table, list.split(",").map((c) => c.trim().split(".").pop()!).filter(Boolean), err as Error);
  }
}

/** Typed access to one table whose primary key is `key`. */
export class Table<T extends object> {
  private readonly fields: (keyof T)[];
  /** Columns holding text, which PostgreSQL orders byte by byte only when told (see `ordering`). */
  private readonly textColumns: Set<string>;

  constructor(
    protected readonly db: StoreDb,
    readonly name: string,
    private readonly columns: Columns<T>,
    private readonly key: (keyof T)[],
  ) {
    this.fields = Object.keys(columns) as (keyof T)[];
    this.textColumns = new Set(this.fields.filter((f) => columns[f][1] === "text").map((f) => columns[f][0]));
  }

  /** Column name of a field (for repository-specific SQL). */
  col(field: keyof T): string {
    return this.columns[field][0];
  }

  /** Decode one SQL row into a record. */
  fromRow(row: Record<string, unknown>): T {
    const out = {} as Record<keyof T, unknown>;
    for (const f of this.fields) out[f] = decode(row[this.columns[f][0]], this.columns[f][1]);
    return out as T;
  }

  /** Insert a full record. */
  insert(record: T): void {
    const cols = this.fields.map((f) => this.columns[f][0]);
    const sql = `INSERT INTO ${this.name} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`;
    try {
      this.db.prepare(sql).run(...this.fields.map((f) => encode(record[f], this.columns[f][1])));
    } catch (err) {
      throw UniqueViolation.from(this.name, err);
    }
  }

  /** Update some fields of the record identified by its key fields. */
  update(keyValues: Partial<T>, changes: Partial<T>): void {
    const set = (Object.keys(changes) as (keyof T)[]).filter((f) => f in this.columns);
    if (set.length === 0) return;
    const sql = `UPDATE ${this.name} SET ${set.map((f) => `${this.columns[f][0]} = ?`).join(", ")} WHERE ${this.where()}`;
    this.db.prepare(sql).run(...set.map((f) => encode(changes[f], this.columns[f][1])), ...this.keyArgs(keyValues));
  }

  /** The record with these key values, or null. */
  get(keyValues: Partial<T>): T | null {
    const row = this.db.prepare(`SELECT * FROM ${this.name} WHERE ${this.where()}`).get(...this.keyArgs(keyValues));
    return row ? this.fromRow(row as Record<string, unknown>) : null;
  }

  /** Delete the record with these key values. */
  delete(keyValues: Partial<T>): void {
    this.db.prepare(`DELETE FROM ${this.name} WHERE ${this.where()}`).run(...this.keyArgs(keyValues));
  }

  /** Every record (in no particular order). */
  all(): T[] {
    return this.select();
  }

  /** Records matching `where` (SQL over column names) with positional `args`: for the repositories' named queries only. */
  protected select(where = "TRUE", args: unknown[] = [], orderBy?: string): T[] {
    const order = orderBy ? ` ORDER BY ${this.ordering(orderBy)}` : "";
    return (this.db.prepare(`SELECT * FROM ${this.name} WHERE ${where}${order}`).all(...args) as Record<string, unknown>[]).map(
      (r) => this.fromRow(r),
    );
  }

  /**
   * `orderBy` (column names) ordering text byte by byte on every engine: PostgreSQL would otherwise
   * use the database's collation, and lists would come out in another order than on SQLite.
   */
  private ordering(orderBy: string): string {
    if (!isPostgres(this.db)) return orderBy;
    return orderBy.split(",").map((c) => (this.textColumns.has(c.trim()) ? `${c.trim()} COLLATE "C"` : c.trim())).join(", ");
  }

  private where(): string {
    return this.key.map((k) => `${this.columns[k][0]} = ?`).join(" AND ");
  }

  private keyArgs(keyValues: Partial<T>): unknown[] {
    return this.key.map((k) => {
      if (keyValues[k] === undefined) throw new Error(`missing key ${String(k)} for ${this.name}`);
      return encode(keyValues[k], this.columns[k][1]);
    });
  }
}
