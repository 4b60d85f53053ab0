// The encryption keys of an option such as `upstream.tokenEncryptionKeys` or `keyEncryptionKeys`,
// checked: each 32 random bytes in base64url, ids unique; a plain string is one key whose id is
// derived from it.
import { base64url, base64urlDecode } from "./crypto.js";
import { sha256Digest } from "./sha256.js";

/** Encryption keys as an option gives them: one key, or a list whose first encrypts. */
export type EncryptionKeysInput = string | { id: string; key: string }[];

/** Encryption keys checked: decryption keys by id, and the id of the one that encrypts. */
export interface EncryptionKeys {
  keys: Map<string, Uint8Array>;
  encryptionKeyId: string;
}

function decodeKey(text: string, where: string): Uint8Array {
  const bytes = /^[A-Za-z0-9_-]{43}$/.test(text) ? base64urlDecode(text) : undefined;
  if (bytes?.length !== 32) throw new TypeError(`Portcullis: ${where} must be 32 random bytes, base64url (43 characters)`);
  return bytes;
}

/**
 * Checks the keys of the option named `where`: a `TypeError` naming it for a key that is not 32
 * bytes of base64url, or an id given twice. A single string's id is derived from the key under
 * `idLabel` (stored records carry it: a label, once used, never changes).
 */
export function resolveEncryptionKeys(given: EncryptionKeysInput, where: string, idLabel: string): EncryptionKeys {
  const list = typeof given === "string" ? [{ id: "", key: given }] : given;
  const keys = new Map<string, Uint8Array>();
  for (const [i, { id, key }] of list.entries()) {
    const bytes = decodeKey(key, typeof given === "string" ? where : `${where}[${i}].key`);
    const kid = id || base64url(sha256Digest(`${idLabel}:${key}`)).slice(0, 12);
    if (keys.has(kid)) throw new TypeError(`Portcullis: ${where}: key id ${kid} given twice`);
    keys.set(kid, bytes);
  }
  return { keys, encryptionKeyId: keys.keys().next().value! };
}
