import { sha256 } from "@noble/hashes/sha2.js";

// SHA-256 from @noble/hashes (audited, synchronous, no dependencies, the same on every runtime).
// WebCrypto's digest is async, and in Node each call is a thread-pool round trip that costs ten
// times the hash of a short token; the hot paths hash several short values per request.

const encoder = new TextEncoder();

/**
 * The SHA-256 digest (32 bytes) of `input`: bytes as given, a string as its UTF-8 encoding.
 *
 * @see https://csrc.nist.gov/pubs/fips/180-4/upd1/final FIPS 180-4 §6.2
 */
export function sha256Digest(input: Uint8Array | string): Uint8Array<ArrayBuffer> {
  return sha256(typeof input === "string" ? encoder.encode(input) : input);
}
