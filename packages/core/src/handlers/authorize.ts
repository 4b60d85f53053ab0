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
import { consentPage, errorInterstitialPage, errorPage, loginPage, type PageUi } from "./pages.js";
import { localize } from "./messages.js";
import { readSession, startSession } from "../users/sessions.js";
import { consentCovers, consentMayBeReused, rememberConsent } from "../users/consents.js";
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
    if (error instanceof OAuthError) return themedError(ctx, error.description ?? error.code, error.status);
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
      return themedError(ctx, error.description ?? error.code);
    }
    throw error;
  }
  const { client, stored, ...valid } = request_;
  const prompts = new Set((params.get("prompt") ?? "").split(" ").filter(Boolean));
  // Who is signed in: the built-in session, else the app's own (login.currentUser). prompt=login asks again.
  const signedIn = ctx.upstream ? undefined : ((await readSession(ctx, request))?.user ?? (await ctx.options.login?.currentUser?.(request)) ?? undefined);
  const user = prompts.has("login") ? undefined : signedIn;
  // A client the user already allowed these scopes: no page (unless prompt=consent asks for one,
  // or the client cannot prove who it is: a public client on a loopback or private-use redirect).
  const remembered =
    user !== undefined &&
    !prompts.has("consent") &&
    consentMayBeReused(client, valid.redirectUri) &&
    (await consentCovers(ctx, user.subject, client.client_id, valid.scopes, valid.resource));
  if (prompts.has("none")) {
    // Nothing may be shown (OIDC Core §3.1.2.1): a code when consent is remembered, else an error.
    if (remembered) return codeResponse(ctx, valid, client.client_id, user!, 302);
    const error = signedIn ? "consent_required" : "login_required";
    const params = { error, error_description: "user interaction is required", state: valid.state };
    // Straight back to a loopback redirect (a native client; nobody can be sent there to be
    // phished), as a silent request expects; to any other untrusted one, through the page.
    if (isLoopbackHost(new URL(valid.redirectUri))) return authorizationResponse(ctx, valid.redirectUri, params, 302);
    return clientErrorResponse(ctx, stored, valid.redirectUri, params);
  }
  if (remembered && !ctx.options.interactionUrl) return codeResponse(ctx, valid, client.client_id, user!, 302);

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
    ...(prompts.has("login") ? { forceLogin: true as const } : {}),
    ...(prompts.has("consent") ? { forceConsent: true as const } : {}),
  };
  await ctx.options.storage.set(keys.pendingAuthorization(pending.id), pending, { ttlSeconds: ctx.options.authorizationRequestTtlSeconds });
  ctx.options.onEvent({ type: "authorization.requested", clientId: client.client_id });

  if (ctx.options.interactionUrl) {
    return redirectResponse(withQuery(new URL(ctx.options.interactionUrl, ctx.options.issuer).href, { request_id: pending.id }), 302);
  }
  const headers = new Headers();
  if (setCookie) headers.append("Set-Cookie", browserCookie(ctx, browser!));
  if (!user && !ctx.upstream && ctx.options.login?.verifyPassword) {
    return renderLogin(ctx, request, { requestId: pending.id, csrf, clientName: stored.metadata.client_name ?? "An unnamed application" }, { headers });
  }
  return renderConsent(ctx, request, pending, csrf, { headers, ...(user ? { user } : {}) });
}

/** The error page, with the theme. */
export function themedError(ctx: ServerContext, message: string, status = 400, headers?: HeadersInit): Response {
  return errorPage(ctx.options.serviceName, message, status, headers, ctx.options.pages.theme);
}

/** The form a page posted, each field once; a malformed one is the error page. */
export async function readPageForm(ctx: ServerContext, request: Request): Promise<Params | Response> {
  try {
    const form = await readForm(request);
    form.assertNotRepeated();
    return form;
  } catch (error) {
    if (error instanceof OAuthError) return themedError(ctx, error.description ?? error.code, error.status);
    throw error;
  }
}

/** The UI context of a page answering `request`: its language (Accept-Language) and the theme. */
export function pageUi(ctx: ServerContext, request: Request | undefined): PageUi {
  return { ...localize(request, ctx.options.pages.messages), serviceName: ctx.options.serviceName, theme: ctx.options.pages.theme };
}

/** A code straight back to the client, for a user who allowed it these scopes before. */
async function codeResponse(
  ctx: ServerContext,
  valid: Omit<ValidatedAuthorizationRequest, "client" | "stored">,
  clientId: string,
  user: User,
  status: 302 | 303,
): Promise<Response> {
  const pending: PendingAuthorization = {
    id: "",
    clientId,
    redirectUri: valid.redirectUri,
    ...(valid.state !== undefined ? { state: valid.state } : {}),
    scopes: valid.scopes,
    resource: valid.resource,
    codeChallenge: valid.codeChallenge,
    csrfHash: "",
    createdAt: ctx.options.now(),
  };
  ctx.options.onEvent({ type: "authorization.requested", clientId });
  const code = await issueCode(ctx, pending, user, valid.scopes);
  return authorizationResponse(ctx, valid.redirectUri, { code, state: valid.state }, status);
}

function browserCookie(ctx: ServerContext, value: string): string {
  return bindingCookie(browserCookieName(ctx), value, ctx.options.secureCookies);
}

/** The login page of a pending authorization or account sign-in. */
export function renderLogin(
  ctx: ServerContext,
  request: Request,
  view: { requestId: string; csrf: string; clientName?: string; error?: string; username?: string },
  init: { status?: number; headers?: Headers } = {},
): Response {
  return loginPage(pageUi(ctx, request), { action: endpointPaths(ctx.options).login, ...view }, init);
}

async function renderConsent(
  ctx: ServerContext,
  request: Request,
  pending: PendingAuthorization,
  csrf: string,
  extra: { headers?: Headers; user?: User; error?: string; status?: number },
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
  const session = extra.user ? await readSession(ctx, request) : undefined;
  const paths = endpointPaths(ctx.options);
  return consentPage(
    pageUi(ctx, request),
    {
      action: paths.consent,
      requestId: pending.id,
      csrf,
      clientName: client.client_name ?? "An unnamed application",
      clientId: client.client_id,
      ...(client.logo_uri ? { logoUri: client.logo_uri } : {}),
      ...(stored.source === "metadata_document" ? { documentHost: new URL(client.client_id).host } : {}),
      redirectHost: redirect.host || redirect.protocol,
      ...(ctx.upstream ? { redirectUri: pending.redirectUri } : {}),
      localhostOnly: loopbackOnly,
      resource: pending.resource,
      scopes: pending.scopes.map((name) => ({ name, description: scopeDescription(ctx, name) })),
      ...(extra.user ? { user: { displayName: displayNameOf(extra.user) } } : {}),
      ...(session && session.user.subject === extra.user?.subject ? { logout: { action: paths.logout, csrf: session.csrf } } : {}),
      ...(upstreamAt ? { upstream: { host: upstreamAt.host, scopes: ctx.upstream!.options.scopes } } : {}),
      ...(extra.error ? { error: extra.error } : {}),
    },
    { status: extra.status ?? 200, formAction, ...(extra.headers ? { headers: extra.headers } : {}) },
  );
}

/** A scope's description from the `scopes` option, for people. */
export function scopeDescription(ctx: ServerContext, name: string): string {
  return Object.hasOwn(ctx.options.scopes, name) ? ctx.options.scopes[name]! : name === "offline_access" ? "Stay signed in" : name;
}

function displayNameOf(user: User): string {
  const preferred = user.claims?.preferred_username;
  return user.displayName ?? (typeof preferred === "string" ? preferred : user.subject);
}

function reportReason(ctx: ServerContext, request: Request, error: OAuthError): void {
  if (error.reason) ctx.options.onError(error, { request, reason: error.reason });
}

/** The built-in page's POST: checks the CSRF token and browser binding, then signs in and decides. */
export async function consentHandler(request: Request, ctx: ServerContext, meta: RequestMeta): Promise<Response> {
  const form = await readPageForm(ctx, request);
  if (form instanceof Response) return form;
  await ctx.limiter.check("login", { ip: meta.ip });
  const id = form.get("request_id") ?? "";
  const pending = id.length <= 64 ? await ctx.options.storage.get<PendingAuthorization>(keys.pendingAuthorization(id)) : undefined;
  if (!pending) return themedError(ctx, "This sign-in request has expired or was already used.");
  const csrf = form.get("csrf_token") ?? "";
  const browser = readCookie(request, browserCookieName(ctx)) ?? "";
  const [csrfHash, browserHash] = await Promise.all([sha256(csrf), sha256(browser)]);
  if (!timingSafeEqual(csrfHash, pending.csrfHash) || !pending.browserHash || !timingSafeEqual(browserHash, pending.browserHash)) {
    return themedError(ctx, "The form could not be verified. Open the sign-in link again from the application.", 403);
  }
  const decision = form.get("decision");
  if (decision === "deny") return denyAuthorization(ctx, id, 303);
  if (decision !== "allow") return themedError(ctx, "Choose Allow or Deny.");
  if (ctx.upstream) {
    // Consent given for this MCP client: only now is the user sent to the identity provider.
    const consented = await ctx.options.storage.consume<PendingAuthorization>(keys.pendingAuthorization(id));
    if (!consented) return themedError(ctx, "This sign-in request has expired or was already used.");
    return startUpstreamSignIn(ctx, ctx.upstream, consented);
  }

  let user: User | null =
    pending.user ?? (pending.forceLogin ? null : ((await readSession(ctx, request))?.user ?? (await ctx.options.login?.currentUser?.(request)) ?? null));
  const username = form.get("username") ?? "";
  if (!user && form.get("password") !== undefined) {
    // A scripted sign-in may still post the password with the decision, in one form.
    const checked = await checkPassword(ctx, request, meta, username, form.get("password") ?? "", pending.clientId);
    if ("wait" in checked) {
      const error = pageUi(ctx, request).t.tooManyAttempts.replace("{seconds}", String(checked.wait));
      return renderLogin(
        ctx,
        request,
        { requestId: id, csrf, error, username },
        { status: 429, headers: new Headers({ "Retry-After": String(checked.wait) }) },
      );
    }
    user = checked.user;
    if (!user) return renderLogin(ctx, request, { requestId: id, csrf, error: pageUi(ctx, request).t.badPassword, username }, { status: 401 });
  }
  if (!user) {
    if (ctx.options.login?.verifyPassword) return renderLogin(ctx, request, { requestId: id, csrf }, { status: 401 });
    ctx.options.onEvent({ type: "login.failed", clientId: pending.clientId });
    return themedError(ctx, "Sign in to the application first, then open the sign-in link again.", 401);
  }
  return completeAuthorization(ctx, id, user, undefined, 303);
}

/**
 * Checks a username and password with the sign-in lockout: the attempt is counted first (per
 * username and address), and the password not even checked while locked out.
 */
export async function checkPassword(
  ctx: ServerContext,
  request: Request,
  meta: RequestMeta,
  username: string,
  password: string,
  clientId: string,
): Promise<{ user: User | null } | { wait: number }> {
  const verify = ctx.options.login?.verifyPassword;
  if (!verify || username.length === 0 || username.length > 256 || password.length === 0 || password.length > 1024) {
    ctx.options.onEvent({ type: "login.failed", clientId });
    return { user: null };
  }
  const attempt = await ctx.limiter.beginLogin(username, meta.ip, clientId);
  if ("wait" in attempt) return { wait: attempt.wait };
  let user: User | null;
  try {
    user = await verify({ username, password, request });
  } catch (error) {
    await attempt.finish(undefined);
    throw error;
  }
  await attempt.finish(Boolean(user));
  if (!user) ctx.options.onEvent({ type: "login.failed", clientId });
  return { user };
}

/** The pending authorization `id`, when the request comes from the browser it was opened in. */
async function pendingOfBrowser(ctx: ServerContext, request: Request, id: string): Promise<PendingAuthorization | undefined> {
  const pending = id.length > 0 && id.length <= 64 ? await ctx.options.storage.get<PendingAuthorization>(keys.pendingAuthorization(id)) : undefined;
  if (!pending?.browserHash) return undefined;
  const browser = readCookie(request, browserCookieName(ctx)) ?? "";
  return timingSafeEqual(await sha256(browser), pending.browserHash) ? pending : undefined;
}

/** How long a pending authorization still has, for writing it again. */
function remainingSeconds(ctx: ServerContext, pending: PendingAuthorization): number {
  return Math.max(1, Math.ceil(ctx.options.authorizationRequestTtlSeconds - (ctx.options.now() - pending.createdAt) / 1000));
}

/**
 * The consent page of a pending authorization (`GET <consent>?request_id=`), where the login page
 * leads: only in the browser that opened the request, with a fresh CSRF token.
 */
export async function consentPageHandler(request: Request, ctx: ServerContext): Promise<Response> {
  const id = new URL(request.url).searchParams.get("request_id") ?? "";
  const pending = await pendingOfBrowser(ctx, request, id);
  if (!pending) return themedError(ctx, "This sign-in request has expired or was already used.");
  const user =
    pending.user ??
    (pending.forceLogin ? undefined : ((await readSession(ctx, request))?.user ?? (await ctx.options.login?.currentUser?.(request)) ?? undefined));
  const csrf = randomToken(32);
  await ctx.options.storage.set(
    keys.pendingAuthorization(pending.id),
    { ...pending, csrfHash: await sha256(csrf) },
    { ttlSeconds: remainingSeconds(ctx, pending) },
  );
  if (!user && ctx.options.login?.verifyPassword) {
    const client = await ctx.clients.find(pending.clientId);
    return renderLogin(ctx, request, { requestId: pending.id, csrf, clientName: client?.metadata.client_name ?? "An unnamed application" });
  }
  return renderConsent(ctx, request, pending, csrf, user ? { user } : {});
}

/** An account page sign-in waiting for the password, stored under {@link keys.pendingLogin}. */
export interface PendingLogin {
  csrfHash: string;
  browserHash: string;
  /** Where the browser goes once signed in. */
  returnTo: string;
}

/** Starts an account page sign-in: the login page, bound to this browser. */
export async function accountLoginPage(ctx: ServerContext, request: Request, returnTo: string): Promise<Response> {
  const csrf = randomToken(32);
  let browser = readCookie(request, browserCookieName(ctx));
  const setCookie = !browser || !/^[A-Za-z0-9_-]{43}$/.test(browser);
  if (setCookie) browser = randomToken(32);
  const id = randomToken(24);
  const record: PendingLogin = { csrfHash: await sha256(csrf), browserHash: await sha256(browser!), returnTo };
  await ctx.options.storage.set(keys.pendingLogin(id), record, { ttlSeconds: ctx.options.authorizationRequestTtlSeconds });
  const headers = new Headers();
  if (setCookie) headers.append("Set-Cookie", browserCookie(ctx, browser!));
  return renderLogin(ctx, request, { requestId: id, csrf }, { headers });
}

/**
 * The login page's POST: the CSRF token and browser binding, then the password (with the
 * lockout). A success starts a fresh session and goes on: to the consent page, straight back to
 * the client when the user allowed it these scopes before, or to the account page.
 */
export async function loginHandler(request: Request, ctx: ServerContext, meta: RequestMeta): Promise<Response> {
  const form = await readPageForm(ctx, request);
  if (form instanceof Response) return form;
  await ctx.limiter.check("login", { ip: meta.ip });
  const id = form.get("request_id") ?? "";
  const csrf = form.get("csrf_token") ?? "";
  const valid = id.length > 0 && id.length <= 64;
  const pending = valid ? await ctx.options.storage.get<PendingAuthorization>(keys.pendingAuthorization(id)) : undefined;
  const account = !pending && valid ? await ctx.options.storage.get<PendingLogin>(keys.pendingLogin(id)) : undefined;
  const binding = pending ?? account;
  if (!binding) return themedError(ctx, "This sign-in request has expired or was already used.");
  const browser = readCookie(request, browserCookieName(ctx)) ?? "";
  const [csrfHash, browserHash] = await Promise.all([sha256(csrf), sha256(browser)]);
  if (!timingSafeEqual(csrfHash, binding.csrfHash) || !binding.browserHash || !timingSafeEqual(browserHash, binding.browserHash)) {
    return themedError(ctx, "The form could not be verified. Open the sign-in link again from the application.", 403);
  }
  const username = form.get("username") ?? "";
  const clientId = pending?.clientId ?? "";
  const checked = await checkPassword(ctx, request, meta, username, form.get("password") ?? "", clientId);
  const ui = pageUi(ctx, request);
  if ("wait" in checked) {
    const error = ui.t.tooManyAttempts.replace("{seconds}", String(checked.wait));
    return renderLogin(ctx, request, { requestId: id, csrf, error, username }, { status: 429, headers: new Headers({ "Retry-After": String(checked.wait) }) });
  }
  const { user } = checked;
  if (!user) return renderLogin(ctx, request, { requestId: id, csrf, error: ui.t.badPassword, username }, { status: 401 });
  const { setCookie } = await startSession(ctx, request, user);
  ctx.options.onEvent({ type: "session.started", subject: user.subject });
  if (account) {
    await ctx.options.storage.delete(keys.pendingLogin(id));
    return redirectResponse(account.returnTo, 303, { "Set-Cookie": setCookie });
  }
  const signedIn: PendingAuthorization = { ...pending!, user };
  let response: Response;
  const client = pending!.forceConsent ? undefined : await ctx.clients.find(pending!.clientId);
  if (
    client &&
    consentMayBeReused(client.metadata, pending!.redirectUri) &&
    (await consentCovers(ctx, user.subject, pending!.clientId, pending!.scopes, pending!.resource))
  ) {
    await ctx.options.storage.set(keys.pendingAuthorization(id), signedIn, { ttlSeconds: remainingSeconds(ctx, pending!) });
    response = await completeAuthorization(ctx, id, user, undefined, 303);
  } else {
    await ctx.options.storage.set(keys.pendingAuthorization(id), signedIn, { ttlSeconds: remainingSeconds(ctx, pending!) });
    response = redirectResponse(withQuery(new URL(endpointPaths(ctx.options).consent, ctx.options.issuer).href, { request_id: id }), 303);
  }
  response.headers.append("Set-Cookie", setCookie);
  return response;
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
  if (!pending) return themedError(ctx, "This sign-in request has expired or was already used.");
  // The app may grant fewer scopes than asked (OAuth 2.1 §1.4.1), never more.
  const granted = scopes ? pending.scopes.filter((s) => scopes.includes(s)) : pending.scopes;
  // The user allowed this client these scopes: remembered, so the next request within them asks nothing.
  await rememberConsent(ctx, user.subject, pending.clientId, granted, pending.resource);
  const code = await issueCode(ctx, pending, user, granted);
  return authorizationResponse(ctx, pending.redirectUri, { code, state: pending.state }, status);
}

/** Ends a pending authorization with `error=access_denied`. */
export async function denyAuthorization(ctx: ServerContext, requestId: string, status: 302 | 303 = 302): Promise<Response> {
  const pending = await ctx.options.storage.consume<PendingAuthorization>(keys.pendingAuthorization(requestId));
  if (!pending) return themedError(ctx, "This sign-in request has expired or was already used.");
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
