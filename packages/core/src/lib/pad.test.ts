import { describe, expect, it } from "vitest";
import { randomToken, sha256 } from "./crypto.js";
import { hideToken, revealToken } from "./pad.js";

describe("Hidden refresh successors (the retry record)", () => {
  it("reveals the token with the same secret, and an unrelated value with any other", () => {
    const secret = randomToken();
    const successor = randomToken();
    const hidden = hideToken(secret, successor)!;
    expect(hidden).toHaveLength(43);
    expect(hidden).not.toBe(successor);
    expect(revealToken(secret, hidden)).toBe(successor);
    expect(revealToken(randomToken(), hidden)).not.toBe(successor);
  });

  it("is not keyed by what the store holds: the secret's plain SHA-256 reveals nothing", async () => {
    const secret = randomToken();
    const successor = randomToken();
    const hidden = hideToken(secret, successor)!;
    expect(revealToken(await sha256(secret), hidden)).not.toBe(successor);
  });

  it("hides only 32-byte tokens, and refuses what is not base64url of 32 bytes", () => {
    expect(hideToken(randomToken(), randomToken(16))).toBeUndefined();
    expect(hideToken(randomToken(), "not base64!")).toBeUndefined();
    expect(revealToken(randomToken(), "")).toBeUndefined();
  });
});
