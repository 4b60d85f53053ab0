import { OAuthError } from "../errors.js";
import type { Params } from "../http/body.js";
import { sha256 } from "../lib/crypto.js";
import { canonicalResource } from "../lib/url.js";
import type { AuthenticatedClient } from "../client-auth/authenticate.js";
import type { ServerContext } from "./context.js";
import { findGrant, revokeGrant, type Grant } from "./grant-store.js";
import { refreshKey, spentRefreshKey, type RefreshRecord } from "./issue.js";

const invalidGrant = (reason: string) => new OAuthError("invalid_grant", "the refresh token is invalid, expired or revoked", { reason });

/**
 * Redeems a refresh token (OAuth 2.1 §4.3) and rotates it: the presented token is spent, and
 * presenting it again revokes the whole grant (RFC 9700 §4.14.2). Scope may only narrow and the
 * resource may not change.
 */
export async function redeemRefreshToken(ctx: ServerContext, client: AuthenticatedClient, params: Params): Promise<{ grant: Grant; scopes: string[] }> {
  const token = params.get("refresh_token");
  if (!token) throw new OAuthError("invalid_request", "refresh_token is missing");
  if (token.length > 512) throw invalidGrant("token_malformed");
  const hash = await sha256(token);
  const { storage } = ctx.options;
  const record = await storage.get<RefreshRecord>(refreshKey(hash));
  if (!record) {
    const spent = await storage.get<RefreshRecord>(spentRefreshKey(hash));
    if (spent && spent.clientId === client.metadata.client_id) {
      await revokeGrant(ctx, spent.grantId, spent.clientId, "refresh_token_reused");
      ctx.options.onEvent({ type: "replay.detected", clientId: spent.clientId, grantId: spent.grantId, kind: "refresh_token" });
    }
    throw invalidGrant(spent ? "token_reused" : "token_unknown");
  }
  if (record.clientId !== client.metadata.client_id) throw invalidGrant("client_mismatch");
  const grant = await findGrant(ctx, record.grantId);
  if (!grant) throw invalidGrant("grant_revoked");

  const scopeParam = params.get("scope");
  const scopes = scopeParam === undefined ? record.scopes : [...new Set(scopeParam.split(" ").filter(Boolean))];
  if (scopes.some((s) => !record.scopes.includes(s))) {
    throw new OAuthError("invalid_scope", "requested scope exceeds the original grant");
  }
  const resource = params.get("resource");
  if (resource !== undefined && canonicalResource(resource) !== grant.resource) {
    throw new OAuthError("invalid_target", "resource differs from the one authorized");
  }

  const spent = await storage.consume<RefreshRecord>(refreshKey(hash));
  if (!spent) throw invalidGrant("token_raced");
  await storage.set(spentRefreshKey(hash), spent, { ttlSeconds: ctx.options.refreshTokenTtlSeconds });
  return { grant, scopes };
}
