import { randomToken, sha256 } from "../lib/crypto.js";
import { issueAccessToken } from "./access-token.js";
import type { ClientMetadata } from "../types.js";
import type { ServerContext } from "../context.js";
import type { Grant } from "./grant-store.js";
import { keys } from "../storage/keys.js";
import type { StorageWrite } from "../storage/types.js";

/** A refresh token record, stored under the token's SHA-256. */
export interface RefreshRecord {
  grantId: string;
  clientId: string;
  scopes: string[];
}

/** Token response members (RFC 6749 §5.1). */
export interface TokenSet {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope?: string;
  refresh_token?: string;
}

/**
 * Issues an access token for `scopes` of a grant and, for clients that may refresh, a new refresh
 * token, or the live one named by `refresh.reuse` (a retry that lost the response).
 */
export async function issueTokens(
  ctx: ServerContext,
  grant: Grant,
  scopes: string[],
  client: ClientMetadata,
  refresh: boolean | { reuse: string } = true,
  /**
   * Writes the new refresh token's record, given the token (a refresh spends the presented one in
   * the same step). Called whenever given, even with nothing to write. Default: plain writes.
   */
  store?: (writes: StorageWrite[], refreshToken: string | undefined) => Promise<void>,
): Promise<TokenSet> {
  const { options } = ctx;
  const now = options.now();
  const writes: StorageWrite[] = [];
  let refreshToken: string | undefined;
  if (typeof refresh === "object") {
    refreshToken = refresh.reuse;
  } else if (refresh && client.grant_types.includes("refresh_token")) {
    refreshToken = randomToken(32);
    const remaining = Math.floor((grant.createdAt + options.refreshTokenTtlSeconds * 1000 - now) / 1000);
    const record: RefreshRecord = { grantId: grant.id, clientId: grant.clientId, scopes: grant.scopes };
    writes.push({ key: keys.refreshToken(await sha256(refreshToken)), value: record, options: { ttlSeconds: Math.max(1, remaining) } });
  }
  // Stored while the access token is signed (a thread-pool job): on a networked store, the round
  // trip runs beside the signature rather than after it.
  const { storage } = options;
  const stored = store ? store(writes, refreshToken) : writes.length > 0 ? Promise.all(writes.map((w) => storage.set(w.key, w.value, w.options))) : undefined;
  stored?.catch(() => {});
  const signed = issueAccessToken(
    ctx.keys,
    {
      issuer: options.issuer,
      subject: grant.subject,
      clientId: grant.clientId,
      resource: grant.resource,
      scopes,
      grantId: grant.id,
      ...(grant.claims ? { extraClaims: grant.claims } : {}),
    },
    options.accessTokenTtlSeconds,
    now,
  );
  let issued: Awaited<typeof signed>;
  try {
    issued = await signed;
  } finally {
    await stored;
  }
  const set: TokenSet = { access_token: issued.token, token_type: "Bearer", expires_in: issued.expiresAt - Math.floor(now / 1000) };
  if (scopes.length > 0) set.scope = scopes.join(" ");
  if (refreshToken !== undefined) set.refresh_token = refreshToken;
  return set;
}
