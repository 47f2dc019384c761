/** The wire contract of vmbranch v1: every request and response schema. Zod only (docs/architecture.md, "Layers"). */
export * from "./common";
export * from "./envelope";
export * from "./error-codes";
export * from "./filters";
export * from "./messages";
export * from "./instance";
export * from "./volume";
export * from "./bulk";
export * from "./query";
export * from "./checkpoint";
export * from "./metrics";
export * from "./image";
export * from "./responses";
export * from "./issues";
export * from "./doctor";
export * from "./host";
export * from "./field-docs";
