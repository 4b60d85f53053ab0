import { OAuthError, type ReasonCode } from "../errors.js";
import type { Params } from "../http/body.js";
import { sha256 } from "../lib/crypto.js";
import { hideToken, revealToken } from "../lib/pad.js";
import { bindResource } from "../lib/resource.js";
import type { AuthenticatedClient } from "../client-auth/authenticate.js";
import type { ServerContext } from "../context.js";
import { findGrant, revokeGrant, type Grant } from "../tokens/grant-store.js";
import type { RefreshRecord } from "../tokens/issue.js";
import { keys } from "../storage/keys.js";
import { consumeAndSet } from "../storage/consume-and-set.js";
import type { StorageWrite } from "../storage/types.js";

/** A rotated-out refresh token: who held it, when it was spent, and what the spending request asked. */
interface SpentRecord extends RefreshRecord {
  spentAt?: number;
  asked?: { scope?: string; resource?: string };
}

/** What redeeming a refresh token yields: a grant to issue for, and for a retry the refresh token it lost. */
export interface RefreshRedemption {
  grant: Grant;
  scopes: string[];
  /**
   * A retry within the reuse interval: the refresh token issued when this one was spent (still
   * unused), to answer again with a new access token.
   */
  successor?: string;
  /**
   * Writes what the issue stores (the new refresh token's record), given the new refresh token.
   * For a refresh, in one step with spending the presented token, its spent record and retry
   * record (one round trip on a networked store, overlapping the signing); it fails as a race,
   * writing nothing, when another request spent the token first. Omitted: plain writes.
   */
  store?: (writes: StorageWrite[], refreshToken: string | undefined) => Promise<void>;
}

/** What a retry needs: the successor sealed under a key only the spent token derives. */
interface ReplayRecord {
  successor: string;
}

// The retry record lives only for the reuse interval, under a key of its own.

const invalidGrant = (reason: ReasonCode) => OAuthError.because(reason, "the refresh token is invalid, expired or revoked");

/**
 * Redeems a refresh token (OAuth 2.1 §4.3) and rotates it: the presented token is spent. A client
 * retrying the same request within `refreshTokenReuseIntervalSeconds` (a lost response) gets the
 * same token response again; any other reuse revokes the whole grant (RFC 9700 §4.14.2). Scope
 * may only narrow and the resource may not change.
 */
export async function redeemRefreshToken(ctx: ServerContext, client: AuthenticatedClient, params: Params): Promise<RefreshRedemption> {
  const token = params.get("refresh_token");
  if (!token) throw new OAuthError("invalid_request", "refresh_token is missing");
  if (token.length > 512) throw invalidGrant("refresh_token_malformed");
  const hash = await sha256(token);
  const { storage } = ctx.options;
  const asked = askedOf(params);
  const record = await storage.get<RefreshRecord>(keys.refreshToken(hash));
  if (!record) return reuse(ctx, client, token, hash, asked);
  if (record.clientId !== client.metadata.client_id) throw invalidGrant("client_mismatch");
  const grant = await findGrant(ctx, record.grantId);
  if (!grant) throw invalidGrant("grant_revoked");
  const scopes = scopesAsked(record, asked);
  if (scopes.some((s) => !record.scopes.includes(s))) {
    throw new OAuthError("invalid_scope", "requested scope exceeds the original grant");
  }
  bindResource(params.get("resource"), { authorized: grant.resource });
  // Refresh records are written once and never changed, so the one read above is the one spent.
  const spent: SpentRecord = { ...record, spentAt: ctx.options.now(), asked };
  const interval = ctx.options.refreshTokenReuseIntervalSeconds;
  return {
    grant,
    scopes,
    store: async (writes, refreshToken) => {
      const entries = [...writes, { key: keys.spentRefreshToken(hash), value: spent, options: { ttlSeconds: ctx.options.refreshTokenTtlSeconds } }];
      const successor = interval > 0 && refreshToken !== undefined ? hideToken(token, refreshToken) : undefined;
      if (successor !== undefined) {
        const replay: ReplayRecord = { successor };
        entries.push({ key: keys.refreshReplay(hash), value: replay, options: { ttlSeconds: interval } });
      }
      if ((await consumeAndSet(storage, keys.refreshToken(hash), entries)) === undefined) throw invalidGrant("refresh_token_raced");
    },
  };
}

/** The scopes a refresh asks for: its `scope` parameter, deduplicated, or all the token's own. */
function scopesAsked(record: RefreshRecord, asked: SpentRecord["asked"]): string[] {
  return asked?.scope === undefined ? record.scopes : [...new Set(asked.scope.split(" ").filter(Boolean))];
}

function askedOf(params: Params): NonNullable<SpentRecord["asked"]> {
  const scope = params.get("scope");
  const resource = params.get("resource");
  return { ...(scope !== undefined ? { scope } : {}), ...(resource !== undefined ? { resource } : {}) };
}

/**
 * A spent token presented again. The same request by the same client within the interval is a
 * retry and gets the refresh token it lost (with a new access token), while the grant and that
 * refresh token are still live. A concurrent twin that arrives before the retry record is kept is
 * refused without revoking. Anything else is reuse: the grant and every token of it are revoked.
 */
async function reuse(ctx: ServerContext, client: AuthenticatedClient, token: string, hash: string, asked: SpentRecord["asked"]): Promise<RefreshRedemption> {
  const { storage, now, refreshTokenReuseIntervalSeconds: interval } = ctx.options;
  const spent = await storage.get<SpentRecord>(keys.spentRefreshToken(hash));
  if (!spent) throw invalidGrant("refresh_token_unknown");
  if (spent.clientId !== client.metadata.client_id) throw invalidGrant("client_mismatch");
  const retry = spent.spentAt !== undefined && now() - spent.spentAt < interval * 1000 && sameRequest(spent.asked, asked);
  if (retry) {
    const replay = await storage.get<ReplayRecord>(keys.refreshReplay(hash));
    if (!replay) throw invalidGrant("refresh_token_raced");
    const grant = await findGrant(ctx, spent.grantId);
    if (!grant) throw invalidGrant("grant_revoked");
    // The revealed value is trusted only as the key of a live refresh record: its successor unused.
    const successor = revealToken(token, replay.successor);
    if (successor !== undefined && (await storage.get(keys.refreshToken(await sha256(successor)))) !== undefined) {
      // A retry is the same request, so it asks for the scopes the spending request asked for.
      return { grant, scopes: scopesAsked(spent, asked), successor };
    }
  }
  await revokeGrant(ctx, spent.grantId, spent.clientId, "refresh_token_reused");
  ctx.options.onEvent({ type: "replay.detected", clientId: spent.clientId, grantId: spent.grantId, kind: "refresh_token" });
  throw invalidGrant("refresh_token_reused");
}

function sameRequest(a: SpentRecord["asked"], b: SpentRecord["asked"]): boolean {
  return a?.scope === b?.scope && a?.resource === b?.resource;
}
