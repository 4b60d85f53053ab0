export { OAuthError, isOAuthError } from "./errors.js";
export type { OAuthErrorCode } from "./errors.js";
export { createMemoryStore } from "./storage/memory.js";
export type { MemoryStoreOptions } from "./storage/memory.js";
export type { SetOptions, Storage, StorageEntry } from "./storage/types.js";
