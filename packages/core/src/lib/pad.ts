import { base64url } from "./crypto.js";
import { sha256Digest } from "./sha256.js";

// A fixed prefix, so the pad is never the hash the store files records under.
const DOMAIN = "portcullis/refresh-successor/v1\0";
const TOKEN_BYTES = 32;

function fromBase64url(text: string): Uint8Array | undefined {
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return undefined;
  }
}

// The pad is SHA-256 over a domain prefix and a secret: a random token of 256 bits that is spent
// once, so each pad hides exactly one value (a one-time pad, no cipher and no WebCrypto job).
// The store keeps SHA-256 of the bare secret, which says nothing of the prefixed hash, so what it
// holds cannot be opened without what the client presents. Nothing authenticates the revealed
// value here: the caller checks it against a record the store keeps under its hash.
function xorPad(secret: string, bytes: Uint8Array | undefined): string | undefined {
  if (bytes?.length !== TOKEN_BYTES) return undefined;
  const pad = sha256Digest(DOMAIN + secret);
  for (let i = 0; i < TOKEN_BYTES; i++) bytes[i]! ^= pad[i]!;
  return base64url(bytes);
}

/** Hides a 32-byte base64url token under a pad only the holder of `secret` can derive; undefined for any other value. */
export const hideToken = (secret: string, token: string): string | undefined => xorPad(secret, fromBase64url(token));

/** What {@link hideToken} hid, given the same secret (another secret yields an unrelated value). */
export const revealToken = (secret: string, hidden: string): string | undefined => xorPad(secret, fromBase64url(hidden));
