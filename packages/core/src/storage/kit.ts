import type { SetOptions } from "./types.js";

/** How many entries `list` returns when the caller gives no `limit`. */
export const DEFAULT_LIST_LIMIT = 1000;

/**
 * The `ttlSeconds` of `options`, checked: undefined when there is none (the entry never expires).
 *
 * @throws TypeError when it is not a finite number above 0 (`NaN`, `Infinity`, 0, a string).
 * @example
 * ttlSecondsOf({ ttlSeconds: 60 }); // 60
 * ttlSecondsOf(undefined); // undefined
 */
export function ttlSecondsOf(options: SetOptions | undefined): number | undefined {
  const ttl = options?.ttlSeconds;
  if (ttl === undefined) return undefined;
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0) {
    throw new TypeError(`\`ttlSeconds\` must be a finite number above 0, got ${String(ttl)}`);
  }
  return ttl;
}

/**
 * When an entry written at `now` (milliseconds) with `options` expires, in milliseconds on the
 * same clock; undefined when it has no TTL. Not rounded: a store whose column holds integers
 * rounds it itself.
 *
 * @throws TypeError when `ttlSeconds` is not a finite number above 0 (see {@link ttlSecondsOf}).
 * @example
 * expiresAt(1_000, { ttlSeconds: 2 }); // 3000
 */
export function expiresAt(now: number, options: SetOptions | undefined): number | undefined {
  const ttl = ttlSecondsOf(options);
  return ttl === undefined ? undefined : now + ttl * 1000;
}

/**
 * `value` as JSON text, the form every store keeps values in.
 *
 * @throws TypeError when JSON has nothing to write for it (`undefined`, a function, a symbol, an
 * object whose `toJSON` answers undefined); JSON.stringify's own TypeError for a `bigint` or a cycle.
 */
export function encodeValue(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError(`a stored value must be JSON-serialisable, got ${typeof value}`);
  return json;
}

/**
 * The least string above every string that starts with `prefix`, in code point order (the order
 * of UTF-8 bytes: SQLite's `BINARY`, PostgreSQL's `COLLATE "C"`), so `key >= prefix AND key < end`
 * selects exactly the keys with that prefix. Skips the surrogate block, which UTF-8 text cannot
 * hold (U+D7FF is followed by U+E000). Undefined when no such string exists (an empty prefix, or
 * one made only of U+10FFFF): then `key >= prefix` alone is the range.
 *
 * @example
 * prefixEnd("grant:"); // "grant;"
 * prefixEnd("a\u{10FFFF}"); // "b"
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = [...prefix];
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) return points.join("") + String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1);
  }
  return undefined;
}

/**
 * Compares strings by Unicode code point (the order `list` promises, and that of UTF-8 bytes),
 * not by UTF-16 code unit as `<` and the default `sort` do: they differ where a character above
 * U+FFFF meets one in U+E000..U+FFFF. A lone surrogate counts as its own code point. For `sort`.
 *
 * @example
 * ["\u{10000}", "\uFFFF"].sort(compareCodePoints); // ["\uFFFF", "\u{10000}"]
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; ) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
  }
  return a.length - b.length;
}

/**
 * The `limit` of a `list` call as a row count: the default when absent, rounded down, and 0 (list
 * nothing) when it is 0 or less or not a number.
 */
export function listLimit(options: { limit?: number } | undefined): number {
  const limit = Math.floor(options?.limit ?? DEFAULT_LIST_LIMIT);
  // Not Math.max: NaN must become 0 too.
  if (!(limit > 0)) return 0;
  return limit;
}

/** `url` with its user name and password replaced by `***`, for error messages. */
export function redactURL(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
