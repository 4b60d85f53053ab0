import type { Storage } from "./types.js";

/** A store call failed: the store is unreachable, corrupt or refused the operation. */
export class StorageError extends Error {
  constructor(operation: string, cause: unknown) {
    super(`storage ${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "StorageError";
  }
}

const METHODS = ["get", "set", "setIfAbsent", "delete", "consume", "consumeAndSet", "increment", "list", "publish"] as const;

/**
 * Errors that mean a bug rather than an outage, whether in Portcullis or in the store adapter: a
 * bad argument (`TypeError`), an overflowed stack or bad length (`RangeError`), a missing name
 * (`ReferenceError`), and the rarer `URIError` and `EvalError`. A `SyntaxError` inside a store call
 * is the store's data failing to parse, so it stays a store failure.
 */
function isProgrammingError(error: unknown): boolean {
  return (
    error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError || error instanceof URIError || error instanceof EvalError
  );
}

/**
 * Wraps a store so its failures surface as {@link StorageError}, which the server answers with
 * 503 and `Retry-After` instead of a bare 500. Programming errors (`TypeError`, `RangeError` such
 * as a stack overflow, `ReferenceError`...) stay what they are, answered 500 through `onError`:
 * they are bugs, not outages.
 */
export function withStorageErrors(storage: Storage): Storage {
  const wrapped = { ...storage } as Storage;
  for (const method of METHODS) {
    if (!storage[method]) continue;
    const call = storage[method].bind(storage) as (...args: unknown[]) => Promise<unknown>;
    (wrapped as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      try {
        return await call(...args);
      } catch (error) {
        if (isProgrammingError(error)) throw error;
        throw new StorageError(method, error);
      }
    };
  }
  if (storage.subscribe) wrapped.subscribe = (channel, listener) => storage.subscribe!(channel, listener);
  if (storage.close) wrapped.close = () => storage.close!();
  return wrapped;
}
