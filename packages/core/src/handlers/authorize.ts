import { OAuthError } from "../errors.js";
import type { RequestMeta, ServerContext } from "../context.js";
import { issueCode } from "../grants/authorization-code.js";
import {
  RedirectableError,
  validateAuthorizationRequest,
  type PendingAuthorization,
  type ValidatedAuthorizationRequest,
} from "../grants/authorization-request.js";
import { queryParams, readForm, type Params } from "../http/body.js";
import { bindingCookie, readCookie } from "../http/cookies.js";
import { redirectResponse } from "../http/responses.js";
import { randomToken, sha256, timingSafeEqual } from "../lib/crypto.js";
import { isLoopbackHost, withQuery } from "../lib/url.js";
import type { User } from "../types.js";
import { endpointPaths } from "./metadata.js";
import { consentPage, errorInterstitialPage, errorPage } from "./pages.js";
import { isTrustedClient } from "../clients/registry.js";
import type { StoredClient } from "../types.js";
import { keys } from "../storage/keys.js";
import { startUpstreamSignIn } from "./upstream.js";

/** The cookie that binds a consent form to the browser that opened it. */
function browserCookieName(ctx: ServerContext): string {
  return ctx.options.secureCookies ? "__Host-portcullis-browser" : "portcullis-browser";
}

/** A redirect carrying the authorization response to the client, with `iss` (RFC 9207). */
export function authorizationResponse(ctx: ServerContext, redirectUri: string, params: Record<string, string | undefined>, status: 302 | 303): Response {
  return redirectResponse(withQuery(redirectUri, { ...params, iss: ctx.options.issuer }), status);
}

/**
 * An error the server itself decided, sent back to a client whose redirect URI is validated: a
 * redirect for a trusted client, a page with a link for any other (`untrustedClientErrors`,
 * OAuth 2.1 §7.12.2), so the endpoint is no open redirector for whoever can register a client.
 */
function clientErrorResponse(
  ctx: ServerContext,
  stored: StoredClient,
  redirectUri: string,
  params: { error: string; error_description?: string | undefined; state?: string | undefined },
): Response {
  const redirect = authorizationResponse(ctx, redirectUri, params, 302);
  if (ctx.options.untrustedClientErrors === "redirect" || isTrustedClient(stored)) return redirect;
  const url = new URL(redirectUri);
  return errorInterstitialPage({
    serviceName: ctx.options.serviceName,
    clientName: stored.metadata.client_name ?? "An unnamed application",
    clientId: stored.metadata.client_id,
    location: redirect.headers.get("Location")!,
    redirectHost: url.host || url.protocol,
    error: params.error,
    ...(params.error_description ? { description: params.error_description } : {}),
  });
}

/**
 * The authorization endpoint (OAuth 2.1 §4.1.1), GET or form POST. Everything is validated
 * before the user sees anything; then the built-in page (or the app's own UI) takes over.
 */
export async function authorizeHandler(request: Request, ctx: ServerContext, meta: RequestMeta): Promise<Response> {
  let params: Params;
  try {
    params = request.method === "POST" ? await readForm(request) : queryParams(new URL(request.url));
  } catch (error) {
    if (error instanceof OAuthError) return errorPage(ctx.options.serviceName, error.description ?? error.code, error.status);
    throw error;
  }
  await ctx.limiter.check("authorize", { ip: meta.ip, clientId: params.get("client_id") });
  let request_: ValidatedAuthorizationRequest;
  try {
    request_ = await validateAuthorizationRequest(ctx, params);
  } catch (error) {
    if (error instanceof RedirectableError) {
      reportReason(ctx, request, error.error);
      return clientErrorResponse(ctx, error.client, error.redirectUri, {
        error: error.error.code,
        error_description: error.error.description,
        state: error.state,
      });
    }
    if (error instanceof OAuthError) {
      reportReason(ctx, request, error);
      return errorPage(ctx.options.serviceName, error.description ?? error.code);
    }
    throw error;
  }
  const { client, stored, ...valid } = request_;
  if (params.get("prompt")?.split(" ").includes("none")) {
    // Nothing may be shown, and Portcullis always asks the user to consent (OIDC Core §3.1.2.1).
    const signedIn = (await ctx.options.login?.currentUser?.(request)) ?? null;
    const error = signedIn ? "consent_required" : "login_required";
    return clientErrorResponse(ctx, stored, valid.redirectUri, { error, error_description: "user interaction is required", state: valid.state });
  }
  const csrf = randomToken(32);
  let browser = readCookie(request, browserCookieName(ctx));
  const setCookie = !browser || !/^[A-Za-z0-9_-]{43}$/.test(browser);
  if (setCookie) browser = randomToken(32);
  const pending: PendingAuthorization = {
    id: randomToken(24),
    clientId: client.client_id,
    redirectUri: valid.redirectUri,
    ...(valid.state !== undefined ? { state: valid.state } : {}),
    scopes: valid.scopes,
    resource: valid.resource,
    codeChallenge: valid.codeChallenge,
    csrfHash: await sha256(csrf),
    browserHash: await sha256(browser!),
    createdAt: ctx.options.now(),
  };
  await ctx.options.storage.set(keys.pendingAuthorization(pending.id), pending, { ttlSeconds: ctx.options.authorizationRequestTtlSeconds });
  ctx.options.onEvent({ type: "authorization.requested", clientId: client.client_id });

  if (ctx.options.interactionUrl) {
    return redirectResponse(withQuery(new URL(ctx.options.interactionUrl, ctx.options.issuer).href, { request_id: pending.id }), 302);
  }
  const user = (await ctx.options.login?.currentUser?.(request)) ?? undefined;
  const headers = new Headers();
  if (setCookie) headers.append("Set-Cookie", browserCookie(ctx, browser!));
  return renderConsent(ctx, pending, csrf, { headers, ...(user ? { user } : {}) });
}

function browserCookie(ctx: ServerContext, value: string): string {
  return bindingCookie(browserCookieName(ctx), value, ctx.options.secureCookies);
}

async function renderConsent(
  ctx: ServerContext,
  pending: PendingAuthorization,
  csrf: string,
  extra: { headers?: Headers; user?: User; error?: string; username?: string; status?: number },
): Promise<Response> {
  const stored = (await ctx.clients.find(pending.clientId))!;
  const client = stored.metadata;
  const redirect = new URL(pending.redirectUri);
  const loopbackOnly = client.redirect_uris.every((uri) => {
    try {
      return isLoopbackHost(new URL(uri));
    } catch {
      return false;
    }
  });
  // With an upstream provider the page's Allow redirects there: the form may lead to it (CSP form-action).
  const upstreamAt = ctx.upstream ? new URL((await ctx.upstream.client.metadata()).authorization_endpoint!) : undefined;
  const formAction = [redirect.protocol.startsWith("http") ? redirect.origin : `${redirect.protocol}`, ...(upstreamAt ? [upstreamAt.origin] : [])];
  return consentPage(
    {
      serviceName: ctx.options.serviceName,
      action: endpointPaths(ctx.options).consent,
      requestId: pending.id,
      csrf,
      clientName: client.client_name ?? "An unnamed application",
      clientId: client.client_id,
      ...(stored.source === "metadata_document" ? { documentHost: new URL(client.client_id).host } : {}),
      redirectHost: redirect.host || redirect.protocol,
      ...(ctx.upstream ? { redirectUri: pending.redirectUri } : {}),
      localhostOnly: loopbackOnly,
      resource: pending.resource,
      scopes: pending.scopes.map((name) => ({
        name,
        description: Object.hasOwn(ctx.options.scopes, name) ? ctx.options.scopes[name]! : name === "offline_access" ? "Stay signed in" : name,
      })),
      ...(extra.user ? { user: { displayName: extra.user.displayName ?? extra.user.subject } } : {}),
      ...(upstreamAt ? { upstream: { host: upstreamAt.host, scopes: ctx.upstream!.options.scopes } } : {}),
      ...(extra.error ? { error: extra.error } : {}),
      ...(extra.username ? { username: extra.username } : {}),
    },
    { status: extra.status ?? 200, formAction, ...(extra.headers ? { headers: extra.headers } : {}) },
  );
}

function reportReason(ctx: ServerContext, request: Request, error: OAuthError): void {
  if (error.reason) ctx.options.onError(error, { request, reason: error.reason });
}

/** The built-in page's POST: checks the CSRF token and browser binding, then signs in and decides. */
export async function consentHandler(request: Request, ctx: ServerContext, meta: RequestMeta): Promise<Response> {
  const { serviceName } = ctx.options;
  let form: Params;
  try {
    form = await readForm(request);
    form.assertNotRepeated();
  } catch (error) {
    if (error instanceof OAuthError) return errorPage(serviceName, error.description ?? error.code, error.status);
    throw error;
  }
  await ctx.limiter.check("login", { ip: meta.ip });
  const id = form.get("request_id") ?? "";
  const pending = id.length <= 64 ? await ctx.options.storage.get<PendingAuthorization>(keys.pendingAuthorization(id)) : undefined;
  if (!pending) return errorPage(serviceName, "This sign-in request has expired or was already used.");
  const csrf = form.get("csrf_token") ?? "";
  const browser = readCookie(request, browserCookieName(ctx)) ?? "";
  const [csrfHash, browserHash] = await Promise.all([sha256(csrf), sha256(browser)]);
  if (!timingSafeEqual(csrfHash, pending.csrfHash) || !pending.browserHash || !timingSafeEqual(browserHash, pending.browserHash)) {
    return errorPage(serviceName, "The form could not be verified. Open the sign-in link again from the application.", 403);
  }
  const decision = form.get("decision");
  if (decision === "deny") return denyAuthorization(ctx, id, 303);
  if (decision !== "allow") return errorPage(serviceName, "Choose Allow or Deny.");
  if (ctx.upstream) {
    // Consent given for this MCP client: only now is the user sent to the identity provider.
    const consented = await ctx.options.storage.consume<PendingAuthorization>(keys.pendingAuthorization(id));
    if (!consented) return errorPage(serviceName, "This sign-in request has expired or was already used.");
    return startUpstreamSignIn(ctx, ctx.upstream, consented);
  }

  let user = (await ctx.options.login?.currentUser?.(request)) ?? null;
  const username = form.get("username") ?? "";
  if (!user && ctx.options.login?.verifyPassword) {
    const password = form.get("password") ?? "";
    if (username.length > 0 && username.length <= 256 && password.length > 0 && password.length <= 1024) {
      // Backoff per username and address: the attempt is counted first, and the password is not
      // even checked while locked out.
      const attempt = await ctx.limiter.beginLogin(username, meta.ip, pending.clientId);
      if ("wait" in attempt) {
        const error = `Too many failed sign-in attempts. Try again in ${attempt.wait} seconds.`;
        return renderConsent(ctx, pending, csrf, { error, username, status: 429, headers: new Headers({ "Retry-After": String(attempt.wait) }) });
      }
      try {
        user = await ctx.options.login.verifyPassword({ username, password, request });
      } catch (error) {
        await attempt.finish(undefined);
        throw error;
      }
      await attempt.finish(Boolean(user));
    }
  }
  if (!user) {
    ctx.options.onEvent({ type: "login.failed", clientId: pending.clientId });
    return renderConsent(ctx, pending, csrf, { error: "The username or password is incorrect.", username, status: 401 });
  }
  return completeAuthorization(ctx, id, user, undefined, 303);
}

/** Finishes a pending authorization for a signed-in user: a redirect with `code`, `state` and `iss`. */
export async function completeAuthorization(
  ctx: ServerContext,
  requestId: string,
  user: User,
  scopes: string[] | undefined,
  status: 302 | 303 = 302,
): Promise<Response> {
  if (typeof user?.subject !== "string" || user.subject === "") throw new TypeError("Portcullis: completeAuthorization needs a user with a subject");
  const pending = await ctx.options.storage.consume<PendingAuthorization>(keys.pendingAuthorization(requestId));
  if (!pending) return errorPage(ctx.options.serviceName, "This sign-in request has expired or was already used.");
  // The app may grant fewer scopes than asked (OAuth 2.1 §1.4.1), never more.
  const granted = scopes ? pending.scopes.filter((s) => scopes.includes(s)) : pending.scopes;
  const code = await issueCode(ctx, pending, user, granted);
  return authorizationResponse(ctx, pending.redirectUri, { code, state: pending.state }, status);
}

/** Ends a pending authorization with `error=access_denied`. */
export async function denyAuthorization(ctx: ServerContext, requestId: string, status: 302 | 303 = 302): Promise<Response> {
  const pending = await ctx.options.storage.consume<PendingAuthorization>(keys.pendingAuthorization(requestId));
  if (!pending) return errorPage(ctx.options.serviceName, "This sign-in request has expired or was already used.");
  ctx.options.onEvent({ type: "authorization.denied", clientId: pending.clientId });
  return authorizationResponse(
    ctx,
    pending.redirectUri,
    { error: "access_denied", error_description: "the user denied the request", state: pending.state },
    status,
  );
}

/** What an app's own UI may show about a pending authorization request. */
export interface AuthorizationRequestInfo {
  /** The pending request's id, passed to the app's own page (`interactionUrl`) as `request_id`. */
  requestId: string;
  /** The client asking. */
  clientId: string;
  /** The client's `client_name`, when it has one (client-supplied: show it as untrusted text). */
  clientName: string | undefined;
  /** Where the user is sent back to. */
  redirectUri: string;
  /** The scopes requested (after defaults). */
  scopes: string[];
  /** The resource the token would be for (RFC 8707). */
  resource: string;
}

/** What an app's own UI may show about a pending request. */
export async function describeAuthorization(ctx: ServerContext, requestId: string): Promise<AuthorizationRequestInfo | undefined> {
  const pending = await ctx.options.storage.get<PendingAuthorization>(keys.pendingAuthorization(requestId));
  if (!pending) return undefined;
  const client = await ctx.clients.find(pending.clientId);
  return {
    requestId: pending.id,
    clientId: pending.clientId,
    clientName: client?.metadata.client_name,
    redirectUri: pending.redirectUri,
    scopes: pending.scopes,
    resource: pending.resource,
  };
}
