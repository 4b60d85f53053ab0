import { base64url, base64urlDecode, fillRandom } from "../lib/crypto.js";

// Secrets at rest (upstream tokens, private signing keys) are kept with AES-256-GCM (WebCrypto), a
// random 96-bit IV per record, and the record's own identity (an upstream token's grant, a signing
// key's kid) as additional data: a sealed value moved to another record, or altered in the store,
// opens to nothing. The key id travels with the record so keys can rotate.
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const IV_BYTES = 12;

/** A sealed value as stored: the id of the key that sealed it, and IV + ciphertext + tag, base64url. */
export interface Sealed {
  kid: string;
  data: string;
}

/** Seals and opens JSON values under the configured keys (the first seals, all open). */
export interface Sealer {
  /** Whether a key of this id is configured. */
  has(kid: string): boolean;
  seal(value: unknown, context: string): Promise<Sealed>;
  /** The value, or undefined for an unknown key id, another context or an altered record. */
  open<T>(sealed: Sealed, context: string): Promise<T | undefined>;
}

export function createSealer(keys: Map<string, Uint8Array>, encryptionKeyId: string): Sealer {
  const imported = new Map<string, Promise<CryptoKey>>();
  const keyOf = (kid: string): Promise<CryptoKey> | undefined => {
    const raw = keys.get(kid);
    if (!raw) return undefined;
    let key = imported.get(kid);
    if (!key) {
      key = crypto.subtle.importKey("raw", raw as Uint8Array<ArrayBuffer>, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
      imported.set(kid, key);
    }
    return key;
  };
  return {
    has: (kid) => keys.has(kid),
    async seal(value, context) {
      const iv = fillRandom(new Uint8Array(IV_BYTES));
      const ciphertext = await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: encoder.encode(context) },
        await keyOf(encryptionKeyId)!,
        encoder.encode(JSON.stringify(value)),
      );
      const out = new Uint8Array(IV_BYTES + ciphertext.byteLength);
      out.set(iv);
      out.set(new Uint8Array(ciphertext), IV_BYTES);
      return { kid: encryptionKeyId, data: base64url(out) };
    },
    async open<T>(sealed: Sealed, context: string): Promise<T | undefined> {
      const key = typeof sealed?.kid === "string" ? keyOf(sealed.kid) : undefined;
      const bytes = typeof sealed?.data === "string" ? (base64urlDecode(sealed.data) as Uint8Array<ArrayBuffer> | undefined) : undefined;
      if (!key || !bytes || bytes.length <= IV_BYTES) return undefined;
      try {
        const plain = await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: encoder.encode(context) },
          await key,
          bytes.subarray(IV_BYTES),
        );
        return JSON.parse(decoder.decode(plain)) as T;
      } catch {
        return undefined;
      }
    },
  };
}
