import type { KeyRing } from "./keys.js";
import { signJwt } from "./jws.js";
import { randomToken } from "../lib/crypto.js";

/** What an access token is issued for. */
export interface AccessTokenClaims {
  issuer: string;
  subject: string;
  clientId: string;
  resource: string;
  scopes: string[];
  grantId: string;
  extraClaims?: Record<string, unknown>;
}

const RESERVED = new Set(["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "gid"]);

/**
 * Signs an RFC 9068 JWT access token: `typ: at+jwt`, audience the resource, and `gid` naming the
 * grant so a revoked grant's tokens are refused.
 */
export async function issueAccessToken(
  keys: KeyRing,
  claims: AccessTokenClaims,
  ttlSeconds: number,
  nowMs: number,
): Promise<{ token: string; expiresAt: number }> {
  const key = await keys.signingKey();
  const iat = Math.floor(nowMs / 1000);
  const payload: Record<string, unknown> = {
    iss: claims.issuer,
    sub: claims.subject,
    aud: claims.resource,
    iat,
    exp: iat + ttlSeconds,
    jti: randomToken(16),
    client_id: claims.clientId,
    gid: claims.grantId,
  };
  if (claims.scopes.length > 0) payload.scope = claims.scopes.join(" ");
  if (claims.extraClaims) for (const [name, value] of Object.entries(claims.extraClaims)) if (!RESERVED.has(name)) payload[name] = value;
  const token = await signJwt(key, "at+jwt", payload);
  return { token, expiresAt: iat + ttlSeconds };
}
