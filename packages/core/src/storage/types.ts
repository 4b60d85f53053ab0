/** Options for a write. */
export interface SetOptions {
  /**
   * Seconds until the entry expires and is no longer returned: finite and greater than 0.
   * Omitted: it never expires.
   */
  ttlSeconds?: number;
  /**
   * The entry may be dropped before it expires when a bounded store (the memory store's
   * `maxEntries`) is full: losing it only costs a refetch or a repeated step, never re-enables
   * anything. Entries without it are kept until they expire or are deleted; a full store refuses
   * new ones instead. Stores without a bound ignore it.
   */
  disposable?: boolean;
}

/** One entry returned by {@link Storage.list}. */
export interface StorageEntry<T = unknown> {
  key: string;
  value: T;
}

/** One write of {@link Storage.consumeAndSet}: what {@link Storage.set} would be called with. */
export interface StorageWrite {
  key: string;
  value: unknown;
  options?: SetOptions;
}

/**
 * The storage port every Portcullis store implements. Values are JSON-serialisable; a store
 * returns a copy, never a live reference. Every method is atomic on its own key.
 *
 * `consume` is the only way a single-use value (an authorization code, a rotated refresh token) is
 * spent: of N concurrent callers on one key, exactly one gets the value.
 *
 * Keys are compared and listed in Unicode code point order. A value of `undefined`, or a TTL
 * that is not a finite positive number, is a `TypeError`.
 *
 * Stores run the shared contract suite in `@portcullis/core/testing` (`runStorageContract`).
 */
export interface Storage {
  /** The value under `key`, or `undefined` when absent or expired. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Writes `value` under `key`, replacing any previous value and TTL. */
  set(key: string, value: unknown, options?: SetOptions): Promise<void>;
  /** Writes `value` only if no live entry exists under `key`; answers whether it wrote. */
  setIfAbsent(key: string, value: unknown, options?: SetOptions): Promise<boolean>;
  /** Removes the entry under `key`, if any. */
  delete(key: string): Promise<void>;
  /** Atomically reads and removes the entry under `key`; exactly one concurrent caller gets it. */
  consume<T = unknown>(key: string): Promise<T | undefined>;
  /**
   * Optional: atomically consumes the entry under `key`, as {@link consume}, and only when it was
   * live writes `entries` (other keys than `key`) in the same step, as {@link set} would; answers
   * the consumed value. Of N
   * concurrent callers on one key exactly one gets the value, and only that caller's entries are
   * written; a failed call writes nothing and consumes nothing. The server spends a refresh token
   * this way together with its successor's record, so a store shared over a network does the whole
   * rotation in one round trip and a crash between the two cannot lose the grant. A store without
   * it gets `consume` followed by `set`s.
   */
  consumeAndSet?<T = unknown>(key: string, entries: readonly StorageWrite[]): Promise<T | undefined>;
  /**
   * Atomically adds 1 to the counter under `key` and answers the new count. A new counter starts
   * at 1 and gets `ttlSeconds`; later increments keep the original expiry (a fixed window).
   * Rejects when the entry holds something other than a counter.
   */
  increment(key: string, options?: SetOptions): Promise<number>;
  /** Live entries whose key starts with `prefix`, in key order, at most `limit` (default 1000; 0 or less: none). */
  list<T = unknown>(prefix: string, options?: { limit?: number }): Promise<StorageEntry<T>[]>;
  /**
   * Optional, for stores shared by several instances: sends `message` to every listener that
   * {@link subscribe}d to `channel` through any store on the same backing service (this instance
   * included). Delivery is best effort and at most once: a listener that is disconnected at the
   * time misses it, so nothing may depend on it for correctness, only for speed. The server
   * publishes a revoked grant's id here so other instances drop it from their grant cache at once
   * rather than after `grantCacheSeconds`. A store that implements one of the two implements both.
   */
  publish?(channel: string, message: string): Promise<void>;
  /**
   * Optional, with {@link publish}: calls `listener` with each message later published on
   * `channel`, and answers a function that stops it. Never throws for a connection problem: the
   * store connects in the background and reconnects when the connection drops.
   */
  subscribe?(channel: string, listener: (message: string) => void): () => void;
  /** Releases connections or file handles. */
  close?(): Promise<void>;
}
