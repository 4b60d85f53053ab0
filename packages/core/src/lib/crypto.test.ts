import { describe, expect, it } from "vitest";
import { base64url, fillRandom, randomToken, sha256, timingSafeEqual } from "./crypto.js";
import { sha256Digest } from "./sha256.js";

const randomBytes = (length: number) => crypto.getRandomValues(new Uint8Array(length));

describe("sha256() and base64url()", () => {
  it("stores hashes as unpadded base64url of the digest", async () => {
    expect(await sha256("abc")).toBe("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    expect(await sha256("")).toBe("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
  });

  it("hashes in Node (node:crypto) to what the portable digest gives, for any UTF-8 text", async () => {
    for (const value of [randomToken(), "ü😀 \u0000 tail", "a".repeat(10_000), "\ud800 lone surrogate"]) {
      expect(await sha256(value)).toBe(base64url(sha256Digest(value)));
    }
  });

  it("encodes every remainder length as RFC 4648 §5 base64url without padding", () => {
    const reference = (bytes: Uint8Array) =>
      btoa(String.fromCharCode(...bytes))
        .replaceAll("+", "-")
        .replaceAll("/", "_")
        .replace(/=+$/, "");
    for (let length = 0; length < 70; length++) {
      const bytes = randomBytes(length);
      expect(base64url(bytes)).toBe(reference(bytes));
    }
    // Longer than any buffer kept between calls, then short again.
    for (const length of [511, 512, 513, 4_000, 3]) {
      const bytes = randomBytes(length);
      expect(base64url(bytes)).toBe(reference(bytes));
    }
    expect(base64url(new Uint8Array([0xfb, 0xff, 0xfe]))).toBe("-__-");
  });
});

describe("randomToken()", () => {
  it("never hands out the same bytes twice, across pool refills", () => {
    const seen = new Set<string>();
    // 16-byte tokens: 256 per 4 KiB pool, so this crosses dozens of refills.
    for (let i = 0; i < 10_000; i++) seen.add(randomToken(16));
    expect(seen.size).toBe(10_000);
  });

  it("encodes the requested number of bytes, small or large", () => {
    for (const bytes of [1, 16, 24, 32, 100, 512, 513, 5_000]) {
      expect(randomToken(bytes)).toHaveLength(Math.ceil((bytes * 4) / 3));
    }
    expect(randomToken()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("draws bytes that look uniform: every value appears over a large sample", () => {
    const counts = new Array<number>(64).fill(0);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (let i = 0; i < 2_000; i++) for (const c of randomToken(30)) counts[alphabet.indexOf(c)]!++;
    // 80,000 characters over 64 symbols: 1,250 expected each; far outside would be a broken pool.
    for (const n of counts) expect(n).toBeGreaterThan(1_000);
  });
});

describe("fillRandom()", () => {
  it("fills small and large targets, never with the same bytes twice", () => {
    const seen = new Set<string>();
    for (const length of [12, 24, 24, 24, 600]) {
      const bytes = fillRandom(new Uint8Array(length));
      expect(bytes).toHaveLength(length);
      seen.add(base64url(bytes));
    }
    expect(seen.size).toBe(5);
  });
});

describe("timingSafeEqual()", () => {
  it("is true only for the same string, whatever differs and wherever", () => {
    const hash = "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0";
    expect(timingSafeEqual(hash, hash.slice())).toBe(true);
    expect(timingSafeEqual("", "")).toBe(true);
    expect(timingSafeEqual(hash, hash.slice(0, -1))).toBe(false);
    expect(timingSafeEqual(hash, `x${hash.slice(1)}`)).toBe(false);
    expect(timingSafeEqual(hash, `${hash.slice(0, -1)}x`)).toBe(false);
    // Compared as UTF-8 bytes: "é" and "e\u0301" differ.
    expect(timingSafeEqual("é", "e\u0301")).toBe(false);
  });
});
