import { createHash } from "node:crypto";
import { createClient } from "redis";
import type { SetOptions, Storage, StorageEntry, StorageWrite } from "@portcullis/core";
import { compareCodePoints, encodeValue, listLimit, redactURL, ttlSecondsOf } from "@portcullis/core/store-kit";

/**
 * The part of a node-redis client the store uses. Any `createClient()` result fits, whatever
 * its modules, RESP version or type mapping.
 */
export interface RedisStoreClient {
  sendCommand(args: string[], options?: { typeMapping?: Record<string, never> }): Promise<unknown>;
  readonly isOpen: boolean;
  /**
   * A new client with the same options; the store makes one to subscribe on (a subscribed
   * connection can send nothing else). Without it, a store given this client hears no messages,
   * so other instances' revocations reach it only within `grantCacheSeconds`.
   */
  duplicate?(): RedisSubscriberClient;
}

/** The part of a node-redis client the store subscribes with: a `duplicate()` of its client. */
export interface RedisSubscriberClient {
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  destroy(): void;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "end", listener: () => void): unknown;
  readonly isOpen: boolean;
}

/** Options for {@link createRedisStore}. */
export interface RedisStoreOptions {
  /** Server to connect to when no `client` is given. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /**
   * A connected node-redis client to use instead of creating one. The store neither connects
   * nor closes it: its owner does.
   */
  client?: RedisStoreClient;
  /** Prepended to every Redis key, so deployments sharing a server stay apart. Default `"portcullis:"`. */
  keyPrefix?: string;
}

const DEFAULT_URL = "redis://127.0.0.1:6379";
const CONNECT_TIMEOUT_MS = 2_000;
// A bound on every call, so a server that accepts connections but never answers cannot hang a request.
const COMMAND_TIMEOUT_MS = 5_000;
const SCAN_COUNT = "1000";
const MGET_BATCH = 500;
// Default decoding (strings), whatever type mapping the client was created with.
const AS_STRINGS = { typeMapping: {} as Record<string, never> };
// On the store's own client, no timeout of node-redis's own either (from version 6, 5 s by
// default): `withTimeout` bounds every call already, and node-redis's builds an AbortSignal with a
// timer and a listener per command (about 9 µs of the main thread and garbage, on a
// registration's one command). A client the caller gives keeps the timeout it was made with.
const OWN_CLIENT_OPTIONS = { ...AS_STRINGS, timeout: undefined };

// A new counter gets the TTL in the same atomic step that creates it; later increments keep it.
const INCREMENT_SCRIPT = `local created = redis.call('EXISTS', KEYS[1]) == 0
local count = redis.call('INCR', KEYS[1])
if created and ARGV[1] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count`;
const INCREMENT_SHA = createHash("sha1").update(INCREMENT_SCRIPT).digest("hex");

// GETDEL and, only when it found the key, one SET per further key: ARGV holds value and PX
// milliseconds (or '') per key. A script runs alone, so no other command sees half of it.
const CONSUME_AND_SET_SCRIPT = `local value = redis.call('GET', KEYS[1])
if not value then return false end
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  local ttl = ARGV[2 * i - 2]
  if ttl == '' then redis.call('SET', KEYS[i], ARGV[2 * i - 3])
  else redis.call('SET', KEYS[i], ARGV[2 * i - 3], 'PX', ttl) end
end
return value`;
const CONSUME_AND_SET_SHA = createHash("sha1").update(CONSUME_AND_SET_SCRIPT).digest("hex");

/**
 * A store in Redis, shared by many instances behind a load balancer. `consume` is `GETDEL`,
 * `setIfAbsent` is `SET NX`, TTLs are Redis expiries in milliseconds, and values are JSON.
 *
 * A store that creates its client connects on first use and fails fast while Redis is
 * unreachable (no offline queue), reconnecting on a later call.
 *
 * `publish`/`subscribe` are Redis pub/sub under the key prefix, on a second connection the store
 * opens on the first `subscribe` (node-redis reconnects it and subscribes again after a drop), so
 * a grant revoked at one instance is dropped from every instance's cache at once.
 *
 * Does not work against Redis Cluster: `list` scans one node. Needs Redis 6.2 or later (`GETDEL`).
 *
 * @example
 * ```ts
 * const storage = createRedisStore({ url: process.env.REDIS_URL, keyPrefix: "myapp:" });
 * ```
 */
export function createRedisStore(options: RedisStoreOptions = {}): Storage {
  const keyPrefix = options.keyPrefix ?? "portcullis:";
  if (typeof keyPrefix !== "string") throw new TypeError("createRedisStore: `keyPrefix` must be a string");
  const owned = options.client ? undefined : ownClient(options.url ?? DEFAULT_URL);
  const client: RedisStoreClient = options.client ?? owned!.client;
  const commandOptions = owned ? OWN_CLIENT_OPTIONS : AS_STRINGS;

  const send = async (args: string[]): Promise<unknown> => {
    await owned?.ready();
    return withTimeout(client.sendCommand(args, commandOptions), `Redis ${args[0]}`);
  };
  const full = (key: string) => keyPrefix + key;
  const decode = <T>(reply: unknown) => (typeof reply === "string" ? (JSON.parse(reply) as T) : undefined);
  const bus = createSubscriber(() => client.duplicate?.());
  // By its hash, sending the text once when the server does not hold it yet (after a restart).
  const script = async (sha: string, text: string, args: string[]) => {
    try {
      return await send(["EVALSHA", sha, ...args]);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
      return send(["EVAL", text, ...args]);
    }
  };

  return {
    async get<T>(key: string) {
      return decode<T>(await send(["GET", full(key)]));
    },
    async set(key, value, options) {
      await send(["SET", full(key), encodeValue(value), ...expiry(options)]);
    },
    async setIfAbsent(key, value, options) {
      return (await send(["SET", full(key), encodeValue(value), "NX", ...expiry(options)])) !== null;
    },
    async delete(key) {
      await send(["DEL", full(key)]);
    },
    async consume<T>(key: string) {
      return decode<T>(await send(["GETDEL", full(key)]));
    },
    async consumeAndSet<T>(key: string, entries: readonly StorageWrite[]) {
      // Encoded before anything is sent, so a bad value consumes nothing.
      const values = entries.flatMap((entry) => [encodeValue(entry.value), expiry(entry.options)[1] ?? ""]);
      const args = [String(entries.length + 1), full(key), ...entries.map((entry) => full(entry.key)), ...values];
      return decode<T>(await script(CONSUME_AND_SET_SHA, CONSUME_AND_SET_SCRIPT, args));
    },
    async increment(key, options) {
      return Number(await script(INCREMENT_SHA, INCREMENT_SCRIPT, ["1", full(key), expiry(options)[1] ?? ""]));
    },
    async list<T>(prefix: string, options?: { limit?: number }) {
      const limit = listLimit(options);
      if (limit === 0) return [];
      const pattern = `${escapeGlob(full(prefix))}*`;
      const found = new Set<string>();
      let cursor = "0";
      do {
        const reply = await send(["SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT]);
        const [next, keys] = reply as [string, string[]];
        for (const key of keys) found.add(key);
        cursor = next;
      } while (cursor !== "0");

      // Code point order, the order of the other stores (UTF-8 bytes), not UTF-16's.
      const sorted = [...found].sort(compareCodePoints);
      const entries: StorageEntry<T>[] = [];
      for (let i = 0; i < sorted.length && entries.length < limit; i += MGET_BATCH) {
        const batch = sorted.slice(i, i + MGET_BATCH);
        const values = (await send(["MGET", ...batch])) as (string | null)[];
        for (const [j, value] of values.entries()) {
          // null: expired or deleted since the scan.
          if (value === null || entries.length >= limit) continue;
          entries.push({ key: batch[j]!.slice(keyPrefix.length), value: JSON.parse(value) as T });
        }
      }
      return entries;
    },
    async publish(channel, message) {
      if (typeof channel !== "string" || typeof message !== "string") throw new TypeError("`channel` and `message` must be strings");
      await send(["PUBLISH", full(channel), message]);
    },
    subscribe(channel, listener) {
      return bus.subscribe(full(channel), listener);
    },
    async close() {
      bus.close();
      await owned?.close();
    },
  };
}

/**
 * One subscriber connection for all of a store's channels, opened on the first `subscribe`.
 * While it connects or reconnects, messages are missed (pub/sub keeps none); the grant cache's
 * own bound covers that.
 */
function createSubscriber(duplicate: () => RedisSubscriberClient | undefined) {
  const listeners = new Map<string, Set<(message: string) => void>>();
  let client: RedisSubscriberClient | undefined;
  let starting = false;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;

  const deliver = (message: string, channel: string) => {
    for (const listener of listeners.get(channel) ?? []) {
      try {
        listener(message);
      } catch {
        // One listener's failure is not the store's nor the other listeners'.
      }
    }
  };
  const later = () => {
    if (closed || retry) return;
    retry = setTimeout(
      () => {
        retry = undefined;
        start();
      },
      Math.min(50 * 2 ** failures++, 2_000),
    );
    retry.unref();
  };
  // Connects once and subscribes every channel wanted so far; retried with backoff until it works.
  const start = () => {
    if (closed || client || starting) return;
    starting = true;
    const made = duplicate();
    // A given client without duplicate(): nothing to listen on; the grant cache's bound applies.
    if (!made) {
      starting = false;
      return;
    }
    made.on("error", () => {});
    // Closed for good (its reconnection gave up): start over with a new connection.
    made.on("end", () => {
      if (client !== made || closed) return;
      client = undefined;
      later();
    });
    void (async () => {
      try {
        await withTimeout(made.connect(), "connecting the Redis subscriber");
        if (closed) return made.destroy();
        // From here a new channel subscribes directly; the ones wanted so far are subscribed below.
        client = made;
        for (const channel of [...listeners.keys()]) await withTimeout(made.subscribe(channel, deliver), "subscribing");
        failures = 0;
      } catch {
        if (client === made) client = undefined;
        if (made.isOpen) made.destroy();
        later();
      } finally {
        starting = false;
      }
    })();
  };

  return {
    subscribe(channel: string, listener: (message: string) => void): () => void {
      if (closed) return () => {};
      let set = listeners.get(channel);
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
        // A new channel on a connected subscriber; otherwise start() subscribes it with the rest.
        if (client?.isOpen) void client.subscribe(channel, deliver).catch(() => {});
        else start();
      }
      const own = (message: string) => listener(message);
      set.add(own);
      return () => {
        set.delete(own);
      };
    },
    close() {
      closed = true;
      clearTimeout(retry);
      listeners.clear();
      if (client?.isOpen) client.destroy();
      client = undefined;
    },
  };
}

function ownClient(url: string) {
  let everReady = false;
  const client = createClient({
    url,
    // Commands fail at once while disconnected instead of queueing until Redis comes back.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: CONNECT_TIMEOUT_MS,
      // The first connection fails to the caller; a lost one is retried in the background.
      reconnectStrategy: (retries: number) => (everReady ? Math.min(50 * 2 ** retries, 2_000) : false),
    },
  });
  client.on("ready", () => (everReady = true));
  // Errors reach callers as rejected commands; without a listener an emitted error would crash.
  client.on("error", () => {});
  let connecting: Promise<unknown> | undefined;
  let closed = false;

  return {
    client: client as RedisStoreClient,
    async ready(): Promise<void> {
      if (closed) throw new Error("@portcullis/redis: the store is closed");
      // isOpen turns true as soon as connect() starts, so an in-flight connect is checked first.
      if (connecting) return void (await connecting);
      if (client.isOpen) return;
      connecting = withTimeout(client.connect(), `connecting to Redis at ${redactURL(url)}`)
        .catch((cause: unknown) => {
          if (client.isOpen) client.destroy();
          const reason = cause instanceof Error ? cause.message || cause.name : String(cause);
          throw new Error(`@portcullis/redis: cannot connect to ${redactURL(url)}: ${reason}`, { cause });
        })
        .finally(() => (connecting = undefined));
      await connecting;
    },
    async close(): Promise<void> {
      closed = true;
      if (!client.isOpen) return;
      await withTimeout(client.close(), "closing the Redis connection").catch(() => client.destroy());
    },
  };
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const error = () => new Error(`@portcullis/redis: ${what} timed out after ${COMMAND_TIMEOUT_MS} ms`);
    timer = setTimeout(() => reject(error()), COMMAND_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** `PX <ms>` for a TTL, nothing for no TTL. */
function expiry(options: SetOptions | undefined): string[] {
  const ttl = ttlSecondsOf(options);
  return ttl === undefined ? [] : ["PX", String(Math.max(1, Math.ceil(ttl * 1000)))];
}

/** Makes every character literal in a `SCAN MATCH` pattern. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\^]/g, "\\$&");
}
