import type { Storage, StorageWrite } from "./types.js";

/**
 * {@link Storage.consumeAndSet} where the store has it; otherwise `consume`, then the writes
 * (together) only when something was consumed, which is exactly-once still but two round trips
 * and not one atomic step.
 */
export async function consumeAndSet<T>(storage: Storage, key: string, entries: readonly StorageWrite[]): Promise<T | undefined> {
  if (storage.consumeAndSet) return storage.consumeAndSet<T>(key, entries);
  const value = await storage.consume<T>(key);
  if (value !== undefined) await Promise.all(entries.map((entry) => storage.set(entry.key, entry.value, entry.options)));
  return value;
}
