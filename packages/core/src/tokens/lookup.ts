import { isOAuthError } from "../errors.js";
import { sha256 } from "../lib/crypto.js";
import type { VerifiedClaims } from "../resource/jwt-verifier.js";
import type { ServerContext } from "../context.js";
import { findGrant, type Grant } from "./grant-store.js";
import type { RefreshRecord } from "./issue.js";
import { keys } from "../storage/keys.js";

/** A live token of this server and its grant. */
export type FoundToken = { kind: "access_token"; grant: Grant; claims: VerifiedClaims } | { kind: "refresh_token"; grant: Grant; record: RefreshRecord };

/** Finds the live grant behind an access token (a JWT of ours) or a refresh token, if any. */
export async function findTokenGrant(ctx: ServerContext, token: string): Promise<FoundToken | undefined> {
  if (token.length > 8192) return undefined;
  if (token.split(".").length === 3) {
    let claims: VerifiedClaims;
    try {
      claims = await ctx.verifier.verify(token);
    } catch (error) {
      if (isOAuthError(error)) return undefined;
      throw error;
    }
    const grant = typeof claims.gid === "string" ? await findGrant(ctx, claims.gid) : undefined;
    return grant ? { kind: "access_token", grant, claims } : undefined;
  }
  const record = await ctx.options.storage.get<RefreshRecord>(keys.refreshToken(await sha256(token)));
  const grant = record ? await findGrant(ctx, record.grantId) : undefined;
  return grant && record ? { kind: "refresh_token", grant, record } : undefined;
}
