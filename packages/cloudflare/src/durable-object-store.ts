import { DurableObject } from "cloudflare:workers";
import type { Storage, StorageEntry, StorageWrite } from "@portcullis/core";
import { encodeValue, prefixEnd, ttlSecondsOf } from "@portcullis/core/store-kit";
import type { DurableObjectNamespaceLike, DurableObjectState } from "./workers.js";

/**
 * `DurableObject` from `cloudflare:workers`, typed with this package's structural shapes, so the
 * published declarations import nothing from the Workers runtime: a project type-checks against
 * this package without `@cloudflare/workers-types` or `wrangler types`. At run time the class
 * below extends the real `DurableObject`, which RPC needs.
 */
const DurableObjectBase = DurableObject as unknown as abstract new (
  ctx: DurableObjectState,
  env: unknown,
) => { readonly ctx: DurableObjectState; readonly env: unknown };

/** Rows deleted per sweep, so one alarm never runs long. */
const SWEEP_BATCH = 5_000;

interface Row {
  key: string;
  value: string;
  expires_at: number | null;
}

/**
 * The Durable Object that holds a Portcullis store in its SQLite-backed storage. Export it from
 * your Worker and bind it with a `new_sqlite_classes` migration.
 *
 * Every method runs synchronously inside the single-threaded object, so a read and the write that
 * follows it cannot interleave with another call: `consume`, `setIfAbsent` and `increment` are
 * atomic. Values arrive and leave as JSON text; the object never parses them (but for counters).
 *
 * @example
 * export { PortcullisStorageObject } from "@portcullis/cloudflare";
 */
export class PortcullisStorageObject extends DurableObjectBase {
  /** When the cleanup alarm is set, or null; mirrored in memory so writes need not await getAlarm. */
  private alarmAt: number | null = null;
  /** Expired rows are swept at most this often; reads never return them in between. */
  protected sweepIntervalMs = 60_000;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS portcullis_entries (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER)");
    ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS portcullis_entries_expiry ON portcullis_entries (expires_at) WHERE expires_at IS NOT NULL");
    void ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  get(key: string): string | undefined {
    return this.live(key)?.value;
  }

  set(key: string, json: string, ttlSeconds?: number): void {
    this.write(key, json, ttlSeconds);
  }

  setIfAbsent(key: string, json: string, ttlSeconds?: number): boolean {
    return this.ctx.storage.transactionSync(() => {
      if (this.live(key)) return false;
      this.write(key, json, ttlSeconds);
      return true;
    });
  }

  delete(key: string): void {
    this.ctx.storage.sql.exec("DELETE FROM portcullis_entries WHERE key = ?", key);
  }

  consume(key: string): string | undefined {
    const [row] = this.ctx.storage.sql.exec<Row>("DELETE FROM portcullis_entries WHERE key = ? RETURNING value, expires_at", key).toArray();
    return row && isLive(row, Date.now()) ? row.value : undefined;
  }

  /** Spends a live `key` and, only then, writes `entries` ([key, JSON, ttlSeconds?] each), in one transaction. */
  consumeAndSet(key: string, entries: [string, string, number | undefined][]): string | undefined {
    return this.ctx.storage.transactionSync(() => {
      const spent = this.consume(key);
      if (spent !== undefined) for (const [k, json, ttlSeconds] of entries) this.write(k, json, ttlSeconds);
      return spent;
    });
  }

  increment(key: string, ttlSeconds?: number): number {
    return this.ctx.storage.transactionSync(() => {
      const row = this.live(key);
      if (!row) {
        this.write(key, "1", ttlSeconds);
        return 1;
      }
      const current: unknown = JSON.parse(row.value);
      if (typeof current !== "number") throw new TypeError(`${key} does not hold a counter`);
      // A fixed window: the counter keeps the expiry it was created with.
      this.ctx.storage.sql.exec("UPDATE portcullis_entries SET value = ? WHERE key = ?", String(current + 1), key);
      return current + 1;
    });
  }

  list(prefix: string, limit: number): { key: string; value: string }[] {
    if (limit <= 0) return [];
    const end = prefixEnd(prefix);
    const live = "(expires_at IS NULL OR expires_at > ?)";
    // TEXT compares with BINARY collation, i.e. UTF-8 bytes, i.e. Unicode code point order.
    const rows =
      end === undefined
        ? this.ctx.storage.sql.exec<Row>(`SELECT key, value FROM portcullis_entries WHERE key >= ? AND ${live} ORDER BY key LIMIT ?`, prefix, Date.now(), limit)
        : this.ctx.storage.sql.exec<Row>(
            `SELECT key, value FROM portcullis_entries WHERE key >= ? AND key < ? AND ${live} ORDER BY key LIMIT ?`,
            prefix,
            end,
            Date.now(),
            limit,
          );
    return rows.toArray().map(({ key, value }) => ({ key, value }));
  }

  /** Sweeps expired rows, then sets the alarm for the next expiry. */
  async alarm(): Promise<void> {
    const now = Date.now();
    this.ctx.storage.sql.exec(
      "DELETE FROM portcullis_entries WHERE key IN (SELECT key FROM portcullis_entries WHERE expires_at <= ? LIMIT ?)",
      now,
      SWEEP_BATCH,
    );
    const [next] = this.ctx.storage.sql
      .exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM portcullis_entries WHERE expires_at IS NOT NULL")
      .toArray();
    this.alarmAt = null;
    if (next?.at != null) this.schedule(next.at, Date.now());
  }

  private live(key: string): Row | undefined {
    const [row] = this.ctx.storage.sql.exec<Row>("SELECT key, value, expires_at FROM portcullis_entries WHERE key = ?", key).toArray();
    return row && isLive(row, Date.now()) ? row : undefined;
  }

  private write(key: string, json: string, ttlSeconds: number | undefined): void {
    const now = Date.now();
    const expiresAt = ttlSeconds === undefined ? null : now + ttlSeconds * 1000;
    this.ctx.storage.sql.exec(
      "INSERT INTO portcullis_entries (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
      key,
      json,
      expiresAt,
    );
    if (expiresAt !== null) this.schedule(expiresAt, now);
  }

  private schedule(expiresAt: number, now: number): void {
    const at = Math.max(expiresAt, now + this.sweepIntervalMs);
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    // Storage writes in a Durable Object are committed with the call's other writes; no await needed.
    void this.ctx.storage.setAlarm(at);
  }
}

function isLive(row: Row, now: number): boolean {
  return row.expires_at === null || row.expires_at > now;
}

/** The RPC surface of {@link PortcullisStorageObject}, as a stub exposes it. */
interface StorageObjectStub {
  get(key: string): Promise<string | undefined>;
  set(key: string, json: string, ttlSeconds?: number): Promise<void>;
  setIfAbsent(key: string, json: string, ttlSeconds?: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  consume(key: string): Promise<string | undefined>;
  consumeAndSet(key: string, entries: [string, string, number | undefined][]): Promise<string | undefined>;
  increment(key: string, ttlSeconds?: number): Promise<number>;
  list(prefix: string, limit: number): Promise<{ key: string; value: string }[]>;
}

/** Options of {@link createDurableObjectStore}. */
export interface DurableObjectStoreOptions {
  /** Which object of the namespace holds the store. Default `"portcullis"`. */
  name?: string;
  /** Where to create the object on first use (e.g. `"weur"`); see Cloudflare's location hints. */
  locationHint?: string;
}

/**
 * A {@link Storage} kept in one {@link PortcullisStorageObject}: single-use codes and refresh
 * rotation stay exactly-once however many Worker isolates call it, and TTLs hold to the
 * millisecond (they are checked on every read; an alarm deletes what has expired).
 *
 * Does not shard: one object serves every call, which suits an authorization server's write rate
 * (an object handles on the order of a thousand calls a second). Give tenants separate `name`s.
 *
 * @example
 * const storage = createDurableObjectStore(env.PORTCULLIS_STORE);
 */
export function createDurableObjectStore(namespace: DurableObjectNamespaceLike, options: DurableObjectStoreOptions = {}): Storage {
  const id = namespace.idFromName(options.name ?? "portcullis");
  const getOptions = options.locationHint ? { locationHint: options.locationHint } : undefined;
  // A stub is cheap; taking one per call keeps it inside the request that uses it.
  const stub = () => namespace.get(id, getOptions) as StorageObjectStub;
  const parse = <T>(json: string | undefined) => (json === undefined ? undefined : (JSON.parse(json) as T));

  return {
    async get<T>(key: string) {
      return parse<T>(await stub().get(key));
    },
    async set(key, value, options) {
      await stub().set(key, encodeValue(value), ttlSecondsOf(options));
    },
    async setIfAbsent(key, value, options) {
      return stub().setIfAbsent(key, encodeValue(value), ttlSecondsOf(options));
    },
    async delete(key) {
      await stub().delete(key);
    },
    async consume<T>(key: string) {
      return parse<T>(await stub().consume(key));
    },
    async consumeAndSet<T>(key: string, entries: readonly StorageWrite[]) {
      const writes = entries.map((entry): [string, string, number | undefined] => [entry.key, encodeValue(entry.value), ttlSecondsOf(entry.options)]);
      return parse<T>(await stub().consumeAndSet(key, writes));
    },
    async increment(key, options) {
      return stub().increment(key, ttlSecondsOf(options));
    },
    async list<T>(prefix: string, options?: { limit?: number }) {
      const entries = await stub().list(prefix, options?.limit ?? 1000);
      return entries.map(({ key, value }): StorageEntry<T> => ({ key, value: JSON.parse(value) as T }));
    },
  };
}
