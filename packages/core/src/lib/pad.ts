import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { expand } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { base64url, base64urlDecode, fillRandom } from "./crypto.js";

// The successor of a spent refresh token is kept sealed with XChaCha20-Poly1305 and a random
// nonce (the audited @noble/ciphers, synchronous: no WebCrypto job on the refresh path), under a
// key derived by HKDF-SHA-256 from the spent token. That token is 256 random bits already, so
// HKDF-Expand keys HMAC with it directly (RFC 5869 §3.3: no extract step for a strong key). The
// store keys the record by the token's plain SHA-256, which says nothing of the derived key, so
// what it holds cannot be opened without what the client presents; and the tag means a value
// sealed under another token, or altered in the store, opens to nothing.
const encoder = new TextEncoder();
const INFO = encoder.encode("portcullis/refresh-successor/v2");
const KEY_BYTES = 32;
const TOKEN_BYTES = 32;
const NONCE_BYTES = 24;
const TAG_BYTES = 16;
const SEALED_BYTES = NONCE_BYTES + TOKEN_BYTES + TAG_BYTES;

const keyOf = (secret: string) => expand(sha256, encoder.encode(secret), INFO, KEY_BYTES);

/**
 * Seals a 32-byte base64url token so that only the holder of `secret` can open it (a random
 * nonce, the ciphertext and its tag, base64url); undefined for any other value.
 */
export function hideToken(secret: string, token: string): string | undefined {
  const bytes = base64urlDecode(token);
  if (bytes?.length !== TOKEN_BYTES) return undefined;
  const sealed = new Uint8Array(SEALED_BYTES);
  const nonce = fillRandom(sealed.subarray(0, NONCE_BYTES));
  sealed.set(xchacha20poly1305(keyOf(secret), nonce).encrypt(bytes), NONCE_BYTES);
  return base64url(sealed);
}

/** What {@link hideToken} sealed, given the same secret; undefined for another secret or an altered value. */
export function revealToken(secret: string, hidden: string): string | undefined {
  const bytes = base64urlDecode(hidden);
  if (bytes?.length !== SEALED_BYTES) return undefined;
  try {
    return base64url(xchacha20poly1305(keyOf(secret), bytes.subarray(0, NONCE_BYTES)).decrypt(bytes.subarray(NONCE_BYTES)));
  } catch {
    return undefined;
  }
}
