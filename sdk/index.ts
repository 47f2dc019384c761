/** vmbranch SDK: the wire contract (zod schemas) and, in client/, a typed HTTP client. */
export * from "./schemas";
export * from "./client";
