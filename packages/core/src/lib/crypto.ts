import { equalBytes } from "@noble/ciphers/utils.js";
import { nodeBuiltin } from "./node-builtin.js";
import { sha256Digest } from "./sha256.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ALPHABET = encoder.encode("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

// The characters are written as ASCII bytes into a buffer kept between calls and decoded into one
// string: appending them to a string instead built a rope of short strings for every call (about
// 8 KB of garbage for a signed access token, the largest share of a refresh grant's), and took 2 to
// 6 times as long. The buffer is zeroed after each use: it held an encoded secret.
let scratch = new Uint8Array(512);

/** base64url without padding (RFC 4648 §5). */
export function base64url(bytes: Uint8Array): string {
  const length = Math.ceil((bytes.length * 4) / 3);
  if (scratch.length < length) scratch = new Uint8Array(length);
  const out = scratch;
  let i = 0;
  let j = 0;
  for (; i + 2 < bytes.length; i += 3, j += 4) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[j] = ALPHABET[n >>> 18]!;
    out[j + 1] = ALPHABET[(n >>> 12) & 63]!;
    out[j + 2] = ALPHABET[(n >>> 6) & 63]!;
    out[j + 3] = ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    out[j] = ALPHABET[n >>> 18]!;
    out[j + 1] = ALPHABET[(n >>> 12) & 63]!;
    if (rest === 2) out[j + 2] = ALPHABET[(n >>> 6) & 63]!;
  }
  const text = decoder.decode(out.subarray(0, length));
  out.fill(0, 0, length);
  return text;
}

/** Decodes base64url (padding optional); undefined for any other text. */
export function base64urlDecode(text: string): Uint8Array | undefined {
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return undefined;
  }
}

// getRandomValues costs microseconds per call in Node whatever the size, and a request draws
// several tokens, so they come from a pool filled 4 KiB at a time (as Node's randomUUID does).
// Each byte is handed out once and zeroed once copied or encoded.
const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let poolOffset = POOL_BYTES;

/** Draws `bytes` unused bytes from the pool (a view the caller must use and zero at once). */
function draw(bytes: number): Uint8Array {
  if (poolOffset + bytes > POOL_BYTES) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const drawn = pool.subarray(poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return drawn;
}

/** A random opaque value with `bytes` of entropy, base64url encoded. */
export function randomToken(bytes = 32): string {
  if (bytes > POOL_BYTES / 8) return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
  const drawn = draw(bytes);
  const token = base64url(drawn);
  drawn.fill(0);
  return token;
}

/** Fills `target` with random bytes (from the pool when small), such as a nonce. */
export function fillRandom<T extends Uint8Array>(target: T): T {
  if (target.length > POOL_BYTES / 8) return crypto.getRandomValues(target);
  const drawn = draw(target.length);
  target.set(drawn);
  drawn.fill(0);
  return target;
}

// node:crypto's one-shot `hash` where there is one (Node 20.12+): 0.8 us for a token against 3.5
// through @noble and base64url, and a refresh hashes two or three.
// Checked once against a known digest (FIPS 180-4's "abc"), so a runtime whose node:crypto differs keeps @noble.
type NodeHash = (algorithm: "sha256", data: string, encoding: "base64url") => string;
const nodeHash = knownGood(nodeBuiltin<{ hash?: NodeHash }>("node:crypto")?.hash);

function knownGood(hash: NodeHash | undefined): NodeHash | undefined {
  try {
    return typeof hash === "function" && hash("sha256", "abc", "base64url") === "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0" ? hash : undefined;
  } catch {
    return undefined;
  }
}

/**
 * SHA-256 of a UTF-8 string, base64url encoded: how codes, refresh tokens and secrets are stored.
 * Computed synchronously (see sha256.ts); async so callers need not change with the hash.
 */
export async function sha256(value: string): Promise<string> {
  return nodeHash ? nodeHash("sha256", value, "base64url") : base64url(sha256Digest(value));
}

/**
 * Compares two strings in time that depends only on their lengths (their UTF-8 bytes, through
 * @noble/ciphers' `equalBytes`). Callers compare hashes of equal length, so the length check
 * reveals nothing about a secret.
 */
export function timingSafeEqual(a: string, b: string): boolean {
  return equalBytes(encoder.encode(a), encoder.encode(b));
}
