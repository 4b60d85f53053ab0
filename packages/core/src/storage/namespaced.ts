import type { Storage } from "./types.js";

/**
 * A view of a store in which every key carries `prefix`, so several issuers (tenants) can share
 * one store without seeing each other's clients, grants or keys. Listing strips the prefix again.
 */
export function namespacedStore(storage: Storage, prefix: string): Storage {
  if (prefix === "") return storage;
  const k = (key: string) => prefix + key;
  return {
    get: (key) => storage.get(k(key)),
    set: (key, value, options) => storage.set(k(key), value, options),
    setIfAbsent: (key, value, options) => storage.setIfAbsent(k(key), value, options),
    delete: (key) => storage.delete(k(key)),
    consume: (key) => storage.consume(k(key)),
    increment: (key, options) => storage.increment(k(key), options),
    list: async <T>(keyPrefix: string, options?: { limit?: number }) =>
      (await storage.list<T>(k(keyPrefix), options)).map((entry) => ({ key: entry.key.slice(prefix.length), value: entry.value })),
    ...(storage.close ? { close: () => storage.close!() } : {}),
  };
}
