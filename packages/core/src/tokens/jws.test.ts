import { compactVerify, decodeProtectedHeader, generateKeyPair, jwtVerify } from "jose";
import { describe, expect, it, vi } from "vitest";
import { signJwt } from "./jws.js";
import type { SigningAlgorithm } from "./keys.js";

async function keyPair(alg: SigningAlgorithm) {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === "EdDSA" ? { crv: "Ed25519" } : {});
  return { signing: { kid: `kid-${alg}`, alg, privateKey: privateKey as CryptoKey }, publicKey };
}

/** Runs `fn` in a runtime whose `process.getBuiltinModule("node:crypto")` answers `nodeCrypto`; counts the lookups. */
async function withNodeCrypto<T>(nodeCrypto: unknown, fn: () => Promise<T>): Promise<{ result: T; asked: number }> {
  const { getBuiltinModule } = process;
  let asked = 0;
  process.getBuiltinModule = ((id: string) => {
    asked++;
    return id === "node:crypto" ? nodeCrypto : getBuiltinModule(id);
  }) as typeof getBuiltinModule;
  try {
    return { result: await fn(), asked };
  } finally {
    process.getBuiltinModule = getBuiltinModule;
  }
}

const claims = {
  iss: "https://as.example",
  sub: "alice",
  aud: "https://rs.example/mcp",
  iat: 1_700_000_000,
  exp: 4_000_000_000,
  scope: "mcp:tools",
  emoji: "ü😀",
};

describe("signJwt: the access token's compact JWS", () => {
  for (const alg of ["ES256", "EdDSA"] as const) {
    it(`AS-JWT-1 ${alg}: a JWT jose verifies, with the header { alg, typ, kid } and the claims as given`, async () => {
      const { signing, publicKey } = await keyPair(alg);
      const token = await signJwt(signing, "at+jwt", claims);
      expect(decodeProtectedHeader(token)).toEqual({ alg, typ: "at+jwt", kid: signing.kid });
      const { payload } = await jwtVerify(token, publicKey, { algorithms: [alg], typ: "at+jwt", issuer: claims.iss, audience: claims.aud });
      expect(payload).toEqual(claims);
      // The key's encoded header is kept; another typ gets its own.
      expect((await jwtVerify(await signJwt(signing, "at+jwt", { ...claims, sub: "bob" }), publicKey, { algorithms: [alg] })).payload.sub).toBe("bob");
      expect(decodeProtectedHeader(await signJwt(signing, "JWT", claims)).typ).toBe("JWT");
    });

    it(`AS-JWT-1 ${alg}: a token whose payload is changed, or signed by another key, fails verification`, async () => {
      const { signing, publicKey } = await keyPair(alg);
      const other = await keyPair(alg);
      const token = await signJwt(signing, "at+jwt", claims);
      const [header, , signature] = token.split(".");
      const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: "mallory" })).toString("base64url")}.${signature}`;
      await expect(compactVerify(forged, publicKey)).rejects.toThrow();
      await expect(compactVerify(await signJwt(other.signing, "at+jwt", claims), publicKey)).rejects.toThrow();
    });
  }

  it("ES256 signatures are the 64-byte r ‖ s JWS takes (RFC 7518 §3.4), not DER", async () => {
    const { signing } = await keyPair("ES256");
    const token = await signJwt(signing, "at+jwt", claims);
    expect(Buffer.from(token.split(".")[2]!, "base64url")).toHaveLength(64);
  });

  it("in Node the key signs through node:crypto, not crypto.subtle.sign", async () => {
    const { signing, publicKey } = await keyPair("ES256");
    const subtleSign = vi.spyOn(crypto.subtle, "sign");
    try {
      const token = await signJwt(signing, "at+jwt", claims);
      expect((await jwtVerify(token, publicKey, { algorithms: ["ES256"] })).payload).toEqual(claims);
      expect(subtleSign).not.toHaveBeenCalled();
    } finally {
      subtleSign.mockRestore();
    }
  });

  it("AS-JWT-1 a runtime whose node:crypto signs in another encoding, or fails, gets WebCrypto's signature instead, from then on", async () => {
    for (const fault of ["der", "error"] as const) {
      const { signing, publicKey } = await keyPair("ES256");
      let signed = 0;
      const fake = {
        KeyObject: { from: (key: CryptoKey) => key },
        sign(_algorithm: string | null, _data: string, _key: unknown, callback: (error: Error | null, signature: Uint8Array) => void) {
          signed++;
          // 70 bytes, as a DER-encoded ES256 signature is.
          queueMicrotask(() => (fault === "der" ? callback(null, new Uint8Array(70)) : callback(new Error("not supported"), new Uint8Array())));
        },
      };
      await withNodeCrypto(fake, async () => {
        for (let i = 0; i < 2; i++) {
          const token = await signJwt(signing, "at+jwt", claims);
          expect((await jwtVerify(token, publicKey, { algorithms: ["ES256"] })).payload).toEqual(claims);
        }
      });
      expect(signed).toBe(1);
    }
  });

  for (const alg of ["ES256", "EdDSA"] as const) {
    it(`AS-JWT-1 ${alg}: where node:crypto is not offered (Workers), the key signs through WebCrypto to the same kind of JWS`, async () => {
      const { signing, publicKey } = await keyPair(alg);
      // A key's signer is chosen at its first signature: this one sees a runtime without Node's modules.
      const { result: token, asked } = await withNodeCrypto(undefined, () => signJwt(signing, "at+jwt", claims));
      expect(asked).toBe(1);
      const { payload, protectedHeader } = await jwtVerify(token, publicKey, { algorithms: [alg], typ: "at+jwt" });
      expect(payload).toEqual(claims);
      expect(protectedHeader.kid).toBe(signing.kid);
      if (alg === "ES256") expect(Buffer.from(token.split(".")[2]!, "base64url")).toHaveLength(64);
      // Later signatures keep the signer chosen first, with node:crypto offered again.
      expect((await jwtVerify(await signJwt(signing, "at+jwt", claims), publicKey, { algorithms: [alg] })).payload).toEqual(claims);
    });
  }
});
