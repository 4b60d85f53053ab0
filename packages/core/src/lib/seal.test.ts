import { describe, expect, it } from "vitest";
import { base64url, randomToken, sha256 } from "./crypto.js";
import { seal, unseal } from "./seal.js";
import { sha256Digest } from "./sha256.js";

const fromBase64url = (text: string) => Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));

describe("Sealed retry responses", () => {
  it("opens with the same secret and context, and with nothing else", async () => {
    const secret = randomToken();
    const context = await sha256(secret);
    const sealed = await seal(secret, context, { access_token: "at", refresh_token: "rt" });
    expect(await unseal(secret, context, sealed)).toEqual({ access_token: "at", refresh_token: "rt" });
    expect(await unseal(randomToken(), context, sealed)).toBeUndefined();
    expect(await unseal(secret, await sha256("another"), sealed)).toBeUndefined();
    const data = fromBase64url(sealed.data);
    data[0]! ^= 1;
    expect(await unseal(secret, context, { ...sealed, data: base64url(data) })).toBeUndefined();
  });

  it("uses a fresh 96-bit IV each time, so sealing twice never repeats a ciphertext", async () => {
    const secret = randomToken();
    const a = await seal(secret, "c", { v: 1 });
    const b = await seal(secret, "c", { v: 1 });
    expect(fromBase64url(a.iv)).toHaveLength(12);
    expect(a.iv).not.toBe(b.iv);
    expect(a.data).not.toBe(b.data);
  });

  it("is not opened by the hash the store keeps: the key is not SHA-256 of the bare secret", async () => {
    const secret = randomToken();
    const context = await sha256(secret);
    const sealed = await seal(secret, context, { refresh_token: "rt" });
    const storeKnows = await crypto.subtle.importKey("raw", sha256Digest(secret), "AES-GCM", false, ["decrypt"]);
    await expect(
      crypto.subtle.decrypt(
        { name: "AES-GCM", iv: fromBase64url(sealed.iv), additionalData: new TextEncoder().encode(context) },
        storeKnows,
        fromBase64url(sealed.data),
      ),
    ).rejects.toThrow();
  });
});
