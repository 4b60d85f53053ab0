/**
 * `@portcullis/core/store-kit`: the small helpers every Portcullis store needs the same way, for
 * store authors: TTL checks and expiry times, JSON encoding with the port's `TypeError`, the key
 * range of a prefix and code point order for `list`. The memory store and the SQLite, Redis,
 * PostgreSQL and Durable Object stores all use them, so they fail and order alike.
 *
 * @example
 * import { encodeValue, expiresAt, listLimit, prefixEnd } from "@portcullis/core/store-kit";
 * const row = { key, value: encodeValue(value), expiresAt: expiresAt(Date.now(), options) ?? null };
 */
export { compareCodePoints, DEFAULT_LIST_LIMIT, encodeValue, expiresAt, listLimit, prefixEnd, redactURL, ttlSecondsOf } from "../storage/kit.js";
