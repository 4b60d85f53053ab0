import { OAuthError, type ReasonCode } from "../errors.js";
import type { Params } from "../http/body.js";
import { base64url, randomToken, sha256, timingSafeEqual } from "../lib/crypto.js";
import { sha256Digest } from "../lib/sha256.js";
import { bindResource } from "../lib/resource.js";
import type { AuthenticatedClient } from "../client-auth/authenticate.js";
import type { User } from "../types.js";
import type { ServerContext } from "../context.js";
import { createGrant, revokeGrant, type Grant } from "../tokens/grant-store.js";
import type { PendingAuthorization } from "./authorization-request.js";
import { keys } from "../storage/keys.js";

/** An issued authorization code, stored under its SHA-256. */
interface CodeRecord {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  scopes: string[];
  resource: string;
  subject: string;
  claims?: Record<string, unknown>;
  grantId: string;
  redeemed?: true;
}

// The record outlives the code so a replay can still be recognised and its grant revoked; the
// live marker is what a redemption consumes, so only one redemption ever wins.
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** Issues a single-use code for an approved request. */
export async function issueCode(ctx: ServerContext, pending: PendingAuthorization, user: User, scopes: string[], grantId = randomToken(16)): Promise<string> {
  const code = randomToken(32);
  const hash = await sha256(code);
  const ttl = ctx.options.authorizationCodeTtlSeconds;
  const record: CodeRecord = {
    clientId: pending.clientId,
    redirectUri: pending.redirectUri,
    codeChallenge: pending.codeChallenge,
    scopes,
    resource: pending.resource,
    subject: user.subject,
    grantId,
    ...(user.claims ? { claims: user.claims } : {}),
  };
  await ctx.options.storage.set(keys.code(hash), record, { ttlSeconds: ttl + 600 });
  await ctx.options.storage.set(keys.liveCode(hash), 1, { ttlSeconds: ttl });
  ctx.options.onEvent({ type: "code.issued", clientId: pending.clientId, subject: user.subject, grantId: record.grantId });
  return code;
}

const invalidGrant = (reason: ReasonCode) => OAuthError.because(reason, "the authorization code is invalid, expired or already used");

/**
 * Redeems a code (OAuth 2.1 §4.1.3): bound to the client, the redirect URI and the PKCE
 * challenge; single-use through `consume`. A valid replay revokes the grant the first
 * redemption created; an invalid one (wrong client or verifier) changes nothing.
 */
export async function redeemCode(ctx: ServerContext, client: AuthenticatedClient, params: Params): Promise<{ grant: Grant; scopes: string[] }> {
  const code = params.get("code");
  if (!code) throw new OAuthError("invalid_request", "code is missing");
  const verifier = params.get("code_verifier");
  if (!verifier) throw new OAuthError("invalid_request", "code_verifier is missing");
  if (!VERIFIER.test(verifier)) throw OAuthError.because("verifier_malformed", "code_verifier is malformed");
  if (code.length > 512) throw invalidGrant("code_malformed");
  const hash = await sha256(code);
  const record = await ctx.options.storage.get<CodeRecord>(keys.code(hash));
  if (!record) throw invalidGrant("code_unknown");
  if (record.clientId !== client.metadata.client_id) throw invalidGrant("client_mismatch");
  // S256 (RFC 7636 §4.6); the verifier is ASCII, checked above, so its UTF-8 bytes are its ASCII bytes.
  const challenge = base64url(sha256Digest(verifier));
  if (!timingSafeEqual(challenge, record.codeChallenge)) throw invalidGrant("pkce_mismatch");
  const redirectUri = params.get("redirect_uri");
  if (redirectUri !== undefined && redirectUri !== record.redirectUri) throw invalidGrant("redirect_uri_mismatch");
  bindResource(params.get("resource"), { authorized: record.resource });
  if ((await ctx.options.storage.consume(keys.liveCode(hash))) === undefined) {
    if (!record.redeemed) throw invalidGrant("code_expired_or_raced");
    // A valid second redemption: revoke what the first one issued (OAuth 2.1 §4.1.3).
    await revokeGrant(ctx, record.grantId, record.clientId, "code_replayed");
    ctx.options.onEvent({ type: "replay.detected", clientId: record.clientId, grantId: record.grantId, kind: "code" });
    throw invalidGrant("code_replayed");
  }
  const grant: Grant = {
    id: record.grantId,
    clientId: record.clientId,
    subject: record.subject,
    scopes: record.scopes,
    resource: record.resource,
    createdAt: ctx.options.now(),
    ...(record.claims ? { claims: record.claims } : {}),
  };
  if (!(await createGrant(ctx, grant))) throw invalidGrant("grant_revoked_by_replay");
  await ctx.clients.markUsed(grant.clientId);
  await ctx.options.storage.set(keys.code(hash), { ...record, redeemed: true }, { ttlSeconds: 600 });
  return { grant, scopes: grant.scopes };
}
