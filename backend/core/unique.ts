/**
 * Names and host ports are checked before slow work (mkfs, disk copies) and enforced again by
 * the database's unique indexes at insert. Two concurrent requests for one name both pass the
 * first check; the second insert is then a 409, not a 500.
 */
import { UniqueViolation } from "../store/table";
import { ApiError, type ErrorCode } from "./errors";

/** Run an insert; a unique-constraint failure becomes `code` (default NAME_TAKEN) with `message`. */
export function insertUnique<T>(insert: () => T, message: string, code: ErrorCode = "NAME_TAKEN"): T {
  try {
    return insert();
  } catch (err) {
    if (!(err instanceof UniqueViolation)) throw err;
    if (err.columns.includes("host_port")) throw new ApiError("PORT_UNAVAILABLE", "A requested host port was just taken by another instance", "ports");
    throw new ApiError(code, message, "name");
  }
}
