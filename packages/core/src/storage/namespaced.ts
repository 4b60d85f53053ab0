import { isDisposable } from "./retention.js";
import type { SetOptions, Storage } from "./types.js";

/**
 * A view of a store in which every key carries `prefix`, so several issuers (tenants) can share
 * one store without seeing each other's clients, grants or keys. Listing strips the prefix again.
 *
 * Every write is also marked {@link SetOptions.disposable} or not by its key without the prefix
 * (see `isDisposable`), so a bounded store treats a tenant's records exactly as an unprefixed
 * one's. The authorization server always writes through this view, with or without a prefix.
 */
export function namespacedStore(storage: Storage, prefix: string): Storage {
  const k = (key: string) => prefix + key;
  const marked = (key: string, value: unknown, options?: SetOptions): SetOptions => ({
    ...options,
    disposable: options?.disposable ?? isDisposable(key, value),
  });
  return {
    get: (key) => storage.get(k(key)),
    set: (key, value, options) => storage.set(k(key), value, marked(key, value, options)),
    setIfAbsent: (key, value, options) => storage.setIfAbsent(k(key), value, marked(key, value, options)),
    delete: (key) => storage.delete(k(key)),
    consume: (key) => storage.consume(k(key)),
    ...(storage.consumeAndSet
      ? {
          consumeAndSet: (key, entries) =>
            storage.consumeAndSet!(
              k(key),
              entries.map((entry) => ({ key: k(entry.key), value: entry.value, options: marked(entry.key, entry.value, entry.options) })),
            ),
        }
      : {}),
    increment: (key, options) => storage.increment(k(key), options),
    list: async <T>(keyPrefix: string, options?: { limit?: number }) =>
      (await storage.list<T>(k(keyPrefix), options)).map((entry) => ({ key: entry.key.slice(prefix.length), value: entry.value })),
    // Channels carry the prefix too, so one tenant's messages never reach another's listeners.
    ...(storage.publish && storage.subscribe
      ? { publish: (channel, message) => storage.publish!(k(channel), message), subscribe: (channel, listener) => storage.subscribe!(k(channel), listener) }
      : {}),
    ...(storage.close ? { close: () => storage.close!() } : {}),
  };
}
