import * as oauth from "oauth4webapi";
import type { ServerContext } from "../context.js";
import { issueCode } from "../grants/authorization-code.js";
import type { PendingAuthorization } from "../grants/authorization-request.js";
import { bindingCookie, readCookie } from "../http/cookies.js";
import { redirectResponse } from "../http/responses.js";
import { base64url, randomToken, sha256, timingSafeEqual } from "../lib/crypto.js";
import { sha256Digest } from "../lib/sha256.js";
import { keys } from "../storage/keys.js";
import type { Upstream } from "../upstream/index.js";
import { UpstreamError, type UpstreamSignIn, upstreamFailure } from "../upstream/provider.js";
import { authorizationResponse } from "./authorize.js";
import { endpointPaths } from "./metadata.js";
import { errorPage } from "./pages.js";

/** An upstream sign-in in progress, stored under the SHA-256 of its `state`. */
interface UpstreamSignInRecord {
  /** The MCP client's authorization request, consented to and used up. */
  pending: PendingAuthorization;
  nonce: string;
  verifier: string;
  /** SHA-256 of the cookie that binds the sign-in to the browser that consented. */
  bindingHash: string;
  createdAt: number;
}

/** An upstream sign-in lasts at most 10 minutes (MCP security best practices, state parameter). */
const MAX_SIGN_IN_SECONDS = 600;

/** The redirect URI registered at the provider: `<issuer>/upstream/callback`. */
export function upstreamRedirectUri(ctx: ServerContext): string {
  return new URL(endpointPaths(ctx.options).upstreamCallback, ctx.options.issuer).href;
}

/** One cookie per sign-in, named after its state, so two sign-ins in one browser do not collide. */
function cookieName(ctx: ServerContext, stateHash: string): string {
  return `${ctx.options.secureCookies ? "__Host-" : ""}portcullis-upstream-${stateHash.slice(0, 16)}`;
}

/**
 * After the user allowed the MCP client on the consent page: a fresh `state`, `nonce` and PKCE
 * pair of this server's own (never the MCP client's), kept single-use for at most 10 minutes and
 * bound to this browser by a cookie, then the redirect to the provider.
 */
export async function startUpstreamSignIn(ctx: ServerContext, upstream: Upstream, pending: PendingAuthorization): Promise<Response> {
  const as = await upstream.client.metadata();
  const state = randomToken(32);
  const nonce = randomToken(32);
  const verifier = randomToken(32);
  const binding = randomToken(32);
  const stateHash = await sha256(state);
  const ttl = Math.min(MAX_SIGN_IN_SECONDS, ctx.options.authorizationRequestTtlSeconds);
  const record: UpstreamSignInRecord = { pending, nonce, verifier, bindingHash: await sha256(binding), createdAt: ctx.options.now() };
  await ctx.options.storage.set(keys.upstreamState(stateHash), record, { ttlSeconds: ttl });
  const url = upstream.client.authorizationURL(as, { state, nonce, codeChallenge: base64url(sha256Digest(verifier)), redirectUri: upstreamRedirectUri(ctx) });
  return redirectResponse(url.href, 303, { "Set-Cookie": bindingCookie(cookieName(ctx, stateHash), binding, ctx.options.secureCookies, ttl) });
}

/** The provider's error codes the MCP client is told as they are; any other is `server_error`. */
const PASSED_ON = new Set(["access_denied", "temporarily_unavailable"]);
/** Errors that mean the user did not finish signing in. */
const NOT_SIGNED_IN = new Set(["login_required", "consent_required", "interaction_required", "account_selection_required"]);

/**
 * The provider's redirect back (`<issuer>/upstream/callback`): the state must be one this server
 * issued to this browser, unused and recent; then `iss` (RFC 9207, when the provider offers it),
 * the code exchange and the ID token (its `nonce`). The grant's user is the provider's user, its
 * upstream tokens kept sealed per grant; the MCP client gets this server's code, `state` and `iss`.
 * A provider error goes to the MCP client (`access_denied` stays `access_denied`); anything that
 * cannot be trusted is an error page, never a code.
 */
export async function upstreamCallbackHandler(request: Request, ctx: ServerContext): Promise<Response> {
  const upstream = ctx.upstream!;
  const { serviceName, storage } = ctx.options;
  const params = new URL(request.url).searchParams;
  const states = params.getAll("state");
  const state = states[0];
  if (states.length !== 1 || !state || state.length > 512) return errorPage(serviceName, "The sign-in response carries no valid state.");
  const stateHash = await sha256(state);
  const key = keys.upstreamState(stateHash);
  const record = await storage.get<UpstreamSignInRecord>(key);
  const expired = "This sign-in has expired or was already used.";
  if (!record) return errorPage(serviceName, expired);
  const name = cookieName(ctx, stateHash);
  const binding = readCookie(request, name) ?? "";
  if (!timingSafeEqual(await sha256(binding), record.bindingHash)) {
    return errorPage(serviceName, "This sign-in was started in another browser. Open the sign-in link again from the application.");
  }
  if ((await storage.consume(key)) === undefined || ctx.options.now() - record.createdAt > MAX_SIGN_IN_SECONDS * 1000) {
    return errorPage(serviceName, expired);
  }
  const clear = { "Set-Cookie": bindingCookie(name, "", ctx.options.secureCookies, 0) };
  const { pending } = record;
  const toClient = (values: Record<string, string | undefined>) => {
    const response = authorizationResponse(ctx, pending.redirectUri, { ...values, state: pending.state }, 302);
    response.headers.append("Set-Cookie", clear["Set-Cookie"]);
    return response;
  };

  const as = await upstream.client.metadata();
  let validated: URLSearchParams;
  try {
    validated = upstream.client.validateResponse(as, params, state);
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError) {
      ctx.options.onEvent({ type: "authorization.denied", clientId: pending.clientId });
      const code = NOT_SIGNED_IN.has(error.error) ? "access_denied" : PASSED_ON.has(error.error) ? error.error : "server_error";
      const description = code === "server_error" ? "the identity provider could not sign the user in" : "the user did not sign in at the identity provider";
      return toClient({ error: code, error_description: description });
    }
    // Reported without the callback's parameters (its code among them).
    ctx.options.onError(upstreamFailure(error, "callback"), { request, reason: "upstream_callback_invalid" });
    return errorPage(serviceName, "The identity provider's answer could not be verified.", 400, clear);
  }

  let signIn: UpstreamSignIn;
  try {
    signIn = await upstream.client.signIn(as, validated, upstreamRedirectUri(ctx), record.verifier, record.nonce);
  } catch (error) {
    if (!(error instanceof UpstreamError)) throw error;
    ctx.options.onError(error, { request, reason: `upstream_${error.failure}` });
    // A code or ID token that does not verify is the request's fault; an unreachable or refusing provider is not.
    if (error.failure === "invalid_grant" || error.failure === "invalid_response") {
      return errorPage(serviceName, "The identity provider did not confirm this sign-in.", 400, clear);
    }
    return errorPage(serviceName, "The identity provider could not complete the sign-in. Try again in a moment.", 502, clear);
  }
  const user = upstream.userOf(signIn.claims);
  if (!user) {
    ctx.options.onEvent({ type: "authorization.denied", clientId: pending.clientId });
    return toClient({ error: "access_denied", error_description: "this account may not sign in here" });
  }
  const grantId = randomToken(16);
  await upstream.tokens.save(grantId, signIn.tokens);
  const code = await issueCode(ctx, pending, user, pending.scopes, grantId);
  return toClient({ code });
}
