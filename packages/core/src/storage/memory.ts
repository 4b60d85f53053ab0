import type { SetOptions, Storage, StorageEntry } from "./types.js";

interface Slot {
  json: string;
  expiresAt: number | undefined;
}

/** Options for {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Clock in milliseconds; inject one in tests instead of freezing global time. */
  now?: () => number;
  /**
   * Most entries kept; past it, the entries closest to expiry are dropped first. A bound on
   * memory for a process-local store. Default 100,000.
   */
  maxEntries?: number;
}

/**
 * A process-local store for tests and ephemeral development. Nothing survives a restart and
 * nothing is shared between processes: use `@portcullis/sqlite` or `@portcullis/redis` for that.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): Storage {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 100_000;
  const slots = new Map<string, Slot>();

  const live = (key: string): Slot | undefined => {
    const slot = slots.get(key);
    if (!slot) return undefined;
    if (slot.expiresAt !== undefined && slot.expiresAt <= now()) {
      slots.delete(key);
      return undefined;
    }
    return slot;
  };
  const expiry = (options?: SetOptions) => {
    const ttl = options?.ttlSeconds;
    if (ttl === undefined) return undefined;
    if (!Number.isFinite(ttl) || ttl <= 0) throw new TypeError(`ttlSeconds must be a finite number above 0, got ${ttl}`);
    return now() + ttl * 1000;
  };
  const evict = () => {
    if (slots.size < maxEntries) return;
    const t = now();
    for (const [key, slot] of slots) if (slot.expiresAt !== undefined && slot.expiresAt <= t) slots.delete(key);
    if (slots.size < maxEntries) return;
    // Still full: drop the oldest insertions (Map keeps insertion order).
    const excess = slots.size - maxEntries + 1;
    let i = 0;
    for (const key of slots.keys()) {
      if (i++ >= excess) break;
      slots.delete(key);
    }
  };
  const write = (key: string, value: unknown, options?: SetOptions) => {
    if (value === undefined) throw new TypeError("a stored value must not be undefined");
    const slot = { json: JSON.stringify(value), expiresAt: expiry(options) };
    if (!slots.has(key)) evict();
    slots.set(key, slot);
  };

  return {
    async get<T>(key: string) {
      const slot = live(key);
      return slot ? (JSON.parse(slot.json) as T) : undefined;
    },
    async set(key, value, options) {
      write(key, value, options);
    },
    async setIfAbsent(key, value, options) {
      if (live(key)) return false;
      write(key, value, options);
      return true;
    },
    async delete(key) {
      slots.delete(key);
    },
    async consume<T>(key: string) {
      const slot = live(key);
      if (!slot) return undefined;
      slots.delete(key);
      return JSON.parse(slot.json) as T;
    },
    async increment(key, options) {
      const slot = live(key);
      const current: unknown = slot ? JSON.parse(slot.json) : 0;
      if (typeof current !== "number") throw new TypeError(`${key} does not hold a counter`);
      const count = current + 1;
      if (slot) slot.json = JSON.stringify(count);
      else write(key, count, options);
      return count;
    },
    async list<T>(prefix: string, options?: { limit?: number }) {
      const limit = options?.limit ?? 1000;
      const keys = [...slots.keys()].filter((key) => key.startsWith(prefix)).sort(byCodePoint);
      const entries: StorageEntry<T>[] = [];
      for (const key of keys) {
        if (entries.length >= limit) break;
        const slot = live(key);
        if (slot) entries.push({ key, value: JSON.parse(slot.json) as T });
      }
      return entries;
    },
    async close() {
      slots.clear();
    },
  };
}

/** Orders strings by Unicode code point (as SQLite and Redis do), not by UTF-16 code unit. */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}
