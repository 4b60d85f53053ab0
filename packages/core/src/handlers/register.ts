import { OAuthError, type ReasonCode } from "../errors.js";
import type { RequestMeta, ServerContext } from "../context.js";
import { listGrants, revokeGrant } from "../tokens/grant-store.js";
import { mediaType, readBody } from "../http/body.js";
import { jsonResponse } from "../http/responses.js";
import { sha256, timingSafeEqual } from "../lib/crypto.js";
import { isJSONTooDeep, MAX_JSON_DEPTH } from "../lib/json.js";
import { decodeComponent } from "../lib/url.js";
import { USER_DELEGATED_GRANT_TYPES, validateClientMetadata } from "../clients/registry.js";
import type { RegistrationContext } from "../options.js";
import type { ClientMetadata, StoredClient } from "../types.js";
import { endpointPaths } from "./metadata.js";

/** Reads client metadata: JSON, nested at most {@link MAX_JSON_DEPTH} levels, checked before parsing. */
async function readJSON(request: Request): Promise<unknown> {
  if (mediaType(request) !== "application/json") throw new OAuthError("invalid_client_metadata", "content type must be application/json");
  try {
    const text = await readBody(request);
    if (isJSONTooDeep(text)) throw new OAuthError("invalid_client_metadata", `the body nests deeper than ${MAX_JSON_DEPTH} levels`);
    return JSON.parse(text);
  } catch (error) {
    if (error instanceof OAuthError) throw error;
    throw new OAuthError("invalid_client_metadata", "the body is not valid JSON");
  }
}

function bearer(request: Request): string | undefined {
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(request.headers.get("Authorization") ?? "");
  return match?.[1];
}

const invalidToken = (reason: ReasonCode) =>
  OAuthError.because(reason, "a valid access token is required", { headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' } });

const managementUri = (ctx: ServerContext) => (clientId: string) =>
  `${new URL(ctx.options.issuer).origin}${endpointPaths(ctx.options).register}/${encodeURIComponent(clientId)}`;

/**
 * Validates registration metadata and applies the operator's rules: the registration policy, if
 * any, then the machine-client rule. Open registration creates clients for user-delegated grants
 * only; any other grant (`client_credentials`) needs an operator's approval: the policy's
 * `machineClient: true`, an initial access token where `allowMachineClients` is on, or (on an
 * update) an approval already on record for this client. Answers whether the client is an
 * approved machine client, to be recorded with it.
 */
async function decideMetadata(
  ctx: ServerContext,
  input: unknown,
  context: RegistrationContext,
  previous?: StoredClient,
): Promise<{ metadata: Omit<ClientMetadata, "client_id">; machineClient: boolean }> {
  const settings = ctx.options.dynamicRegistration;
  let metadata = validateClientMetadata(input, ctx.options.scopes);
  let approved = previous?.machineClient === true || (context.initialAccessToken && settings !== false && settings.allowMachineClients === true);
  if (settings && settings.policy) {
    const decision = await settings.policy(structuredClone(metadata), context);
    if (typeof decision !== "object" || decision === null || typeof decision.allow !== "boolean") {
      throw new TypeError("Portcullis: dynamicRegistration.policy must answer { allow: true } or { allow: false, reason }");
    }
    if (!decision.allow) throw new OAuthError("invalid_client_metadata", String(decision.reason || "registration refused by policy"));
    if (decision.metadata !== undefined) metadata = validateClientMetadata(decision.metadata, ctx.options.scopes);
    if (decision.machineClient === true) approved = true;
  }
  const needsOperator = metadata.grant_types.filter((grant) => !USER_DELEGATED_GRANT_TYPES.includes(grant));
  if (needsOperator.length > 0 && !approved) {
    throw new OAuthError(
      "invalid_client_metadata",
      `grant type ${needsOperator[0]} needs an operator: open registration creates clients for authorization_code and refresh_token only`,
    );
  }
  return { metadata, machineClient: needsOperator.length > 0 };
}

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
  const decided = await decideMetadata(ctx, await readJSON(request), { request, operation: "register", initialAccessToken: expected !== undefined });
  const registered = await ctx.clients.register(
    decided.metadata,
    managementUri(ctx),
    settings.unusedClientTtlSeconds,
    decided.machineClient,
    expected !== undefined,
  );
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
  const clientId = decodeComponent(pathname.slice(endpointPaths(ctx.options).register.length + 1));
  if (clientId === undefined) throw new OAuthError("invalid_request", "malformed percent-encoding in the client id");
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
    if (typeof body === "object" && body !== null && Object.hasOwn(body, "client_secret")) {
      throw new OAuthError("invalid_request", "client_secret cannot be set by the client");
    }
    if (typeof body !== "object" || body === null || (body as { client_id?: unknown }).client_id !== clientId) {
      throw new OAuthError("invalid_request", "client_id in the body must match the registration");
    }
    const decided = await decideMetadata(ctx, body, { request, operation: "update", clientId, initialAccessToken: false }, stored);
    const metadata = await ctx.clients.update(stored, decided.metadata, settings.unusedClientTtlSeconds, decided.machineClient);
    return jsonResponse({ ...metadata, registration_client_uri: managementUri(ctx)(clientId) }, { noStore: true });
  }
  await ctx.clients.remove(clientId);
  for (const grant of await listGrants(ctx, { clientId })) await revokeGrant(ctx, grant.id, clientId, "client_deleted");
  return new Response(null, { status: 204, headers: { "Cache-Control": "no-store" } });
}
