import { base64url } from "./crypto.js";

const encoder = new TextEncoder();
const INFO = encoder.encode("portcullis/sealed-response/v1");

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

// HKDF-SHA-256 over the secret itself: the store keeps the secret's hash, never the secret, so
// what it holds cannot be opened without what the client presents.
async function keyFor(secret: string, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: INFO },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    [usage],
  );
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
