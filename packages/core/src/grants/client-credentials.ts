import { OAuthError } from "../errors.js";
import type { Params } from "../http/body.js";
import { randomToken } from "../lib/crypto.js";
import { bindResource } from "../lib/resource.js";
import type { AuthenticatedClient } from "../client-auth/authenticate.js";
import type { ServerContext } from "../context.js";
import { createGrant, type Grant } from "../tokens/grant-store.js";
import { SCOPE_TOKEN } from "../lib/scope.js";

/**
 * The client credentials grant (OAuth 2.1 §4.2) for machine clients: confidential clients only,
 * the client itself is the subject, the token is bound to one resource, and no refresh token is
 * issued. Each issuance is its own short grant, so revoking the token works as for any other.
 *
 * A machine token carries only scopes an operator allowed for machines: a configured client's own
 * `scope`, or else `machineScopes` (none by default), narrowed by a registered client's `scope`.
 * Asking for none gets every scope both allow.
 */
export async function clientCredentialsGrant(ctx: ServerContext, client: AuthenticatedClient, params: Params): Promise<{ grant: Grant; scopes: string[] }> {
  if (client.method === "none") throw new OAuthError("unauthorized_client", "client_credentials is only for confidential clients");
  const { options } = ctx;
  const configured = ctx.clients.isConfigured(client.metadata.client_id);
  // A registered client needs the operator's approval on record (see dynamicRegistration).
  if (!configured && (await ctx.clients.find(client.metadata.client_id))?.machineClient !== true) {
    throw OAuthError.because("machine_client_not_approved", "this client is not approved for client_credentials");
  }
  const registered = client.metadata.scope?.split(" ").filter(Boolean);
  const permitted = new Set(
    configured && registered !== undefined ? registered : options.machineScopes.filter((scope) => registered === undefined || registered.includes(scope)),
  );
  const scopeParam = params.get("scope");
  const scopes =
    scopeParam === undefined
      ? (registered ?? options.defaultScopes).filter((scope) => permitted.has(scope))
      : [...new Set(scopeParam.split(" ").filter(Boolean))];
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope) || !Object.hasOwn(options.scopes, scope)) throw new OAuthError("invalid_scope", `unknown scope: ${scope}`);
    if (!permitted.has(scope)) throw new OAuthError("invalid_scope", `scope not allowed for this machine client: ${scope}`);
  }
  const resource = bindResource(params.get("resource"), { protects: options.resources });
  const grant: Grant = {
    id: randomToken(16),
    clientId: client.metadata.client_id,
    subject: client.metadata.client_id,
    scopes,
    resource,
    createdAt: options.now(),
  };
  await createGrant(ctx, grant, options.accessTokenTtlSeconds);
  await ctx.clients.markUsed(grant.clientId);
  return { grant, scopes };
}
