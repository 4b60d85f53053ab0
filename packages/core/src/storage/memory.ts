import { compareCodePoints, encodeValue, expiresAt } from "./kit.js";
import type { SetOptions, Storage, StorageEntry, StorageWrite } from "./types.js";

// Entries a sweep visits per insertion into a full store, looking for expired ones.
const SWEEP_STEP = 64;

interface Slot {
  json: string;
  expiresAt: number | undefined;
}

/** A write to a memory store at `maxEntries` that holds nothing it may drop. */
export class MemoryStoreFullError extends Error {
  constructor(maxEntries: number) {
    super(`the memory store is full (maxEntries ${maxEntries}) and holds nothing it may drop`);
    this.name = "MemoryStoreFullError";
  }
}

/** Options for {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Clock in milliseconds; inject one in tests instead of freezing global time. */
  now?: () => number;
  /**
   * Most entries kept, a bound on memory for a process-local store. Default 100,000. Past it,
   * each insertion first sweeps a few entries for expired ones, then drops the oldest entry
   * written as {@link SetOptions.disposable} (cached documents, pending sign-ins, unused
   * registrations). Nothing else is ever dropped before it expires: spent assertions, codes,
   * refresh tokens, counters and keys stay, and when only they are left the write is refused
   * with {@link MemoryStoreFullError} (which the server answers with 503 and `Retry-After`).
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
  // Keys written as disposable, oldest first: the only live entries eviction may take.
  const disposable = new Set<string>();
  // Eviction reads the oldest through one iterator kept across writes: a Set keeps deleted slots
  // until it is rehashed, and a fresh iterator per eviction walked every slot dropped before it
  // (a full store's writes went from 3 to 24 µs within 100k). Whatever this iterator has passed
  // was evicted, and a key added again goes to the end, so its next key is the oldest there is.
  let oldestDisposable = disposable.values();

  const drop = (key: string) => {
    slots.delete(key);
    disposable.delete(key);
  };
  const live = (key: string): Slot | undefined => {
    const slot = slots.get(key);
    if (!slot) return undefined;
    if (slot.expiresAt !== undefined && slot.expiresAt <= now()) {
      drop(key);
      return undefined;
    }
    return slot;
  };
  // Eviction does bounded work per insertion: a full scan on every insert past the cap made a
  // full store O(n) per write. The sweep cursor walks the Map in insertion order and survives
  // mutation (Map iterators are live); one that runs off the end is done for good, so is
  // replaced.
  let sweepCursor: Iterator<[string, Slot]> | undefined;
  const sweep = () => {
    const t = now();
    let budget = Math.min(SWEEP_STEP, slots.size);
    let restarted = false;
    while (budget > 0) {
      sweepCursor ??= slots.entries();
      const next = sweepCursor.next();
      if (next.done) {
        sweepCursor = undefined;
        if (restarted) return;
        restarted = true;
        continue;
      }
      budget--;
      const [key, slot] = next.value;
      if (slot.expiresAt !== undefined && slot.expiresAt <= t) drop(key);
    }
  };
  // Before refusing a write, one full pass for expired entries; at most once a second, so a
  // store full of live records does not scan itself on every refused write.
  let lastFullSweep = Number.NEGATIVE_INFINITY;
  const sweepAll = () => {
    const t = now();
    if (t - lastFullSweep < 1000) return;
    lastFullSweep = t;
    for (const [key, slot] of slots) if (slot.expiresAt !== undefined && slot.expiresAt <= t) drop(key);
  };
  // Room for `needed` more keys, or MemoryStoreFullError with nothing written.
  const makeRoom = (needed = 1) => {
    if (slots.size + needed <= maxEntries) return;
    sweep();
    while (slots.size + needed > maxEntries) {
      let oldest = oldestDisposable.next();
      if (oldest.done) {
        // A finished iterator stays finished, even after keys are added: start a new one.
        oldestDisposable = disposable.values();
        oldest = oldestDisposable.next();
      }
      if (oldest.done) break;
      drop(oldest.value);
    }
    if (slots.size + needed <= maxEntries) return;
    sweepAll();
    if (slots.size + needed > maxEntries) throw new MemoryStoreFullError(maxEntries);
  };
  const slotOf = (value: unknown, options?: SetOptions): Slot => ({ json: encodeValue(value), expiresAt: expiresAt(now(), options) });
  const put = (key: string, slot: Slot, options?: SetOptions) => {
    slots.set(key, slot);
    if (options?.disposable) disposable.add(key);
    else disposable.delete(key);
  };
  const write = (key: string, value: unknown, options?: SetOptions) => {
    const slot = slotOf(value, options);
    // Whether the key is new only matters at the cap: a lookup in a big Map costs about a µs.
    if (slots.size >= maxEntries && !slots.has(key)) makeRoom();
    put(key, slot, options);
  };

  const store: Storage = {
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
      drop(key);
    },
    async consume<T>(key: string) {
      const slot = live(key);
      if (!slot) return undefined;
      drop(key);
      return JSON.parse(slot.json) as T;
    },
    async consumeAndSet<T>(key: string, entries: readonly StorageWrite[]) {
      // Every value is checked before anything changes, so a bad one consumes nothing.
      const prepared = entries.map((entry) => ({ entry, slot: slotOf(entry.value, entry.options) }));
      const slot = live(key);
      if (!slot) return undefined;
      const wasDisposable = disposable.has(key);
      drop(key);
      try {
        // The exact count of new keys only matters near the cap: it costs a lookup per entry.
        if (slots.size + entries.length > maxEntries) makeRoom(new Set(entries.map((entry) => entry.key).filter((k) => !slots.has(k))).size);
      } catch (error) {
        put(key, slot, { disposable: wasDisposable });
        throw error;
      }
      for (const { entry, slot: written } of prepared) put(entry.key, written, entry.options);
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
      const keys = [...slots.keys()].filter((key) => key.startsWith(prefix)).sort(compareCodePoints);
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
      disposable.clear();
    },
  };
  memoryStores.add(store);
  return store;
}

const memoryStores = new WeakSet<Storage>();

/** Whether `storage` is a store {@link createMemoryStore} made (as made, not wrapped): nothing it holds outlives the process. */
export function isMemoryStore(storage: Storage): boolean {
  return memoryStores.has(storage);
}
