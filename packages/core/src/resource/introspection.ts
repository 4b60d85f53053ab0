import { OAuthError, type ReasonCode } from "../errors.js";
import { isAudience, tokenAudiences } from "../lib/resource.js";
import type { AuthInfo } from "../types.js";
import { AuthorizationServerUnavailableError, fetchIssuerJSON, type IssuerHTTP, type IssuerMetadata } from "./issuer-client.js";
import { scopesOfClaims } from "./remote-claims.js";
import { BoundedMap } from "../lib/bounded-map.js";

/** What the introspection client needs besides the issuer's metadata. */
export interface IntrospectionSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Longest an active answer is reused (never past the token's `exp`), in milliseconds. */
  activeCacheMs: number;
  /** How long an inactive answer is reused, in milliseconds. */
  inactiveCacheMs: number;
  toleranceSeconds: number;
  cacheSize: number;
  now: () => number;
}

/** RFC 6749 §2.3.1: the client's identifier and secret are form-encoded before Basic encoding. */
const formEncode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);

const refused = (reason: ReasonCode, description = "the access token is invalid, expired or revoked") => OAuthError.because(reason, description);

/**
 * RFC 7662 token introspection for opaque access tokens, with answers cached in memory: an active
 * one until the token's `exp` or `activeCacheMs`, whichever comes first, an inactive one for
 * `inactiveCacheMs`. Concurrent checks of one token share one request.
 */
export function createIntrospector(settings: IntrospectionSettings, http: IssuerHTTP, metadata: () => Promise<IssuerMetadata>) {
  const { now } = settings;
  const answers = new BoundedMap<string, { until: number; answer: Record<string, unknown> }>(settings.cacheSize);
  const pending = new Map<string, Promise<Record<string, unknown>>>();

  const ask = async (token: string): Promise<Record<string, unknown>> => {
    const meta = await metadata();
    const endpoint = meta.introspection_endpoint;
    if (!endpoint) throw new AuthorizationServerUnavailableError(`${settings.issuer} advertises no introspection_endpoint`);
    const form = new URLSearchParams({ token, token_type_hint: "access_token" });
    const headers: Record<string, string> = { "Content-Type": "application/x-www-form-urlencoded" };
    // client_secret_basic unless the server says it takes only client_secret_post.
    const methods = meta.introspection_endpoint_auth_methods_supported;
    if (methods && !methods.includes("client_secret_basic") && methods.includes("client_secret_post")) {
      form.set("client_id", settings.clientId);
      form.set("client_secret", settings.clientSecret);
    } else {
      headers.Authorization = `Basic ${btoa(`${formEncode(settings.clientId)}:${formEncode(settings.clientSecret)}`)}`;
    }
    const answer = await fetchIssuerJSON(http, endpoint, { method: "POST", headers, body: form.toString() });
    if (typeof answer.active !== "boolean") throw new AuthorizationServerUnavailableError(`${endpoint} answered without a boolean "active"`);
    const at = now();
    const exp = typeof answer.exp === "number" ? answer.exp * 1000 : Number.POSITIVE_INFINITY;
    const until = answer.active ? Math.min(exp, at + settings.activeCacheMs) : at + settings.inactiveCacheMs;
    if (until > at) {
      answers.set(token, { until, answer });
    }
    return answer;
  };

  /** The introspection answer for a token: cached, shared with a request in flight, or asked for. */
  const answerFor = (token: string): Promise<Record<string, unknown>> => {
    const cached = answers.get(token);
    if (cached) {
      if (cached.until > now()) return Promise.resolve(cached.answer);
      answers.delete(token);
    }
    let request = pending.get(token);
    if (!request) {
      request = ask(token).finally(() => pending.delete(token));
      pending.set(token, request);
    }
    return request;
  };

  return {
    /**
     * Checks an opaque token for `resource` by introspection: active, of this issuer, not
     * expired, a bearer token, and meant for `resource`.
     *
     * @returns The `AuthInfo`, or the `invalid_token` error to answer with.
     * @throws {AuthorizationServerUnavailableError} When the introspection endpoint cannot be asked.
     */
    async check(token: string, resource: string): Promise<AuthInfo | OAuthError> {
      const answer = await answerFor(token);
      if (answer.active !== true) return refused("token_inactive");
      if (answer.iss !== undefined && answer.iss !== settings.issuer) return refused("issuer_mismatch");
      const nowSeconds = now() / 1000;
      if (answer.exp !== undefined && (typeof answer.exp !== "number" || answer.exp + settings.toleranceSeconds <= nowSeconds)) return refused("token_expired");
      if (answer.nbf !== undefined && (typeof answer.nbf !== "number" || answer.nbf - settings.toleranceSeconds > nowSeconds))
        return refused("token_not_yet_valid");
      // A sender-constrained (DPoP, mTLS) token is no bearer token.
      if ((answer.token_type !== undefined && String(answer.token_type).toLowerCase() !== "bearer") || answer.cnf !== undefined)
        return refused("token_not_bearer");
      if (!isAudience(tokenAudiences(answer.aud), resource)) return refused("audience_mismatch", "the access token is not meant for this resource");
      const scopes = scopesOfClaims(answer);
      if (scopes === undefined) return refused("claims_invalid");
      const { active: _active, scope: _scope, scp: _scp, aud: _aud, exp, client_id, token_type: _type, nbf: _nbf, ...rest } = answer;
      return {
        token,
        clientId: typeof client_id === "string" ? client_id : "",
        scopes,
        ...(typeof exp === "number" ? { expiresAt: exp } : {}),
        resource: new URL(resource),
        extra: { ...rest, iss: settings.issuer },
      };
    },
    forget(token: string): void {
      answers.delete(token);
    },
  };
}
