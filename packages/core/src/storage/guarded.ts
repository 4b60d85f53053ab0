import type { Storage } from "./types.js";

/** A store call failed: the store is unreachable, corrupt or refused the operation. */
export class StorageError extends Error {
  constructor(operation: string, cause: unknown) {
    super(`storage ${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "StorageError";
  }
}

const METHODS = ["get", "set", "setIfAbsent", "delete", "consume", "increment", "list"] as const;

/**
 * Wraps a store so its failures surface as {@link StorageError}, which the server answers with
 * 503 and `Retry-After` instead of a bare 500. Argument errors (`TypeError`) stay what they are:
 * they are bugs, not outages.
 */
export function withStorageErrors(storage: Storage): Storage {
  const wrapped = { ...storage } as Storage;
  for (const method of METHODS) {
    const call = storage[method].bind(storage) as (...args: unknown[]) => Promise<unknown>;
    (wrapped as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      try {
        return await call(...args);
      } catch (error) {
        if (error instanceof TypeError) throw error;
        throw new StorageError(method, error);
      }
    };
  }
  if (storage.close) wrapped.close = () => storage.close!();
  return wrapped;
}
