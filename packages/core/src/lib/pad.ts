import { chacha20poly1305, xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { equalBytes } from "@noble/ciphers/utils.js";
import { expand } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { base64url, base64urlDecode, fillRandom } from "./crypto.js";
import { nodeBuiltin } from "./node-builtin.js";

// The successor of a spent refresh token is kept sealed with ChaCha20-Poly1305 (RFC 8439) and a
// random nonce, under a key derived by HKDF-SHA-256 from the spent token, synchronously: no
// WebCrypto job on the refresh path. That token is 256 random bits already, so HKDF-Expand keys
// HMAC with it directly (RFC 5869 §3.3: no extract step for a strong key); each key seals one
// value only. The store keys the record by the token's plain SHA-256, which says nothing of the
// derived key, so what it holds cannot be opened without what the client presents; and the tag
// means a value sealed under another token, or altered in the store, opens to nothing.
//
// In Node, node:crypto does both steps (HMAC-SHA-256 for the one block of HKDF-Expand, and the
// AEAD); elsewhere the audited @noble libraries do, to the same bytes. node:crypto took a refresh
// grant's seal from 17-20 to 10 us of the main thread, and @noble's allocations (some 11 KB of
// garbage a seal) with it.
//
// v2 records (XChaCha20-Poly1305, a 24-byte nonce) were written before this format; they live
// for the reuse interval only, and still open, so a retry across an upgrade is not taken for reuse.
const encoder = new TextEncoder();
const INFO = encoder.encode("portcullis/refresh-successor/v3");
const INFO_V2 = encoder.encode("portcullis/refresh-successor/v2");
const KEY_BYTES = 32;
const TOKEN_BYTES = 32;
const NONCE_BYTES = 12;
const NONCE_BYTES_V2 = 24;
const TAG_BYTES = 16;
const SEALED_BYTES = NONCE_BYTES + TOKEN_BYTES + TAG_BYTES;
const SEALED_BYTES_V2 = NONCE_BYTES_V2 + TOKEN_BYTES + TAG_BYTES;
// HKDF-Expand's first block is HMAC(PRK, info ‖ 0x01), and 32 bytes need no other (RFC 5869 §2.3).
const FIRST_BLOCK = Uint8Array.of(1);

/** The slice of node:crypto used here. */
interface NodeCrypto {
  createHmac(algorithm: "sha256", key: Uint8Array): { update(data: Uint8Array): { update(data: Uint8Array): { digest(): Uint8Array } } };
  createCipheriv(algorithm: "chacha20-poly1305", key: Uint8Array, nonce: Uint8Array, options: { authTagLength: number }): Aead & { getAuthTag(): Uint8Array };
  createDecipheriv(
    algorithm: "chacha20-poly1305",
    key: Uint8Array,
    nonce: Uint8Array,
    options: { authTagLength: number },
  ): Aead & { setAuthTag(tag: Uint8Array): unknown };
}
interface Aead {
  update(data: Uint8Array): Uint8Array;
  /** Throws when the tag does not match. */
  final(): Uint8Array;
}

/** How a seal is made and opened: node:crypto in Node, @noble elsewhere; the same bytes either way. */
export interface Sealer {
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Undefined for a wrong key or an altered value. */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array | undefined;
  keyOf(secret: string, info: Uint8Array): Uint8Array;
}

export const nobleSealer: Sealer = {
  seal: (key, nonce, plaintext) => chacha20poly1305(key, nonce).encrypt(plaintext),
  open(key, nonce, sealed) {
    try {
      return chacha20poly1305(key, nonce).decrypt(sealed);
    } catch {
      return undefined;
    }
  },
  keyOf: (secret, info) => expand(sha256, encoder.encode(secret), info, KEY_BYTES),
};

/** A sealer on node:crypto, or undefined where the runtime has none. */
export function nodeSealer(nodeCrypto = nodeBuiltin<NodeCrypto>("node:crypto")): Sealer | undefined {
  if (typeof nodeCrypto?.createCipheriv !== "function" || typeof nodeCrypto.createHmac !== "function") return undefined;
  const options = { authTagLength: TAG_BYTES };
  const node: Sealer = {
    seal(key, nonce, plaintext) {
      const cipher = nodeCrypto.createCipheriv("chacha20-poly1305", key, nonce, options);
      const sealed = new Uint8Array(plaintext.length + TAG_BYTES);
      sealed.set(cipher.update(plaintext));
      cipher.final();
      sealed.set(cipher.getAuthTag(), plaintext.length);
      return sealed;
    },
    open(key, nonce, sealed) {
      const decipher = nodeCrypto.createDecipheriv("chacha20-poly1305", key, nonce, options);
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const opened = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
      try {
        decipher.final();
      } catch {
        opened.fill(0);
        return undefined;
      }
      return opened;
    },
    keyOf: (secret, info) => nodeCrypto.createHmac("sha256", encoder.encode(secret)).update(info).update(FIRST_BLOCK).digest(),
  };
  return agrees(node) ? node : undefined;
}

/**
 * Whether `sealer` derives, seals and opens to the same bytes as @noble, once, before it is used:
 * a runtime whose node:crypto lacks ChaCha20-Poly1305 (or differs) keeps @noble.
 */
function agrees(sealer: Sealer): boolean {
  try {
    // As long as a refresh token (HKDF-Expand takes a key of at least the hash's length).
    const probe = "p".repeat(43);
    const key = sealer.keyOf(probe, INFO);
    const nonce = new Uint8Array(NONCE_BYTES);
    const plaintext = new Uint8Array(TOKEN_BYTES).fill(1);
    const sealed = sealer.seal(key, nonce, plaintext);
    const opened = sealer.open(key, nonce, sealed);
    return (
      equalBytes(key, nobleSealer.keyOf(probe, INFO)) &&
      equalBytes(sealed, nobleSealer.seal(key, nonce, plaintext)) &&
      opened !== undefined &&
      equalBytes(opened, plaintext)
    );
  } catch {
    return false;
  }
}

const sealer = nodeSealer() ?? nobleSealer;

/**
 * Seals a 32-byte base64url token so that only the holder of `secret` can open it (a random
 * nonce, the ciphertext and its tag, base64url); undefined for any other value.
 */
export function hideToken(secret: string, token: string, using: Sealer = sealer): string | undefined {
  const bytes = base64urlDecode(token);
  if (bytes?.length !== TOKEN_BYTES) return undefined;
  const sealed = new Uint8Array(SEALED_BYTES);
  const nonce = fillRandom(sealed.subarray(0, NONCE_BYTES));
  sealed.set(using.seal(using.keyOf(secret, INFO), nonce, bytes), NONCE_BYTES);
  return base64url(sealed);
}

/** What {@link hideToken} sealed, given the same secret; undefined for another secret or an altered value. */
export function revealToken(secret: string, hidden: string, using: Sealer = sealer): string | undefined {
  const bytes = base64urlDecode(hidden);
  if (bytes?.length === SEALED_BYTES) {
    const opened = using.open(using.keyOf(secret, INFO), bytes.subarray(0, NONCE_BYTES), bytes.subarray(NONCE_BYTES));
    return opened && base64url(opened);
  }
  if (bytes?.length === SEALED_BYTES_V2) {
    try {
      return base64url(xchacha20poly1305(nobleSealer.keyOf(secret, INFO_V2), bytes.subarray(0, NONCE_BYTES_V2)).decrypt(bytes.subarray(NONCE_BYTES_V2)));
    } catch {
      return undefined;
    }
  }
  return undefined;
}
