import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { expand } from "@noble/hashes/hkdf.js";
import { sha256 as sha256Hash } from "@noble/hashes/sha2.js";
import { describe, expect, it } from "vitest";
import { base64url, randomToken, sha256 } from "./crypto.js";
import { hideToken, nobleSealer, nodeSealer, revealToken } from "./pad.js";

const fromBase64url = (text: string) => Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));

describe("Hidden refresh successors (the retry record)", () => {
  it("reveals the token with the same secret, and nothing with any other", () => {
    const secret = randomToken();
    const successor = randomToken();
    const hidden = hideToken(secret, successor)!;
    // A 12-byte nonce, the 32 sealed bytes and a 16-byte tag.
    expect(hidden).toMatch(/^[A-Za-z0-9_-]{80}$/);
    expect(hidden).not.toContain(successor);
    expect(revealToken(secret, hidden)).toBe(successor);
    expect(revealToken(randomToken(), hidden)).toBeUndefined();
  });

  it("is not keyed by what the store holds: the secret's plain SHA-256 opens nothing", async () => {
    const secret = randomToken();
    const hidden = hideToken(secret, randomToken())!;
    expect(revealToken(await sha256(secret), hidden)).toBeUndefined();
  });

  it("seals the same token differently each time (a fresh nonce), and each opens", () => {
    const secret = randomToken();
    const successor = randomToken();
    const first = hideToken(secret, successor)!;
    const second = hideToken(secret, successor)!;
    expect(first).not.toBe(second);
    expect(revealToken(secret, first)).toBe(successor);
    expect(revealToken(secret, second)).toBe(successor);
  });

  it("opens nothing once any bit of the stored value is altered (authenticated, not a bare pad)", () => {
    const secret = randomToken();
    const bytes = fromBase64url(hideToken(secret, randomToken())!);
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const altered = bytes.slice();
      altered[bit >> 3]! ^= 1 << (bit & 7);
      expect(revealToken(secret, base64url(altered)), `bit ${bit}`).toBeUndefined();
    }
  });

  it("hides only 32-byte tokens, and refuses what is not a sealed value", () => {
    const secret = randomToken();
    expect(hideToken(secret, randomToken(16))).toBeUndefined();
    expect(hideToken(secret, "not base64!")).toBeUndefined();
    expect(revealToken(secret, "")).toBeUndefined();
    expect(revealToken(secret, "not base64!")).toBeUndefined();
    // The former pad's format (a bare 32-byte value) does not open.
    expect(revealToken(secret, randomToken())).toBeUndefined();
    expect(revealToken(secret, hideToken(secret, randomToken())!.slice(0, -4))).toBeUndefined();
  });

  it("seals to the same bytes in Node (node:crypto) and elsewhere (@noble): each opens what the other sealed", () => {
    const node = nodeSealer();
    expect(node).toBeDefined();
    for (let i = 0; i < 20; i++) {
      const secret = randomToken();
      const successor = randomToken();
      // HKDF-Expand's one block through node:crypto's HMAC is RFC 5869's, as @noble computes it.
      const info = new TextEncoder().encode(`info-${i}`);
      expect([...node!.keyOf(secret, info)]).toEqual([...nobleSealer.keyOf(secret, info)]);
      expect(revealToken(secret, hideToken(secret, successor, node)!, nobleSealer)).toBe(successor);
      expect(revealToken(secret, hideToken(secret, successor, nobleSealer)!, node)).toBe(successor);
      const key = nobleSealer.keyOf(secret, info);
      const nonce = crypto.getRandomValues(new Uint8Array(12));
      const plain = crypto.getRandomValues(new Uint8Array(32));
      expect([...node!.seal(key, nonce, plain)]).toEqual([...nobleSealer.seal(key, nonce, plain)]);
    }
  });

  it("keeps @noble where node:crypto lacks ChaCha20-Poly1305 or seals to other bytes", () => {
    const missing = {
      createHmac: () => ({ update: () => ({ update: () => ({ digest: () => new Uint8Array(32) }) }) }),
      createCipheriv: () => {
        throw new Error("Unknown cipher");
      },
      createDecipheriv: () => {
        throw new Error("Unknown cipher");
      },
    };
    expect(nodeSealer(missing as never)).toBeUndefined();
    // A module that seals to other bytes (here: an HMAC of zeros, a cipher that copies) fails the check before anything is sealed.
    const wrongKey = {
      ...missing,
      createCipheriv: () => ({ update: (d: Uint8Array) => d, final: () => new Uint8Array(), getAuthTag: () => new Uint8Array(16) }),
    };
    expect(nodeSealer(wrongKey as never)).toBeUndefined();
    expect(nodeSealer()).toBeDefined();
  });

  it("opens nothing altered, or under another secret, with either implementation", () => {
    for (const using of [nodeSealer()!, nobleSealer]) {
      const secret = randomToken();
      const bytes = fromBase64url(hideToken(secret, randomToken(), using)!);
      for (const bit of [0, 100, 300, bytes.length * 8 - 1]) {
        const altered = bytes.slice();
        altered[bit >> 3]! ^= 1 << (bit & 7);
        expect(revealToken(secret, base64url(altered), using)).toBeUndefined();
      }
      expect(revealToken(randomToken(), base64url(bytes), using)).toBeUndefined();
    }
  });

  it("still opens a record of the former format (XChaCha20-Poly1305), so a retry across an upgrade is a retry", () => {
    const secret = randomToken();
    const successor = randomToken();
    const nonce = crypto.getRandomValues(new Uint8Array(24));
    const key = expand(sha256Hash, new TextEncoder().encode(secret), new TextEncoder().encode("portcullis/refresh-successor/v2"), 32);
    const v2 = base64url(Uint8Array.from([...nonce, ...xchacha20poly1305(key, nonce).encrypt(fromBase64url(successor))]));
    expect(v2).toHaveLength(96);
    expect(revealToken(secret, v2)).toBe(successor);
    expect(revealToken(randomToken(), v2)).toBeUndefined();
  });
});
