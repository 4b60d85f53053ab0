import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from "jose";
import { OAuthError, type ReasonCode } from "../errors.js";
import { fetchPublicJSON } from "../clients/outbound.js";
import type { ServerContext } from "../context.js";
import type { ClientMetadata } from "../types.js";
import { keys as storageKeys } from "../storage/keys.js";

export const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const ALGORITHMS = ["ES256", "ES384", "ES512", "EdDSA", "Ed25519", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
/** An assertion may live at most this long; it bounds how long its `jti` must be remembered. */
const MAX_ASSERTION_LIFETIME_SECONDS = 600;

const invalid = (reason: ReasonCode, cause?: unknown) => OAuthError.because(reason, "client authentication failed", { cause });

/** The `iss` of an unverified assertion: who claims to be authenticating. */
export function assertionIssuer(assertion: string): string | undefined {
  try {
    const iss = decodeJwt(assertion).iss;
    return typeof iss === "string" ? iss : undefined;
  } catch {
    return undefined;
  }
}

async function clientKeys(ctx: ServerContext, client: ClientMetadata): Promise<JSONWebKeySet> {
  if (client.jwks) return client.jwks as unknown as JSONWebKeySet;
  if (!client.jwks_uri) throw invalid("no_client_keys");
  const cacheKey = storageKeys.clientJWKS(client.jwks_uri);
  const cached = await ctx.options.storage.get<JSONWebKeySet>(cacheKey);
  if (cached) return cached;
  let body: unknown;
  try {
    // A URL the client chose: fetched under the server's outbound policy, like a metadata document.
    ({ body } = await fetchPublicJSON(new URL(client.jwks_uri), ctx.options.outbound, { maxBytes: 64 * 1024 }));
  } catch (error) {
    throw invalid("jwks_uri_unavailable", error);
  }
  const keys = (body as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw invalid("jwks_uri_not_a_key_set");
  await ctx.options.storage.set(cacheKey, { keys }, { ttlSeconds: 300 });
  return { keys } as JSONWebKeySet;
}

/**
 * Verifies a `private_key_jwt` client assertion (RFC 7523 §3): signed by one of the client's
 * registered keys with an asymmetric algorithm, `iss` = `sub` = the client, `aud` = this issuer,
 * unexpired and short-lived, and a `jti` never seen before (remembered in the store until the
 * assertion expires, so a replay fails on every instance).
 */
export async function verifyClientAssertion(ctx: ServerContext, client: ClientMetadata, assertion: string): Promise<void> {
  const { options } = ctx;
  const keys = await clientKeys(ctx, client);
  let payload: { exp?: number; jti?: string; iat?: number };
  try {
    ({ payload } = await jwtVerify(assertion, createLocalJWKSet(keys), {
      issuer: client.client_id,
      subject: client.client_id,
      audience: options.issuer,
      algorithms: ALGORITHMS,
      clockTolerance: options.clockToleranceSeconds,
      currentDate: new Date(options.now()),
      requiredClaims: ["exp", "jti"],
    }));
  } catch (error) {
    throw invalid("assertion_invalid", error);
  }
  const nowSeconds = Math.floor(options.now() / 1000);
  const remaining = payload.exp! - nowSeconds;
  if (remaining > MAX_ASSERTION_LIFETIME_SECONDS) throw invalid("assertion_lifetime_too_long");
  if (typeof payload.jti !== "string" || payload.jti.length === 0 || payload.jti.length > 256) throw invalid("assertion_jti_invalid");
  const fresh = await options.storage.setIfAbsent(storageKeys.assertionJTI(client.client_id, payload.jti), 1, {
    ttlSeconds: Math.max(1, remaining + options.clockToleranceSeconds),
  });
  if (!fresh) throw invalid("assertion_replayed");
}
