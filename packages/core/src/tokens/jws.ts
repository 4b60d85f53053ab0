import { base64url } from "../lib/crypto.js";
import type { SigningKey } from "./keys.js";

// Access tokens are signed on every token response, so the signature's cost is the endpoint's.
// The platform signs (`crypto.subtle.sign`, a thread-pool job in Node that leaves the main thread
// free); what is written here is only the JWS Compact Serialization around it (RFC 7515 §7.1),
// whose ES256 and EdDSA signatures are the raw bytes WebCrypto returns (r ‖ s, RFC 7518 §3.4;
// RFC 8037 §3.1). jose's SignJWT does the same plus a structured clone of the claims and checks
// the fixed claims here do not need: a tenth of the refresh grant's cost on a small host.

interface Signer {
  algorithm: AlgorithmIdentifier | EcdsaParams;
  /** Encoded protected headers, by `typ`. */
  headers: Map<string, string>;
}

const encoder = new TextEncoder();
const signers = new WeakMap<CryptoKey, Signer>();

/**
 * A compact JWS of `claims` (a JWT) with the protected header `{ alg, typ, kid }`, signed by
 * `key`: ES256 or EdDSA (Ed25519).
 */
export async function signJwt(key: SigningKey, typ: string, claims: Record<string, unknown>): Promise<string> {
  let signer = signers.get(key.privateKey);
  if (!signer) {
    signer = { algorithm: key.alg === "EdDSA" ? { name: "Ed25519" } : { name: "ECDSA", hash: "SHA-256" }, headers: new Map() };
    signers.set(key.privateKey, signer);
  }
  let header = signer.headers.get(typ);
  if (header === undefined) {
    header = base64url(encoder.encode(JSON.stringify({ alg: key.alg, typ, kid: key.kid })));
    signer.headers.set(typ, header);
  }
  const input = `${header}.${base64url(encoder.encode(JSON.stringify(claims)))}`;
  const signature = await crypto.subtle.sign(signer.algorithm, key.privateKey, encoder.encode(input));
  return `${input}.${base64url(new Uint8Array(signature))}`;
}
