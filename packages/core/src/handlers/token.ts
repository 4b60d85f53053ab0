import { authenticateClient, claimedClientId, type AuthenticatedClient } from "../client-auth/authenticate.js";
import { OAuthError } from "../errors.js";
import { redeemCode } from "../grants/authorization-code.js";
import type { RequestMeta, ServerContext } from "../context.js";
import { issueTokens } from "../tokens/issue.js";
import { redeemRefreshToken, type RefreshRedemption } from "../grants/refresh-token.js";
import { clientCredentialsGrant } from "../grants/client-credentials.js";
import { readForm, type Params } from "../http/body.js";
import { verifySingleResource } from "../lib/resource.js";
import { jsonResponse } from "../http/responses.js";
import { touchConsent } from "../users/consents.js";

/** How each supported grant type is redeemed. */
const REDEEMERS = new Map<string, (ctx: ServerContext, client: AuthenticatedClient, params: Params) => Promise<RefreshRedemption>>([
  ["authorization_code", redeemCode],
  ["refresh_token", redeemRefreshToken],
  ["client_credentials", clientCredentialsGrant],
]);

/** The token endpoint (OAuth 2.1 §3.2): authorization_code with PKCE, refresh_token with rotation, client_credentials. */
export async function tokenHandler(request: Request, ctx: ServerContext, meta: RequestMeta): Promise<Response> {
  const params = await readForm(request);
  // Counted before authentication, so guessing secrets is limited too.
  await ctx.limiter.check("token", { ip: meta.ip, clientId: claimedClientId(request, params) });
  verifySingleResource(params.repeated);
  params.assertNotRepeated();
  const client = await authenticateClient(request, params, ctx);
  const grantType = params.get("grant_type");
  if (!grantType) throw new OAuthError("invalid_request", "grant_type is missing");
  if (grantType !== "authorization_code" && grantType !== "refresh_token" && grantType !== "client_credentials") {
    throw new OAuthError("unsupported_grant_type", "supported grant types: authorization_code, refresh_token, client_credentials");
  }
  if (!client.metadata.grant_types.includes(grantType)) {
    throw new OAuthError("unauthorized_client", `this client may not use ${grantType}`);
  }
  const redeem = REDEEMERS.get(grantType)!;
  const redeemed: RefreshRedemption = await redeem(ctx, client, params);
  const { grant } = redeemed;
  const refresh = redeemed.successor !== undefined ? { reuse: redeemed.successor } : grantType !== "client_credentials";
  // A retry answers with the successor it lost, whose retry record is already kept.
  const tokens = await issueTokens(ctx, grant, redeemed.scopes, client.metadata, refresh, redeemed.store);
  // The connected application's last use, on the user's account page.
  if (grantType !== "client_credentials") await touchConsent(ctx, grant.subject, grant.clientId);
  const who = { clientId: grant.clientId, subject: grant.subject, grantId: grant.id };
  ctx.options.onEvent(
    grantType === "refresh_token"
      ? { type: "token.refreshed", ...who, replayed: redeemed.successor !== undefined }
      : { type: "token.issued", ...who, grantType },
  );
  return jsonResponse(tokens, { noStore: true, headers: { Pragma: "no-cache" } });
}
