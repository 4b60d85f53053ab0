import { authenticateClient } from "../client-auth/authenticate.js";
import { OAuthError } from "../errors.js";
import type { ServerContext } from "../context.js";
import { findTokenGrant } from "../tokens/lookup.js";
import { revokeGrant } from "../tokens/grant-store.js";
import { readForm } from "../http/body.js";

/**
 * Token revocation (RFC 7009). Revoking an access or refresh token revokes its whole grant.
 * Unknown tokens, and tokens of another client, get the same 200 so nothing can be probed.
 */
export async function revokeHandler(request: Request, ctx: ServerContext): Promise<Response> {
  const params = await readForm(request);
  params.assertNotRepeated();
  const client = await authenticateClient(request, params, ctx);
  const token = params.get("token");
  if (!token) throw new OAuthError("invalid_request", "token is missing");
  const found = await findTokenGrant(ctx, token);
  if (found && found.grant.clientId === client.metadata.client_id) {
    ctx.options.onEvent({ type: "token.revoked", clientId: found.grant.clientId, grantId: found.grant.id, tokenType: found.kind });
    await revokeGrant(ctx, found.grant.id, found.grant.clientId, "revoked_by_client");
    if (found.kind === "access_token") ctx.verifier.forget(token);
  }
  return new Response(null, { status: 200, headers: { "Cache-Control": "no-store" } });
}
