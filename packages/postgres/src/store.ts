import { createHash } from "node:crypto";
import pg from "pg";
import type { SetOptions, Storage, StorageEntry, StorageWrite } from "@portcullis/core";
import { encodeValue, expiresAt, listLimit, prefixEnd, redactURL } from "@portcullis/core/store-kit";

/**
 * The part of a node-postgres `Pool` the store uses. Any `new pg.Pool(...)` fits.
 */
export interface PostgresStorePool {
  query(query: string | PostgresStatement, values?: unknown[]): Promise<PostgresQueryResult>;
  connect(): Promise<PostgresStoreConnection>;
}

/** A connection checked out of a {@link PostgresStorePool}: node-postgres's `PoolClient`. */
export interface PostgresStoreConnection {
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
  /** Returns the connection to the pool, or with an error or `true` closes it. */
  release(destroy?: Error | boolean): void;
  on(event: "notification", listener: (message: { channel: string; payload?: string | undefined }) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "end", listener: () => void): unknown;
}

/**
 * A statement as node-postgres takes it: with a `name`, it is parsed and planned once per
 * connection (a prepared statement) and later only bound and run.
 */
export interface PostgresStatement {
  name?: string;
  text: string;
  values?: unknown[];
}

/** What a query answers, as far as the store reads it. */
export interface PostgresQueryResult {
  rows: unknown[];
  rowCount: number | null;
}

/** Options for {@link createPostgresStore}. Give either `url` or `pool`. */
export interface PostgresStoreOptions {
  /**
   * Connection URL, e.g. `postgres://user@127.0.0.1:5432/db?schema=auth`. Its `schema` query
   * parameter names the schema the store keeps its tables in; the rest is node-postgres's.
   */
  url?: string;
  /**
   * A node-postgres pool to use instead of creating one. The store neither configures nor ends
   * it: its owner does. The store holds one of its connections for the invalidation channel.
   */
  pool?: PostgresStorePool;
  /**
   * The schema the tables live in, created on first use when missing. Default: the URL's
   * `schema` parameter, else `"portcullis"`. Letters, digits, `_` and `$`, at most 63.
   */
  schema?: string;
  /** Connections in the pool the store creates from `url`. Default 10. */
  poolSize?: number;
  /** Clock in milliseconds; inject one in tests instead of freezing global time. */
  now?: () => number;
  /** Seconds between sweeps that delete expired rows. Default 60; 0 disables the sweep. */
  sweepIntervalSeconds?: number;
  /**
   * Whether each statement is prepared once per connection (named statements), so PostgreSQL
   * parses and plans it once rather than on every call: about half the database's CPU on a
   * refresh. Default true. Set false behind a connection pooler that hands each statement to any
   * server connection and does not track prepared statements (PgBouncer in transaction mode
   * without `max_prepared_statements`).
   */
  prepareStatements?: boolean;
}

const DEFAULT_SCHEMA = "portcullis";
const DEFAULT_POOL_SIZE = 10;
// A bound on connecting and on every statement, so a server that stops answering cannot hang a request.
const TIMEOUT_MS = 5_000;
const SWEEP_BATCH = 500;
// NOTIFY refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD_BYTES = 7_900;
const MAX_RECONNECT_DELAY_MS = 2_000;

// Index i upgrades the schema from version i to i + 1. Applied in one transaction under an
// advisory lock, so instances starting together migrate once; a row per version is recorded.
const MIGRATIONS: readonly ((s: string) => string)[] = [
  // COLLATE "C" compares UTF-8 bytes: code point order, as the other stores list keys. `json`
  // rather than `jsonb`: a value comes back exactly as written, and jsonb refuses "\u0000".
  (s) => `CREATE TABLE ${s}.entries (
     key text COLLATE "C" PRIMARY KEY,
     value json NOT NULL,
     expires_at bigint
   );
   CREATE INDEX entries_expires_at ON ${s}.entries (expires_at) WHERE expires_at IS NOT NULL;`,
];

/**
 * A store in PostgreSQL (node-postgres), shared by many instances. Every operation is one
 * statement: `consume` is `DELETE ... RETURNING`, `setIfAbsent` and `increment` are
 * `INSERT ... ON CONFLICT` upserts that take over an expired row in the same step, so no caller
 * reads and then writes. Reads asked for in the same turn of the event loop are sent as one
 * statement, and so are increments; each statement is prepared once per connection
 * (`prepareStatements`). Expired rows are invisible at once and deleted by a periodic sweep that
 * does not keep the process alive. Values are stored as `json`, expiries as milliseconds from the
 * store's clock.
 *
 * On first use the store creates its schema and tables, or upgrades them, recording each version
 * in a `migrations` table. `publish`/`subscribe` are `NOTIFY`/`LISTEN` on one held connection, so
 * a grant revoked at one instance is dropped from every instance's cache at once.
 *
 * While the database is unreachable, calls reject within about five seconds (the server answers
 * 503 with `Retry-After`); the pool reconnects on a later call.
 *
 * @example
 * ```ts
 * const storage = createPostgresStore({ url: "postgres://auth@db.internal:5432/app?schema=portcullis" });
 * ```
 */
export function createPostgresStore(options: PostgresStoreOptions): Storage {
  const { url, pool: given } = options;
  if ((url === undefined) === (given === undefined)) throw new TypeError("createPostgresStore: give exactly one of `url` and `pool`");
  if (url !== undefined && (typeof url !== "string" || url === "")) throw new TypeError("createPostgresStore: `url` must be a non-empty string");
  const parsed = url === undefined ? undefined : splitURL(url);
  const schemaName = options.schema ?? parsed?.schema ?? DEFAULT_SCHEMA;
  if (typeof schemaName !== "string" || !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(schemaName)) {
    throw new TypeError("createPostgresStore: `schema` must be 1 to 63 letters, digits, `_` or `$`, not starting with a digit");
  }
  const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new TypeError("createPostgresStore: `poolSize` must be an integer >= 1");
  const now = options.now ?? Date.now;
  const sweepIntervalSeconds = options.sweepIntervalSeconds ?? 60;
  if (!Number.isFinite(sweepIntervalSeconds) || sweepIntervalSeconds < 0) {
    throw new TypeError("createPostgresStore: `sweepIntervalSeconds` must be a finite number >= 0");
  }

  const where = parsed ? redactURL(parsed.connectionString) : "the given pool";
  const pool: PostgresStorePool = given ?? ownPool(parsed!.connectionString, poolSize);
  const prepareStatements = options.prepareStatements ?? true;
  if (typeof prepareStatements !== "boolean") throw new TypeError("createPostgresStore: `prepareStatements` must be a boolean");
  const sql = named(statements(pg.escapeIdentifier(schemaName)), prepareStatements);
  let closed = false;

  let migrating: Promise<void> | undefined;
  const ready = (): Promise<void> => {
    if (closed) return Promise.reject(new Error("@portcullis/postgres: the store is closed"));
    migrating ??= migrate(pool, schemaName).catch((cause: unknown) => {
      migrating = undefined; // the next call tries again
      throw new Error(`@portcullis/postgres: cannot open schema "${schemaName}" at ${where}: ${reasonOf(cause)}`, { cause });
    });
    return migrating;
  };
  const query = async <R>(statement: PostgresStatement, values: unknown[]): Promise<R[]> => {
    await ready();
    const { name, text } = statement;
    return (await (name === undefined ? pool.query(text, values) : pool.query({ name, text, values }))).rows as R[];
  };

  let timer: NodeJS.Timeout | undefined;
  if (sweepIntervalSeconds > 0) {
    timer = setInterval(() => {
      void (async () => {
        const t = now();
        while ((await query(sql.sweep, [t, SWEEP_BATCH])).length === SWEEP_BATCH) {
          // Small batches, so no statement holds many row locks for long.
        }
      })().catch(() => {
        // Unreachable or closing: expired rows stay invisible and the next sweep retries.
      });
    }, sweepIntervalSeconds * 1000);
    timer.unref();
  }

  // Reads asked for in the same turn of the event loop share one statement; each reader parses
  // its own copy.
  const read = perTurn<undefined>(async (batch) => {
    const rows = await query<EntryRow>(sql.get, [batch.map(([key]) => key), now()]);
    const values = new Map(rows.map((row) => [row.key, row.value]));
    for (const [key, waiters] of batch) {
      const text = values.get(key);
      for (const waiter of waiters) {
        try {
          waiter.resolve(text === undefined ? undefined : JSON.parse(text));
        } catch (error) {
          waiter.reject(error);
        }
      }
    }
  });
  // So do increments: a key's callers in one batch add their number at once, and each gets the
  // count its own increment made (the counter's new value minus those after it). A counter
  // created by the batch expires when its first caller asked.
  const count = perTurn<number | null>(async (batch) => {
    const rows = await query<EntryRow>(sql.increment, [
      batch.map(([key]) => key),
      batch.map(([, waiters]) => waiters.length),
      batch.map(([, waiters]) => waiters[0]!.arg),
      now(),
    ]);
    const totals = new Map(rows.map((row) => [row.key, Number(row.value)]));
    for (const [key, waiters] of batch) {
      const total = totals.get(key);
      // No row: the live entry is not a counter, so the update's WHERE refused it.
      if (total === undefined) for (const waiter of waiters) waiter.reject(new TypeError(`${key} does not hold a counter`));
      else for (const [i, waiter] of waiters.entries()) waiter.resolve(total - waiters.length + 1 + i);
    }
  });

  const channel = `portcullis_${createHash("sha256").update(schemaName).digest("hex").slice(0, 16)}`;
  const listeners = new Map<string, Set<(message: string) => void>>();
  const listener = createListener(pool, channel, (payload) => {
    let parsedPayload: unknown;
    try {
      parsedPayload = JSON.parse(payload);
    } catch {
      return;
    }
    if (!Array.isArray(parsedPayload) || typeof parsedPayload[0] !== "string" || typeof parsedPayload[1] !== "string") return;
    for (const listen of listeners.get(parsedPayload[0]) ?? []) {
      try {
        listen(parsedPayload[1]);
      } catch {
        // One listener's failure is not the store's nor the other listeners'.
      }
    }
  });

  return {
    get: <T>(key: string) => read(key, undefined) as Promise<T | undefined>,
    async set(key, value, options) {
      await query(sql.set, [key, encodeValue(value), expiry(now(), options)]);
    },
    async setIfAbsent(key, value, options) {
      const t = now();
      return (await query(sql.setIfAbsent, [key, encodeValue(value), expiry(t, options), t])).length > 0;
    },
    async delete(key) {
      await query(sql.delete, [key]);
    },
    async consume<T>(key: string) {
      // Deletes an expired row too (it is garbage), but only a live one is returned.
      const [row] = await query<ValueRow & { live: boolean }>(sql.consume, [key, now()]);
      return row?.live ? (JSON.parse(row.value) as T) : undefined;
    },
    async consumeAndSet<T>(key: string, entries: readonly StorageWrite[]) {
      const t = now();
      // Encoded before the query, so a bad value consumes nothing; a key written twice keeps its
      // last value, as two sets would (one INSERT may not touch a row twice).
      const writes = new Map(entries.map((entry) => [entry.key, [encodeValue(entry.value), expiry(t, entry.options)] as const]));
      if (writes.has(key)) throw new TypeError("consumeAndSet cannot write the key it consumes");
      const [row] = await query<ValueRow & { live: boolean }>(sql.consumeAndSet, [
        key,
        t,
        [...writes.keys()],
        [...writes.values()].map(([value]) => value),
        [...writes.values()].map(([, expiresAt]) => expiresAt),
      ]);
      return row?.live ? (JSON.parse(row.value) as T) : undefined;
    },
    async increment(key, options) {
      // The expiry is checked here, so a bad option fails its own caller, not a batch.
      return (await count(key, expiry(now(), options))) as number;
    },
    async list<T>(prefix: string, options?: { limit?: number }) {
      const limit = listLimit(options);
      if (limit === 0) return [];
      // The least key above the prefix's range, in code point order: `COLLATE "C"` on UTF-8.
      const end = prefixEnd(prefix);
      const t = now();
      const rows = end === undefined ? await query<EntryRow>(sql.listFrom, [prefix, t, limit]) : await query<EntryRow>(sql.listRange, [prefix, end, t, limit]);
      return rows.map((row): StorageEntry<T> => ({ key: row.key, value: JSON.parse(row.value) as T }));
    },
    async publish(name, message) {
      if (typeof name !== "string" || typeof message !== "string") throw new TypeError("`channel` and `message` must be strings");
      const payload = JSON.stringify([name, message]);
      if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) throw new TypeError("the message is too long for NOTIFY");
      await query(sql.notify, [channel, payload]);
    },
    subscribe(name, listen) {
      let set = listeners.get(name);
      if (!set) {
        set = new Set();
        listeners.set(name, set);
      }
      // Each call is its own subscription, even with a listener already subscribed.
      const own = (message: string) => listen(message);
      set.add(own);
      if (!closed) listener.start();
      return () => {
        set.delete(own);
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      listener.stop();
      if (!given) await (pool as pg.Pool).end();
    },
  };
}

interface ValueRow {
  value: string;
}
interface EntryRow {
  key: string;
  value: string;
}

function statements(s: string) {
  const live = "(expires_at IS NULL OR expires_at > $2)";
  const expired = (now: string) => `(e.expires_at IS NOT NULL AND e.expires_at <= ${now})`;
  return {
    // Every key of one batched read (see perTurn).
    get: `SELECT key, value::text AS value FROM ${s}.entries WHERE key = ANY($1::text[]) AND ${live}`,
    set: `INSERT INTO ${s}.entries (key, value, expires_at) VALUES ($1, $2::json, $3)
          ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    // The conflicting row is locked before the WHERE is read, so of concurrent callers exactly one
    // inserts or takes over the expired row; the others see a live row and write nothing.
    setIfAbsent: `INSERT INTO ${s}.entries AS e (key, value, expires_at) VALUES ($1, $2::json, $3)
          ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
          WHERE ${expired("$4")}
          RETURNING 1`,
    delete: `DELETE FROM ${s}.entries WHERE key = $1`,
    // A second concurrent DELETE waits for the first to commit, then finds no row.
    consume: `DELETE FROM ${s}.entries WHERE key = $1 RETURNING value::text AS value, ${live} AS live`,
    // One statement: the DELETE locks the row, so a concurrent twin waits, then finds nothing
    // and writes nothing. An expired row is deleted (garbage) and nothing is written. Written
    // rows are locked in key order, as in increment.
    consumeAndSet: `WITH spent AS (
            DELETE FROM ${s}.entries WHERE key = $1 RETURNING value::text AS value, ${live} AS live
          ), written AS (
            INSERT INTO ${s}.entries (key, value, expires_at)
            SELECT k, v::json, x FROM unnest($3::text[], $4::text[], $5::bigint[]) AS w(k, v, x)
            WHERE EXISTS (SELECT 1 FROM spent WHERE live) ORDER BY k
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
          )
          SELECT value, live FROM spent`,
    // Adds $2[i] to each counter $1[i] (see perTurn). SET expressions all read the row as it was,
    // so the value and expiry agree on "expired". Rows are locked in key order, so two batches
    // sharing keys wait for each other rather than deadlock.
    increment: `INSERT INTO ${s}.entries AS e (key, value, expires_at)
          SELECT k, n::text::json, x FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS w(k, n, x) ORDER BY k
          ON CONFLICT (key) DO UPDATE SET
            value = CASE WHEN ${expired("$4")} THEN excluded.value
              ELSE ((e.value::text)::bigint + (excluded.value::text)::bigint)::text::json END,
            expires_at = CASE WHEN ${expired("$4")} THEN excluded.expires_at ELSE e.expires_at END
          WHERE ${expired("$4")} OR e.value::text ~ '^[0-9]{1,18}$'
          RETURNING key, value::text AS value`,
    // A key range rather than LIKE: keys contain % and _, and the range uses the primary key.
    listRange: `SELECT key, value::text AS value FROM ${s}.entries
          WHERE key >= $1 AND key < $2 AND (expires_at IS NULL OR expires_at > $3) ORDER BY key LIMIT $4`,
    listFrom: `SELECT key, value::text AS value FROM ${s}.entries WHERE key >= $1 AND ${live} ORDER BY key LIMIT $3`,
    // The outer condition is read again on the row's latest version, so a row rewritten with a
    // new TTL since the inner scan survives; SKIP LOCKED keeps two instances' sweeps apart.
    sweep: `DELETE FROM ${s}.entries WHERE key IN
          (SELECT key FROM ${s}.entries WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
          AND expires_at <= $1 RETURNING 1`,
    notify: `SELECT pg_notify($1, $2)`,
  };
}

/**
 * Each statement with a name derived from its text (which holds the schema), so stores of
 * different schemas sharing one pool never give one name two texts on a connection, which
 * node-postgres refuses. Without `prepare`, plain texts.
 */
function named<K extends string>(texts: Record<K, string>, prepare: boolean): Record<K, PostgresStatement> {
  const out = {} as Record<K, PostgresStatement>;
  for (const key of Object.keys(texts) as K[]) {
    const text = texts[key];
    out[key] = prepare ? { name: `portcullis_${createHash("sha256").update(text).digest("hex").slice(0, 24)}`, text } : { text };
  }
  return out;
}

/** Creates the schema and brings its tables to the latest version, once across all instances. */
async function migrate(pool: PostgresStorePool, schemaName: string): Promise<void> {
  const s = pg.escapeIdentifier(schemaName);
  const client = await pool.connect();
  let failed: unknown;
  try {
    await client.query("BEGIN");
    // Held until COMMIT: a second instance waits here, then finds the work done.
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`portcullis.migrate.${schemaName}`]);
    const exists = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schemaName]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.migrations (
       version integer PRIMARY KEY,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`);
    const { rows } = await client.query(`SELECT max(version) AS version FROM ${s}.migrations`);
    const version = (rows[0] as { version: number | null } | undefined)?.version ?? 0;
    if (version > MIGRATIONS.length) {
      throw new Error(`schema version ${version} is newer than this @portcullis/postgres supports (${MIGRATIONS.length})`);
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      await client.query(MIGRATIONS[v]!(s));
      await client.query(`INSERT INTO ${s}.migrations (version) VALUES ($1)`, [v + 1]);
    }
    await client.query("COMMIT");
  } catch (error) {
    failed = error;
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    // A connection that failed mid-transaction is not handed out again.
    client.release(failed instanceof Error && !(failed instanceof pg.DatabaseError) ? failed : undefined);
  }
}

/**
 * `LISTEN` on one connection held from the pool, reconnecting with backoff when it drops. A
 * message published while it is down is missed; the grant cache's own bound covers that.
 */
function createListener(pool: PostgresStorePool, channel: string, deliver: (payload: string) => void) {
  let client: PostgresStoreConnection | undefined;
  let starting = false;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;

  const drop = (which: PostgresStoreConnection, error?: Error) => {
    if (client !== which) return;
    client = undefined;
    which.release(error ?? true);
    schedule();
  };
  const schedule = () => {
    if (stopped || retry) return;
    const delay = Math.min(50 * 2 ** failures++, MAX_RECONNECT_DELAY_MS);
    retry = setTimeout(() => {
      retry = undefined;
      start();
    }, delay);
    retry.unref();
  };
  const start = () => {
    if (stopped || client || starting) return;
    starting = true;
    void (async () => {
      let c: PostgresStoreConnection | undefined;
      try {
        c = await pool.connect();
        const held = c;
        held.on("notification", (n) => {
          if (n.channel === channel && n.payload !== undefined) deliver(n.payload);
        });
        held.on("error", (error) => drop(held, error));
        held.on("end", () => drop(held));
        await held.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
        if (stopped) {
          held.release(true);
          return;
        }
        client = held;
        failures = 0;
      } catch (error) {
        c?.release(error instanceof Error ? error : true);
        schedule();
      } finally {
        starting = false;
      }
    })();
  };
  return {
    start,
    stop() {
      stopped = true;
      clearTimeout(retry);
      const held = client;
      client = undefined;
      // Destroyed, not returned: a pooled connection must not keep listening.
      held?.release(true);
    },
  };
}

function ownPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: TIMEOUT_MS,
    statement_timeout: TIMEOUT_MS,
    query_timeout: TIMEOUT_MS,
    // Idle connections do not keep the process alive.
    allowExitOnIdle: true,
  });
  // An idle connection's error (the server restarted) would otherwise crash the process; the pool
  // drops that connection and the next call opens a new one.
  pool.on("error", () => {});
  return pool;
}

/** The URL without its `schema` parameter, and that parameter. */
function splitURL(url: string): { connectionString: string; schema: string | undefined } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError("createPostgresStore: `url` is not a URL");
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new TypeError("createPostgresStore: `url` must start with postgres:// or postgresql://");
  }
  const schema = parsed.searchParams.get("schema") ?? undefined;
  parsed.searchParams.delete("schema");
  return { connectionString: parsed.href, schema };
}

/** When an entry written now with `options` expires, in whole milliseconds (the column is a bigint), or null. */
function expiry(now: number, options: SetOptions | undefined): number | null {
  const at = expiresAt(now, options);
  return at === undefined ? null : Math.round(at);
}

function reasonOf(cause: unknown): string {
  if (cause instanceof AggregateError && cause.errors.length > 0) return reasonOf(cause.errors[0]);
  return cause instanceof Error ? cause.message || cause.name : String(cause);
}

/** Most keys one batched statement carries; a larger batch is split. */
const MAX_BATCH_KEYS = 256;

interface Waiter<A> {
  /** What this caller asked with (an increment's expiry). */
  arg: A;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** One batch: each distinct key with its callers, in the order they asked. */
type Batch<A> = [key: string, waiters: Waiter<A>[]][];

/**
 * Calls asked for during one turn of the event loop, sent together once it ends: `send` gets up to
 * {@link MAX_BATCH_KEYS} keys at a time and settles their callers. Under load many requests call
 * at once, and each statement costs a round trip, a system call and the database's parsing and
 * planning however few rows it touches. If `send` fails, every caller it has not settled is
 * rejected. Each call is still atomic on its key: it only runs a little later than it was asked.
 */
function perTurn<A>(send: (batch: Batch<A>) => Promise<void>): (key: string, arg: A) => Promise<unknown> {
  let pending: Map<string, Waiter<A>[]> | undefined;
  const flush = () => {
    const all = [...pending!];
    pending = undefined;
    for (let i = 0; i < all.length; i += MAX_BATCH_KEYS) {
      const batch = all.slice(i, i + MAX_BATCH_KEYS);
      send(batch).catch((error: unknown) => {
        for (const [, waiters] of batch) for (const waiter of waiters) waiter.reject(error);
      });
    }
  };
  return (key, arg) =>
    new Promise((resolve, reject) => {
      if (!pending) {
        pending = new Map();
        setImmediate(flush);
      }
      const waiter = { arg, resolve, reject };
      const waiters = pending.get(key);
      if (waiters) waiters.push(waiter);
      else pending.set(key, [waiter]);
    });
}
