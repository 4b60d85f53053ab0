import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { SetOptions, Storage, StorageEntry } from "@portcullis/core";

/** Options for {@link createSqliteStore}. */
export interface SqliteStoreOptions {
  /** Path of the database file; its parent directory is created when missing. */
  path: string;
  /** Clock in milliseconds; inject one in tests instead of freezing global time. */
  now?: () => number;
  /** Seconds between sweeps that delete expired rows. Default 60; 0 disables the sweep. */
  sweepIntervalSeconds?: number;
}

// How long a statement waits for another connection's lock before failing with SQLITE_BUSY.
const BUSY_TIMEOUT_MS = 5_000;
const SWEEP_BATCH = 500;
const DEFAULT_LIST_LIMIT = 1000;

// Index i upgrades the schema from version i to i + 1 (stored in PRAGMA user_version).
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE entries (
     key TEXT PRIMARY KEY NOT NULL,
     value TEXT NOT NULL,
     expires_at INTEGER
   ) WITHOUT ROWID;
   CREATE INDEX entries_expires_at ON entries (expires_at) WHERE expires_at IS NOT NULL;`,
];

const LIVE = "(expires_at IS NULL OR expires_at > @now)";
const EXPIRED = "(entries.expires_at IS NOT NULL AND entries.expires_at <= @now)";

/**
 * A durable store in one SQLite file (better-sqlite3, WAL mode): the single-node default.
 * Several processes may share the file; each statement is atomic, and `consume` is one
 * `DELETE ... RETURNING`. Expired rows are invisible at once and deleted by a periodic sweep
 * that does not keep the process alive.
 *
 * Durability: `synchronous = NORMAL` under WAL. Every committed write survives the process
 * crashing or being killed; a power loss or operating-system crash may lose the writes since the
 * last checkpoint (never corrupt the file), which at worst revives a just-spent code or refresh
 * token or forgets a just-issued one.
 *
 * Throws an `Error` when the file cannot be opened as a Portcullis store (not a database,
 * corrupt header, a schema from a newer version).
 *
 * @example
 * ```ts
 * const storage = createSqliteStore({ path: ".data/portcullis.db" });
 * ```
 */
export function createSqliteStore(options: SqliteStoreOptions): Storage {
  const { path } = options;
  if (typeof path !== "string" || path === "") {
    throw new TypeError("createSqliteStore: `path` must be a non-empty string");
  }
  const now = options.now ?? Date.now;
  const sweepIntervalSeconds = options.sweepIntervalSeconds ?? 60;
  if (!Number.isFinite(sweepIntervalSeconds) || sweepIntervalSeconds < 0) {
    throw new TypeError("createSqliteStore: `sweepIntervalSeconds` must be a finite number >= 0");
  }

  const db = open(path);
  const statements = (() => {
    try {
      return prepare(db);
    } catch (cause) {
      db.close();
      throw openError(path, cause);
    }
  })();

  const sweep = () => {
    const t = now();
    while (statements.sweep.run({ now: t, limit: SWEEP_BATCH }).changes === SWEEP_BATCH) {
      // Small batches, each its own transaction, so other connections get the lock in between.
    }
  };
  let timer: NodeJS.Timeout | undefined;
  if (sweepIntervalSeconds > 0) {
    timer = setInterval(() => {
      try {
        sweep();
      } catch {
        // Busy or closing: expired rows stay invisible and the next sweep retries.
      }
    }, sweepIntervalSeconds * 1000);
    timer.unref();
  }

  return {
    async get<T>(key: string) {
      const row = statements.get.get({ key, now: now() });
      return row ? (JSON.parse(row.value) as T) : undefined;
    },
    async set(key, value, options) {
      statements.set.run({ key, value: encode(value), expiresAt: expiry(now, options) });
    },
    async setIfAbsent(key, value, options) {
      const t = now();
      const expiresAt = expiry(() => t, options);
      return statements.setIfAbsent.run({ key, value: encode(value), expiresAt, now: t }).changes > 0;
    },
    async delete(key) {
      statements.delete.run({ key });
    },
    async consume<T>(key: string) {
      // Deletes an expired row too (it is garbage), but only a live one is returned.
      const row = statements.consume.get({ key });
      if (!row || (row.expires_at !== null && row.expires_at <= now())) return undefined;
      return JSON.parse(row.value) as T;
    },
    async increment(key, options) {
      const t = now();
      const row = statements.increment.get({ key, expiresAt: expiry(() => t, options), now: t });
      // No row: the live entry is not a counter, so the update's WHERE refused it.
      if (!row) throw new TypeError(`${key} does not hold a counter`);
      return Number(row.value);
    },
    async list<T>(prefix: string, options?: { limit?: number }) {
      // SQLite reads a negative LIMIT as "no limit".
      const limit = Math.floor(options?.limit ?? DEFAULT_LIST_LIMIT);
      if (!(limit > 0)) return [];
      const end = rangeEnd(prefix);
      const rows =
        end === undefined
          ? statements.listFrom.all({ start: prefix, now: now(), limit })
          : statements.listRange.all({ start: prefix, end, now: now(), limit });
      return rows.map((row): StorageEntry<T> => ({ key: row.key, value: JSON.parse(row.value) as T }));
    },
    async close() {
      clearInterval(timer);
      if (db.open) db.close();
    },
  };
}

function open(path: string): Database.Database {
  let db: Database.Database;
  try {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  } catch (cause) {
    throw openError(path, cause);
  }
  try {
    // Both read the header, so a file that is not a database fails here rather than on first use.
    db.pragma("journal_mode = WAL");
    // Under WAL, NORMAL syncs at checkpoints rather than on every commit: a commit survives the
    // process crashing; only a power loss or OS crash can take back the last ones.
    db.pragma("synchronous = NORMAL");
    migrate(db);
    return db;
  } catch (cause) {
    db.close();
    throw openError(path, cause);
  }
}

function migrate(db: Database.Database): void {
  const target = MIGRATIONS.length;
  const read = () => db.pragma("user_version", { simple: true }) as number;
  if (read() === target) return;
  // IMMEDIATE takes the write lock first, so two processes opening a new file migrate it once.
  db.transaction(() => {
    const version = read();
    if (version > target) {
      throw new Error(`schema version ${version} is newer than this @portcullis/sqlite supports (${target})`);
    }
    for (let v = version; v < target; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${target}`);
  }).immediate();
}

interface ValueRow {
  value: string;
}
interface EntryRow {
  key: string;
  value: string;
}

function prepare(db: Database.Database) {
  return {
    get: db.prepare<{ key: string; now: number }, ValueRow>(`SELECT value FROM entries WHERE key = @key AND ${LIVE}`),
    set: db.prepare<{ key: string; value: string; expiresAt: number | null }>(
      `INSERT INTO entries (key, value, expires_at) VALUES (@key, @value, @expiresAt)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    ),
    setIfAbsent: db.prepare<{ key: string; value: string; expiresAt: number | null; now: number }>(
      `INSERT INTO entries (key, value, expires_at) VALUES (@key, @value, @expiresAt)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
       WHERE ${EXPIRED}`,
    ),
    delete: db.prepare<{ key: string }>(`DELETE FROM entries WHERE key = @key`),
    consume: db.prepare<{ key: string }, ValueRow & { expires_at: number | null }>(
      `DELETE FROM entries WHERE key = @key RETURNING value, expires_at`,
    ),
    // SET expressions all read the row as it was, so the value and expiry agree on "expired".
    increment: db.prepare<{ key: string; expiresAt: number | null; now: number }, ValueRow>(
      `INSERT INTO entries (key, value, expires_at) VALUES (@key, '1', @expiresAt)
       ON CONFLICT (key) DO UPDATE SET
         value = CASE WHEN ${EXPIRED} THEN '1' ELSE CAST(CAST(entries.value AS INTEGER) + 1 AS TEXT) END,
         expires_at = CASE WHEN ${EXPIRED} THEN excluded.expires_at ELSE entries.expires_at END
       WHERE ${EXPIRED} OR (entries.value GLOB '[0-9]*' AND entries.value NOT GLOB '*[^0-9]*')
       RETURNING value`,
    ),
    // A key range rather than LIKE: keys contain % and _, and the range uses the primary key.
    listRange: db.prepare<{ start: string; end: string; now: number; limit: number }, EntryRow>(
      `SELECT key, value FROM entries WHERE key >= @start AND key < @end AND ${LIVE} ORDER BY key LIMIT @limit`,
    ),
    listFrom: db.prepare<{ start: string; now: number; limit: number }, EntryRow>(
      `SELECT key, value FROM entries WHERE key >= @start AND ${LIVE} ORDER BY key LIMIT @limit`,
    ),
    sweep: db.prepare<{ now: number; limit: number }>(
      `DELETE FROM entries WHERE key IN
         (SELECT key FROM entries WHERE expires_at IS NOT NULL AND expires_at <= @now LIMIT @limit)`,
    ),
  };
}

function expiry(now: () => number, options: SetOptions | undefined): number | null {
  const ttl = options?.ttlSeconds;
  if (ttl === undefined) return null;
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0) throw new TypeError("`ttlSeconds` must be a finite number above 0");
  return now() + ttl * 1000;
}

function encode(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError("the value is not JSON-serialisable");
  return json;
}

/**
 * The least string above every string that starts with `prefix`, in code point order (which is
 * SQLite's BINARY order on UTF-8 text); undefined when no such bound exists.
 */
function rangeEnd(prefix: string): string | undefined {
  const points = [...prefix];
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      // Skip the surrogate block, which UTF-8 text cannot hold.
      return points.join("") + String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1);
    }
  }
  return undefined;
}

function openError(path: string, cause: unknown): Error {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new Error(`@portcullis/sqlite: cannot open "${path}" as a Portcullis store: ${reason}`, { cause });
}
