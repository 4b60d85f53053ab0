import { base64url } from "./crypto.js";
import { sha256Digest } from "./sha256.js";

const encoder = new TextEncoder();
// A fixed prefix, so the key is never the hash the store files records under.
const DOMAIN = "portcullis/sealed-response/v2\0";

function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** A value encrypted under a key only the holder of a secret can derive. */
export interface Sealed {
  iv: string;
  data: string;
}

// The key is SHA-256 over a domain prefix and the secret. The secrets sealed under are random
// tokens with 256 bits of entropy, so a plain hash is as strong a KDF as HKDF here, at a
// fraction of the cost: one synchronous hash and a raw import instead of two WebCrypto jobs. The
// store keeps SHA-256 of the bare secret, which says nothing of the prefixed hash, so what it
// holds cannot be opened without what the client presents.
function keyFor(secret: string, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", sha256Digest(DOMAIN + secret), "AES-GCM", false, [usage]);
}

/** Encrypts `value` (AES-256-GCM) with a key derived from `secret`, bound to `context`. */
export async function seal(secret: string, context: string, value: unknown): Promise<Sealed> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(context) },
    await keyFor(secret, "encrypt"),
    encoder.encode(JSON.stringify(value)),
  );
  return { iv: base64url(iv), data: base64url(new Uint8Array(data)) };
}

/** Decrypts what {@link seal} produced with the same secret and context; undefined otherwise. */
export async function unseal<T>(secret: string, context: string, sealed: Sealed): Promise<T | undefined> {
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64url(sealed.iv), additionalData: encoder.encode(context) },
      await keyFor(secret, "decrypt"),
      fromBase64url(sealed.data),
    );
    return JSON.parse(new TextDecoder().decode(plain)) as T;
  } catch {
    return undefined;
  }
}
