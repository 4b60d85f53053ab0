import type { ServerContext } from "../context.js";
import { isLoopbackHost } from "../lib/url.js";
import { keys } from "../storage/keys.js";
import type { ClientMetadata } from "../types.js";

/** A user's remembered consent to one client: what they allowed, and when it was last used. */
export interface ConsentRecord {
  clientId: string;
  /** Every scope the user allowed this client, over time (the union). */
  scopes: string[];
  /** The resources it was allowed for. */
  resources: string[];
  /** When the user first allowed the client (ms since the epoch). */
  grantedAt: number;
  /** The last token issue or refresh for this user and client (ms since the epoch). */
  lastUsedAt: number;
}

/**
 * Remembers that a user allowed a client `scopes` at `resource`, widening what was allowed
 * before. Kept as long as a refresh token lives, and renewed on each use.
 */
export async function rememberConsent(ctx: ServerContext, subject: string, clientId: string, scopes: string[], resource: string): Promise<void> {
  const key = keys.userConsent(subject, clientId);
  const now = ctx.options.now();
  const existing = await ctx.options.storage.get<ConsentRecord>(key);
  const record: ConsentRecord = {
    clientId,
    scopes: [...new Set([...(existing?.scopes ?? []), ...scopes])],
    resources: [...new Set([...(existing?.resources ?? []), resource])],
    grantedAt: existing?.grantedAt ?? now,
    lastUsedAt: now,
  };
  await ctx.options.storage.set(key, record, { ttlSeconds: ctx.options.refreshTokenTtlSeconds });
}

/**
 * Whether a consent remembered for `client` may stand in for the page on a request redirecting to
 * `redirectUri`: only where the client's identity is assured (RFC 8252 §8.6). It is, for a client
 * that authenticates at the token endpoint, and for a code sent to an https redirect URI off
 * loopback, which only its owner receives. A public client redirecting to loopback (any port) or
 * a private-use scheme could be any program on the user's machine using its `client_id`: it is
 * asked every time, as if nothing had been allowed before.
 */
export function consentMayBeReused(client: Pick<ClientMetadata, "token_endpoint_auth_method">, redirectUri: string): boolean {
  if (client.token_endpoint_auth_method !== "none") return true;
  let url: URL;
  try {
    url = new URL(redirectUri);
  } catch {
    return false;
  }
  return url.protocol === "https:" && !isLoopbackHost(url);
}

/** Whether the user already allowed this client every one of `scopes` at `resource`. */
export async function consentCovers(ctx: ServerContext, subject: string, clientId: string, scopes: string[], resource: string): Promise<boolean> {
  const record = await ctx.options.storage.get<ConsentRecord>(keys.userConsent(subject, clientId));
  return record !== undefined && record.resources.includes(resource) && scopes.every((s) => record.scopes.includes(s));
}

/** A consent's last use is recorded at most this often per user and client by one instance. */
const CONSENT_TOUCH_INTERVAL_MS = 60_000;

/**
 * Marks a token issue or refresh: the consent's last use, which also renews its lifetime. Nothing
 * when there is no consent. A read and a write, so an instance does it at most once a minute per
 * user and client: the account page's "last used" is exact to the minute, and a client refreshing
 * in a loop costs no extra round trips.
 */
export async function touchConsent(ctx: ServerContext, subject: string, clientId: string): Promise<void> {
  const key = keys.userConsent(subject, clientId);
  const now = ctx.options.now();
  const touches = ctx.consentTouches;
  const last = touches.get(key);
  if (last !== undefined && now - last >= 0 && now - last < CONSENT_TOUCH_INTERVAL_MS) return;
  touches.set(key, now);
  const existing = await ctx.options.storage.get<ConsentRecord>(key);
  if (!existing) return;
  await ctx.options.storage.set(key, { ...existing, lastUsedAt: now }, { ttlSeconds: ctx.options.refreshTokenTtlSeconds });
}

/** A user's consents, one per client. */
export async function listConsents(ctx: ServerContext, subject: string): Promise<ConsentRecord[]> {
  const entries = await ctx.options.storage.list<ConsentRecord>(keys.userConsents(subject), { limit: 10_000 });
  return entries.map((e) => e.value).filter((v): v is ConsentRecord => typeof v === "object" && v !== null);
}

/** Forgets a user's consent to a client (the next authorization asks again). */
export async function forgetConsent(ctx: ServerContext, subject: string, clientId: string): Promise<void> {
  await ctx.options.storage.delete(keys.userConsent(subject, clientId));
}
