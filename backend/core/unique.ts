/**
 * Names and host ports are checked before slow work (mkfs, disk copies) and enforced again by
 * the database's unique indexes at insert. Two concurrent requests for one name both pass the
 * first check; the second insert is then a 409, not a 500.
 */
import { ApiError, type ErrorCode } from "./errors";

/** True for SQLite's unique-constraint failure. */
function isUniqueViolation(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE";
}

/** Run an insert; a unique-constraint failure becomes `code` (default NAME_TAKEN) with `message`. */
export function insertUnique<T>(insert: () => T, message: string, code: ErrorCode = "NAME_TAKEN"): T {
  try {
    return insert();
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const field = /ports\.|host_port/.test((err as Error).message) ? "ports" : "name";
    throw new ApiError(field === "ports" ? "PORT_UNAVAILABLE" : code, field === "ports" ? "A requested host port was just taken by another instance" : message, field);
  }
}
