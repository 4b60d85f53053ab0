import type { ServerContext } from "../context.js";
import { channels, keys } from "../storage/keys.js";

/** A user's authorization of one client for one resource and a set of scopes. */
export interface Grant {
  id: string;
  clientId: string;
  subject: string;
  scopes: string[];
  resource: string;
  claims?: Record<string, unknown>;
  createdAt: number;
  revoked?: true;
}

/**
 * Creates a grant unless it was revoked first (a replayed code may revoke a grant before the
 * winning exchange writes it). Answers false when the grant is already revoked.
 */
export async function createGrant(ctx: ServerContext, grant: Grant, ttlSeconds = ctx.options.refreshTokenTtlSeconds): Promise<boolean> {
  const { storage } = ctx.options;
  if (!(await storage.setIfAbsent(keys.grant(grant.id), grant, { ttlSeconds }))) return false;
  // Indexes for grant management: a user's grants, a client's grants.
  await Promise.all([
    storage.set(keys.userGrant(grant.subject, grant.id), grant.clientId, { ttlSeconds }),
    storage.set(keys.clientGrant(grant.clientId, grant.id), grant.subject, { ttlSeconds }),
  ]);
  return true;
}

/** The live grants of a user or of a client. */
export async function listGrants(ctx: ServerContext, owner: { subject: string } | { clientId: string }): Promise<Grant[]> {
  const prefix = "subject" in owner ? keys.userGrants(owner.subject) : keys.clientGrants(owner.clientId);
  const entries = await ctx.options.storage.list(prefix, { limit: 10_000 });
  const grants = await Promise.all(entries.map((e) => findGrant(ctx, e.key.slice(prefix.length))));
  return grants.filter((g): g is Grant => g !== undefined);
}

/** The live grant, or undefined when it is unknown, expired or revoked. */
export async function findGrant(ctx: ServerContext, id: string): Promise<Grant | undefined> {
  const grant = await ctx.options.storage.get<Grant>(keys.grant(id));
  return grant && !grant.revoked ? grant : undefined;
}

/**
 * Revokes a grant: its access tokens stop verifying and its refresh token stops refreshing. The
 * revoked record is kept for the grant's lifetime so a late write cannot bring it back. Other
 * instances sharing a store that can publish are told at once (see {@link watchRevocations});
 * otherwise they notice within `grantCacheSeconds`.
 */
export async function revokeGrant(ctx: ServerContext, id: string, clientId: string, reason: string): Promise<void> {
  ctx.liveGrants.delete(id);
  const { storage } = ctx.options;
  const existing = await storage.get<Grant>(keys.grant(id));
  if (existing?.revoked) return;
  await storage.set(keys.grant(id), { ...(existing ?? { id }), revoked: true }, { ttlSeconds: ctx.options.refreshTokenTtlSeconds });
  ctx.options.onEvent({ type: "grant.revoked", clientId, grantId: id, reason });
  if (ctx.upstream) {
    // The upstream grant ends with ours where the provider offers revocation; a provider that is
    // down does not keep ours alive (its tokens are forgotten here either way).
    try {
      await ctx.upstream.tokens.revoke(id);
    } catch (error) {
      ctx.options.onError(error, { reason: "upstream_revocation_failed" });
    }
  }
  // After the write, so an instance told reads the revoked record. A failure here costs only
  // speed (the cache's bound still holds), so it is reported, never thrown.
  if (storage.publish) {
    await storage.publish(channels.grantRevoked, id).catch((error: unknown) => ctx.options.onError(error, { reason: "revocation_not_broadcast" }));
  }
}

/**
 * Drops a grant from this instance's cache as soon as any instance sharing the store revokes it,
 * when the store can broadcast (`Storage.subscribe`).
 */
export function watchRevocations(ctx: ServerContext): void {
  ctx.options.storage.subscribe?.(channels.grantRevoked, (id) => ctx.liveGrants.delete(id));
}

/**
 * Whether a grant is live, for token verification: answered from the in-process cache while fresh
 * (revocations made here clear it at once), otherwise from the store.
 */
export async function isGrantLive(ctx: ServerContext, id: string): Promise<boolean> {
  const now = ctx.options.now();
  const until = ctx.liveGrants.get(id);
  if (until !== undefined && until > now) return true;
  if (!(await findGrant(ctx, id))) {
    ctx.liveGrants.delete(id);
    return false;
  }
  const ttl = ctx.options.grantCacheSeconds * 1000;
  if (ttl > 0) {
    ctx.liveGrants.set(id, now + ttl);
  }
  return true;
}
