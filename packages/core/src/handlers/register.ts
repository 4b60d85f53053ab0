import { OAuthError } from "../errors.js";
import type { RequestMeta, ServerContext } from "../grants/context.js";
import { listGrants, revokeGrant } from "../grants/grant-store.js";
import { mediaType, readBody } from "../http/body.js";
import { jsonResponse } from "../http/responses.js";
import { sha256, timingSafeEqual } from "../lib/crypto.js";
import { endpointPaths } from "./metadata.js";

async function readJSON(request: Request): Promise<unknown> {
  if (mediaType(request) !== "application/json") throw new OAuthError("invalid_client_metadata", "content type must be application/json");
  try {
    return JSON.parse(await readBody(request));
  } catch (error) {
    if (error instanceof OAuthError) throw error;
    throw new OAuthError("invalid_client_metadata", "the body is not valid JSON");
  }
}

function bearer(request: Request): string | undefined {
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(request.headers.get("Authorization") ?? "");
  return match?.[1];
}

const invalidToken = (reason: string) =>
  new OAuthError("invalid_token", "a valid access token is required", { reason, headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' } });

const managementUri = (ctx: ServerContext) => (clientId: string) =>
  `${new URL(ctx.options.issuer).origin}${endpointPaths(ctx.options).register}/${encodeURIComponent(clientId)}`;

/** Dynamic client registration (RFC 7591 §3), open or behind an initial access token. */
export async function registerHandler(request: Request, ctx: ServerContext, meta: RequestMeta): Promise<Response> {
  const settings = ctx.options.dynamicRegistration;
  if (!settings) throw new OAuthError("invalid_request", "registration is closed");
  await ctx.limiter.check("register", { ip: meta.ip });
  const expected = settings.initialAccessToken;
  if (expected !== undefined) {
    const token = bearer(request);
    if (!token) throw invalidToken("initial_access_token_missing");
    const ok = typeof expected === "string" ? timingSafeEqual(await sha256(token), await sha256(expected)) : await expected(token, request);
    if (!ok) throw invalidToken("initial_access_token_invalid");
  }
  const registered = await ctx.clients.register(await readJSON(request), managementUri(ctx), settings.unusedClientTtlSeconds);
  ctx.options.onEvent({ type: "client.registered", clientId: String(registered.client_id) });
  return jsonResponse(registered, { status: 201, noStore: true });
}

/**
 * The client configuration endpoint (RFC 7592): read, replace or delete a registration with its
 * registration access token. Deleting a client revokes every grant it holds.
 */
export async function registrationManagementHandler(request: Request, ctx: ServerContext): Promise<Response> {
  const settings = ctx.options.dynamicRegistration;
  const { pathname } = new URL(request.url);
  const clientId = decodeURIComponent(pathname.slice(endpointPaths(ctx.options).register.length + 1));
  const token = bearer(request);
  if (!token) throw invalidToken("registration_token_missing");
  const stored = await ctx.clients.findByRegistrationToken(clientId, token);
  // An unknown client and a wrong token look the same (RFC 7592 §3).
  if (!stored || !settings) throw invalidToken("registration_token_invalid");
  if (request.method === "GET") {
    return jsonResponse({ ...stored.metadata, registration_client_uri: managementUri(ctx)(clientId) }, { noStore: true });
  }
  if (request.method === "PUT") {
    const body = await readJSON(request);
    if (typeof body === "object" && body !== null && "client_secret" in body) {
      throw new OAuthError("invalid_request", "client_secret cannot be set by the client");
    }
    if (typeof body !== "object" || body === null || (body as { client_id?: unknown }).client_id !== clientId) {
      throw new OAuthError("invalid_request", "client_id in the body must match the registration");
    }
    const metadata = await ctx.clients.update(stored, body, settings.unusedClientTtlSeconds);
    return jsonResponse({ ...metadata, registration_client_uri: managementUri(ctx)(clientId) }, { noStore: true });
  }
  await ctx.clients.remove(clientId);
  for (const grant of await listGrants(ctx, { clientId })) await revokeGrant(ctx, grant.id, clientId, "client_deleted");
  return new Response(null, { status: 204, headers: { "Cache-Control": "no-store" } });
}
