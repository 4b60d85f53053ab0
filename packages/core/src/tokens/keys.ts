import { exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import type { Storage } from "../storage/types.js";
import { randomToken } from "../lib/crypto.js";
import { keys as storageKeys } from "../storage/keys.js";

/** The signing algorithms Portcullis issues access tokens with. */
export type SigningAlgorithm = "ES256" | "EdDSA";

interface StoredKey {
  kid: string;
  alg: SigningAlgorithm;
  privateJwk: JWK;
  publicJwk: JWK;
  createdAt: number;
}

/** A key ready to sign with. */
export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
}

/**
 * The authorization server's signing keys, loaded once from storage and cached.
 *
 * @internal Used by the server's token issuer and JWKS endpoint; not part of the public API.
 */
export interface KeyManager {
  /**
   * The key new access tokens are signed with (the newest stored key). The first call loads the
   * keys from storage, creating one when there is none; a failed load is retried on the next call.
   *
   * @returns The key id, algorithm and private key.
   * @throws Whatever the storage throws while loading or creating the keys.
   */
  signingKey(): Promise<SigningKey>;
  /**
   * The public keys, as served at `jwks_uri`.
   *
   * @returns A JWK Set (RFC 7517 §5) of every stored key's public half, with `kid`, `alg` and `use: "sig"`.
   * @throws Whatever the storage throws while loading or creating the keys.
   */
  jwks(): Promise<{ keys: JWK[] }>;
}

/**
 * Loads the signing keys from storage, creating the first one when there is none. Keys live in
 * storage so a restart, or another instance sharing the store, signs and verifies with the same
 * keys. Concurrent first starts agree through `setIfAbsent`.
 *
 * @param storage Where the keys are kept.
 * @param alg The algorithm of a key created here.
 * @param now The clock, in epoch milliseconds.
 */
export function createKeyManager(storage: Storage, alg: SigningAlgorithm, now: () => number): KeyManager {
  let loaded: Promise<{ signing: SigningKey; jwks: { keys: JWK[] } }> | undefined;

  const load = async () => {
    let keys = await storage.get<StoredKey[]>(storageKeys.signingKeys());
    if (!keys || keys.length === 0) {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const kid = randomToken(12);
      const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
      const privateJwk = { ...(await exportJWK(privateKey)), kid, alg };
      const fresh: StoredKey[] = [{ kid, alg, privateJwk, publicJwk, createdAt: now() }];
      if (!(await storage.setIfAbsent(storageKeys.signingKeys(), fresh))) keys = await storage.get<StoredKey[]>(storageKeys.signingKeys());
      else keys = fresh;
    }
    const current = keys!.at(-1)!;
    const privateKey = (await importJWK(current.privateJwk, current.alg)) as CryptoKey;
    return { signing: { kid: current.kid, alg: current.alg, privateKey }, jwks: { keys: keys!.map((k) => k.publicJwk) } };
  };

  const get = () => {
    loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  };

  return {
    signingKey: async () => (await get()).signing,
    jwks: async () => (await get()).jwks,
  };
}
