import { describe, expect, it } from "vitest";
import { base64url, randomToken, sha256 } from "./crypto.js";
import { hideToken, revealToken } from "./pad.js";

const fromBase64url = (text: string) => Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));

describe("Hidden refresh successors (the retry record)", () => {
  it("reveals the token with the same secret, and nothing with any other", () => {
    const secret = randomToken();
    const successor = randomToken();
    const hidden = hideToken(secret, successor)!;
    // A 24-byte nonce, the 32 sealed bytes and a 16-byte tag.
    expect(hidden).toMatch(/^[A-Za-z0-9_-]{96}$/);
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
});
