import { OAuthError } from "../errors.js";
import type { Params } from "../http/body.js";
import { bindResource, verifySingleResource } from "../lib/resource.js";
import { redirectUriMatches } from "../clients/redirect-uri.js";
import type { ClientMetadata, StoredClient, User } from "../types.js";
import type { ServerContext } from "../context.js";
import { SCOPE_TOKEN } from "../lib/scope.js";

/** An authorization request that passed validation and waits for the user. */
export interface PendingAuthorization {
  id: string;
  clientId: string;
  redirectUri: string;
  state?: string;
  scopes: string[];
  resource: string;
  codeChallenge: string;
  /** SHA-256 of the CSRF token the built-in page embeds. */
  csrfHash: string;
  /** SHA-256 of the browser cookie of the browser that opened the page. */
  browserHash?: string;
  createdAt: number;
  /** The user who signed in for this request on the login page. */
  user?: User;
  /** `prompt=login`: the password is asked even in a signed-in browser. */
  forceLogin?: true;
  /** `prompt=consent`: the consent page is shown even when the user allowed these scopes before. */
  forceConsent?: true;
}

/** Where errors go: nowhere (an error page) until the client and redirect URI are known. */
export class RedirectableError extends Error {
  readonly error: OAuthError;
  readonly redirectUri: string;
  readonly state: string | undefined;
  /** The client the error goes back to (whether it is trusted decides how). */
  readonly client: StoredClient;

  constructor(error: OAuthError, redirectUri: string, state: string | undefined, client: StoredClient) {
    super(error.message);
    this.error = error;
    this.redirectUri = redirectUri;
    this.state = state;
    this.client = client;
  }
}

const CHALLENGE = /^[A-Za-z0-9\-_]{43}$/;
const MAX_STATE = 4096;

/** An authorization request that passed {@link validateAuthorizationRequest}. */
export interface ValidatedAuthorizationRequest {
  client: ClientMetadata;
  /** The client's record, as the registry found it. */
  stored: StoredClient;
  redirectUri: string;
  state?: string;
  scopes: string[];
  resource: string;
  codeChallenge: string;
}

/**
 * Validates an authorization request (OAuth 2.1 §4.1.1) in the order that decides where errors
 * go: the client and redirect URI first (errors are thrown as `OAuthError`, shown as a page),
 * then everything else (thrown as {@link RedirectableError}, sent back to the client).
 */
export async function validateAuthorizationRequest(ctx: ServerContext, params: Params): Promise<ValidatedAuthorizationRequest> {
  params.assertNotRepeated(["client_id", "redirect_uri"]);
  const clientId = params.get("client_id");
  if (!clientId) throw new OAuthError("invalid_request", "client_id is missing");
  const stored = await ctx.clients.find(clientId);
  if (!stored) throw OAuthError.because("client_unknown", "unknown client", { status: 400 });
  const client = stored.metadata;
  const requested = params.get("redirect_uri");
  let redirectUri: string;
  if (requested === undefined) {
    if (client.redirect_uris.length !== 1) throw new OAuthError("invalid_request", "redirect_uri is required for this client");
    redirectUri = client.redirect_uris[0]!;
  } else {
    if (!client.redirect_uris.some((registered) => redirectUriMatches(registered, requested))) {
      throw OAuthError.because("redirect_uri_unregistered", "redirect_uri does not match a registered redirect URI");
    }
    redirectUri = requested;
  }

  const rawState = params.get("state");
  if (rawState !== undefined && rawState.length > MAX_STATE) {
    throw new OAuthError("invalid_request", `state longer than ${MAX_STATE} characters`);
  }
  const fail = (code: OAuthError["code"], description: string): never => {
    throw new RedirectableError(new OAuthError(code, description), redirectUri, rawState, stored);
  };
  // A check whose OAuthError goes back to the client as an error redirect.
  const redirected = <T>(check: () => T): T => {
    try {
      return check();
    } catch (error) {
      if (error instanceof OAuthError) fail(error.code, error.description ?? error.code);
      throw error;
    }
  };
  redirected(() => verifySingleResource(params.repeated));
  if (params.repeated.length > 0) fail("invalid_request", `parameter repeated: ${params.repeated[0]}`);
  const responseType = params.get("response_type");
  if (responseType === undefined) fail("invalid_request", "response_type is missing");
  if (responseType !== "code") fail("unsupported_response_type", "only response_type=code is supported");
  if (!client.response_types.includes("code") || !client.grant_types.includes("authorization_code")) {
    fail("unauthorized_client", "this client may not use the authorization code grant");
  }

  const codeChallenge = params.get("code_challenge");
  const method = params.get("code_challenge_method");
  if (codeChallenge === undefined) fail("invalid_request", "code_challenge is required (PKCE)");
  if (method !== "S256") fail("invalid_request", "code_challenge_method must be S256; transform algorithm not supported");
  if (!CHALLENGE.test(codeChallenge!)) fail("invalid_request", "code_challenge must be 43 base64url characters");

  const scopeParam = params.get("scope");
  let scopes: string[];
  if (scopeParam === undefined) {
    scopes = ctx.options.defaultScopes;
  } else {
    scopes = [...new Set(scopeParam.split(" ").filter((s) => s !== ""))];
    for (const scope of scopes) {
      if (!SCOPE_TOKEN.test(scope)) fail("invalid_scope", "scope contains characters outside RFC 6749 §3.3");
      if (!Object.hasOwn(ctx.options.scopes, scope) && scope !== "offline_access") fail("invalid_scope", `unknown scope: ${scope}`);
    }
    // A configured client's scope is a limit. A registered one's is what it asked for at first:
    // step-up (MCP 2025-11-25) must be able to go beyond it, and the user consents to each scope.
    if (client.scope !== undefined && stored.source === "configuration") {
      const allowed = client.scope.split(" ");
      if (scopes.some((s) => !allowed.includes(s) && s !== "offline_access")) fail("invalid_scope", "scope not registered for this client");
    }
  }

  const resource = redirected(() => bindResource(params.get("resource"), { protects: ctx.options.resources }));

  return {
    client,
    stored,
    redirectUri,
    ...(rawState !== undefined ? { state: rawState } : {}),
    scopes,
    resource,
    codeChallenge: codeChallenge!,
  };
}
