import { describe, expect, it } from "vitest";
import { compareCodePoints, encodeValue, expiresAt, listLimit, prefixEnd, redactURL, ttlSecondsOf } from "./kit.js";

describe("ttlSecondsOf and expiresAt", () => {
  it("answer undefined without a TTL and the expiry on the caller's clock with one", () => {
    expect(ttlSecondsOf(undefined)).toBeUndefined();
    expect(ttlSecondsOf({})).toBeUndefined();
    expect(ttlSecondsOf({ ttlSeconds: 0.5 })).toBe(0.5);
    expect(expiresAt(1_000, undefined)).toBeUndefined();
    expect(expiresAt(1_000, { ttlSeconds: 2 })).toBe(3_000);
    // Not rounded: a store with an integer column rounds itself.
    expect(expiresAt(1_000, { ttlSeconds: 0.0015 })).toBe(1_001.5);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, "60", null])("refuse ttlSeconds %s with a TypeError naming it", (ttl) => {
    const options = { ttlSeconds: ttl as number };
    expect(() => ttlSecondsOf(options)).toThrow(new TypeError(`\`ttlSeconds\` must be a finite number above 0, got ${String(ttl)}`));
    expect(() => expiresAt(0, options)).toThrow(TypeError);
  });
});

describe("encodeValue", () => {
  it("writes JSON, keeping what JSON keeps", () => {
    expect(encodeValue({ a: [1, "x", null], b: undefined })).toBe('{"a":[1,"x",null]}');
    expect(encodeValue("\u0000")).toBe('"\\u0000"');
    expect(encodeValue(null)).toBe("null");
  });

  it.each([
    ["undefined", undefined],
    ["a function", () => 1],
    ["a symbol", Symbol("s")],
    ["an object whose toJSON answers undefined", { toJSON: () => undefined }],
  ])("refuses %s with a TypeError", (_, value) => {
    expect(() => encodeValue(value)).toThrow(/^a stored value must be JSON-serialisable, got /);
    expect(() => encodeValue(value)).toThrow(TypeError);
  });

  it("lets JSON's own TypeError through for a bigint", () => {
    expect(() => encodeValue(1n)).toThrow(TypeError);
  });
});

describe("prefixEnd", () => {
  it("is the prefix with its last code point raised by one", () => {
    expect(prefixEnd("grant:")).toBe("grant;");
    expect(prefixEnd("a")).toBe("b");
    expect(prefixEnd("x\u{1F600}")).toBe("x\u{1F601}");
    expect(prefixEnd("\uFFFF")).toBe("\u{10000}");
  });

  it("skips the surrogate block, which UTF-8 cannot hold", () => {
    expect(prefixEnd("k\uD7FF")).toBe("k\uE000");
  });

  it("drops trailing U+10FFFF, and has no bound for an empty prefix or one made only of it", () => {
    expect(prefixEnd("a\u{10FFFF}")).toBe("b");
    expect(prefixEnd("a\u{10FFFF}\u{10FFFF}")).toBe("b");
    expect(prefixEnd("\u{10FFFF}")).toBeUndefined();
    expect(prefixEnd("")).toBeUndefined();
  });

  it("bounds exactly the strings with the prefix, in code point order", () => {
    const prefix = "p\uFFFF";
    const end = prefixEnd(prefix)!;
    const inside = [prefix, `${prefix}\u{10FFFF}`, `${prefix}\u{10000}z`];
    const outside = ["p\u{10000}", "q", "p\uFFFE\u{10FFFF}"];
    for (const key of inside) expect(compareCodePoints(key, prefix) >= 0 && compareCodePoints(key, end) < 0).toBe(true);
    for (const key of outside) expect(key.startsWith(prefix)).toBe(false);
    for (const key of outside) expect(compareCodePoints(key, prefix) >= 0 && compareCodePoints(key, end) < 0).toBe(false);
  });
});

describe("compareCodePoints", () => {
  it("orders by code point where UTF-16 order differs", () => {
    expect(["\u{10000}", "\uFFFF", "\uE000", "a"].sort(compareCodePoints)).toEqual(["a", "\uE000", "\uFFFF", "\u{10000}"]);
    expect(["\u{10000}", "\uFFFF"].sort()).toEqual(["\u{10000}", "\uFFFF"]);
  });

  it("agrees with comparing the code point arrays, lone surrogates included", () => {
    const byArrays = (a: string, b: string) => {
      const x = [...a].map((c) => c.codePointAt(0)!);
      const y = [...b].map((c) => c.codePointAt(0)!);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return x.length - y.length;
    };
    const samples = [
      "",
      "a",
      "ab",
      "\uD800",
      "\uD800a",
      "\uDC00",
      "\uD7FF",
      "\uE000",
      "\uFFFF",
      "\u{10000}",
      "\u{10FFFF}",
      "a\u{10000}",
      "a\uFFFF",
      "\uD83D\uDE00",
      "\uD83D",
    ];
    for (const a of samples) for (const b of samples) expect(Math.sign(compareCodePoints(a, b))).toBe(Math.sign(byArrays(a, b)));
  });
});

describe("listLimit", () => {
  it("defaults to 1000, rounds down, and is 0 for 0, less or not a number", () => {
    expect(listLimit(undefined)).toBe(1000);
    expect(listLimit({})).toBe(1000);
    expect(listLimit({ limit: 2.9 })).toBe(2);
    expect(listLimit({ limit: 0.5 })).toBe(0);
    expect(listLimit({ limit: -3 })).toBe(0);
    expect(listLimit({ limit: Number.NaN })).toBe(0);
  });
});

describe("redactURL", () => {
  it("hides the user name and password only", () => {
    expect(redactURL("postgres://user:secret@db.internal:5432/app")).toBe("postgres://***@db.internal:5432/app");
    expect(redactURL("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
  });
});
