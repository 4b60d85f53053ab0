import { base64url } from "../lib/crypto.js";
import { nodeBuiltin } from "../lib/node-builtin.js";
import type { SigningKey } from "./keys.js";

// Access tokens are signed on every token response, so the signature's cost is the endpoint's.
// The platform signs (`crypto.subtle.sign`, a thread-pool job in Node that leaves the main thread
// free); what is written here is only the JWS Compact Serialization around it (RFC 7515 §7.1),
// whose ES256 and EdDSA signatures are the raw bytes WebCrypto returns (r ‖ s, RFC 7518 §3.4;
// RFC 8037 §3.1). jose's SignJWT does the same plus a structured clone of the claims and checks
// the fixed claims here do not need: a tenth of the refresh grant's cost on a small host.
//
// In Node the same key signs through node:crypto's `sign` with a callback: the same thread-pool
// job, without WebCrypto's per-call normalization of the algorithm (WebIDL dictionaries, some 7 KB
// of garbage a signature), which halved the main thread's share of a signature (14 -> 7 us, 50
// signatures in flight).

/** The slice of node:crypto used here. */
interface NodeCrypto {
  KeyObject: { from(key: CryptoKey): unknown };
  sign(algorithm: string | null, data: string, key: unknown, callback: (error: Error | null, signature: Uint8Array) => void): void;
}

interface Signer {
  algorithm: AlgorithmIdentifier | EcdsaParams;
  /** The same key as a node:crypto key, with what `sign` takes for the algorithm; absent outside Node. */
  node: { crypto: NodeCrypto; algorithm: string | null; key: unknown } | undefined;
  /** Encoded protected headers, by `typ`. */
  headers: Map<string, string>;
}

const encoder = new TextEncoder();
const SIGNATURE_BYTES = 64;
const signers = new WeakMap<CryptoKey, Signer>();

/**
 * A compact JWS of `claims` (a JWT) with the protected header `{ alg, typ, kid }`, signed by
 * `key`: ES256 or EdDSA (Ed25519).
 */
export async function signJwt(key: SigningKey, typ: string, claims: Record<string, unknown>): Promise<string> {
  let signer = signers.get(key.privateKey);
  if (!signer) {
    signer = { algorithm: key.alg === "EdDSA" ? { name: "Ed25519" } : { name: "ECDSA", hash: "SHA-256" }, node: nodeSigner(key), headers: new Map() };
    signers.set(key.privateKey, signer);
  }
  let header = signer.headers.get(typ);
  if (header === undefined) {
    header = base64url(encoder.encode(JSON.stringify({ alg: key.alg, typ, kid: key.kid })));
    signer.headers.set(typ, header);
  }
  const input = `${header}.${base64url(encoder.encode(JSON.stringify(claims)))}`;
  if (signer.node) {
    try {
      const signature = await signInNode(signer.node, input);
      // Both algorithms' JWS signatures are 64 bytes (ES256 as r ‖ s, not DER).
      if (signature.length === SIGNATURE_BYTES) return `${input}.${base64url(signature)}`;
    } catch {
      // Signed below instead.
    }
    // A runtime whose node:crypto signs otherwise, or not at all: WebCrypto from now on.
    signer.node = undefined;
  }
  const signature = await crypto.subtle.sign(signer.algorithm, key.privateKey, encoder.encode(input));
  return `${input}.${base64url(new Uint8Array(signature))}`;
}

function nodeSigner(key: SigningKey): Signer["node"] {
  const nodeCrypto = nodeBuiltin<NodeCrypto>("node:crypto");
  if (typeof nodeCrypto?.sign !== "function" || typeof nodeCrypto.KeyObject?.from !== "function") return undefined;
  try {
    const keyObject = nodeCrypto.KeyObject.from(key.privateKey);
    // ES256's signature as JWS wants it: r ‖ s (IEEE P1363), not DER.
    return key.alg === "EdDSA"
      ? { crypto: nodeCrypto, algorithm: null, key: keyObject }
      : { crypto: nodeCrypto, algorithm: "sha256", key: { key: keyObject, dsaEncoding: "ieee-p1363" } };
  } catch {
    return undefined;
  }
}

function signInNode(node: NonNullable<Signer["node"]>, input: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    node.crypto.sign(node.algorithm, input, node.key, (error, signature) => (error ? reject(error) : resolve(signature))),
  );
}
