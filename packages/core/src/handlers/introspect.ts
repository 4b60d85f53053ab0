import { authenticateClient } from "../client-auth/authenticate.js";
import { OAuthError } from "../errors.js";
import type { ServerContext } from "../context.js";
import { findTokenGrant } from "../tokens/lookup.js";
import { readForm } from "../http/body.js";
import { jsonResponse } from "../http/responses.js";

/**
 * Token introspection (RFC 7662) for confidential clients, about their own tokens. Anything
 * else, unknown, expired, revoked or another client's, is exactly `{"active":false}`.
 */
export async function introspectHandler(request: Request, ctx: ServerContext): Promise<Response> {
  const params = await readForm(request);
  params.assertNotRepeated();
  const client = await authenticateClient(request, params, ctx);
  if (client.method === "none") {
    throw OAuthError.because("public_client", "introspection requires an authenticated confidential client");
  }
  const token = params.get("token");
  if (!token) throw new OAuthError("invalid_request", "token is missing");
  const found = await findTokenGrant(ctx, token);
  if (!found || found.grant.clientId !== client.metadata.client_id) return jsonResponse({ active: false }, { noStore: true });
  const { grant } = found;
  const common = { active: true, client_id: grant.clientId, sub: grant.subject, iss: ctx.options.issuer, aud: grant.resource };
  if (found.kind === "access_token") {
    const { claims } = found;
    return jsonResponse(
      { ...common, token_type: "Bearer", ...(claims.scope ? { scope: claims.scope } : {}), exp: claims.exp, iat: claims.iat, jti: claims.jti },
      { noStore: true },
    );
  }
  return jsonResponse(
    { ...common, token_type: "refresh_token", ...(found.record.scopes.length ? { scope: found.record.scopes.join(" ") } : {}) },
    { noStore: true },
  );
}
