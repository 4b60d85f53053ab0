import { createRemoteJWKSet, customFetch as joseFetch, jwtVerify, type JWTVerifyGetKey } from "jose";
import * as oauth from "oauth4webapi";
import type { ResolvedUpstream } from "./options.js";

/** Why an exchange with the identity provider failed. */
export type UpstreamFailure =
  /** No answer, a network error or a timeout. */
  | "unreachable"
  /** The provider refused this server's request (its client, a scope): a configuration matter. */
  | "refused"
  /** The provider refused a code or refresh token as invalid, expired or revoked. */
  | "invalid_grant"
  /** An answer that fails verification (issuer, ID token, nonce, shape). */
  | "invalid_response";

/**
 * A failed exchange with the upstream identity provider. Tool handlers get it from
 * `authInfo.extra.upstream`; its message never holds a token.
 */
export class UpstreamError extends Error {
  readonly failure: UpstreamFailure;

  constructor(failure: UpstreamFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UpstreamError";
    this.failure = failure;
  }
}

/** A token set from the provider, as kept (sealed) per grant. */
export interface UpstreamTokenSet {
  accessToken: string;
  refreshToken?: string;
  /** When the access token expires, in ms; absent when the provider did not say. */
  expiresAt?: number;
  /** When it was issued, in ms. */
  issuedAt: number;
  scope?: string;
}

/** What a completed upstream sign-in yields. */
export interface UpstreamSignIn {
  tokens: UpstreamTokenSet;
  /** The ID token's claims, completed by userinfo when the ID token lacks an `email` (or there is none). */
  claims: Record<string, unknown>;
}

/** Sends requests to the identity provider: discovery, the authorization URL, code, refresh, userinfo, revocation. */
export interface UpstreamClient {
  readonly issuer: string;
  /** The provider's metadata, discovered once (a failure is retried on the next call). */
  metadata(): Promise<oauth.AuthorizationServer>;
  authorizationURL(as: oauth.AuthorizationServer, request: { state: string; nonce: string; codeChallenge: string; redirectUri: string }): URL;
  /** The callback's parameters after `state` and `iss` checks; an error response throws `oauth.AuthorizationResponseError`. */
  validateResponse(as: oauth.AuthorizationServer, params: URLSearchParams, state: string): URLSearchParams;
  signIn(as: oauth.AuthorizationServer, params: URLSearchParams, redirectUri: string, verifier: string, nonce: string): Promise<UpstreamSignIn>;
  refresh(refreshToken: string): Promise<UpstreamTokenSet>;
  userinfo(accessToken: string): Promise<Record<string, unknown>>;
  /** Revokes a token where the provider has a revocation endpoint; false where it has none. */
  revoke(token: string, hint: "refresh_token" | "access_token"): Promise<boolean>;
}

const isJSONObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** Turns an oauth4webapi or network failure into an {@link UpstreamError} naming what went wrong. */
export function upstreamFailure(error: unknown, doing: string): UpstreamError {
  if (error instanceof UpstreamError) return error;
  if (error instanceof oauth.ResponseBodyError) {
    const kind = error.error === "invalid_grant" ? "invalid_grant" : "refused";
    return new UpstreamError(kind, `${doing}: the identity provider answered ${error.error} (HTTP ${error.status})`, { cause: error.error });
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const invalid = error.cause.some((c) => c.parameters.error === "invalid_token");
    return new UpstreamError(invalid ? "invalid_grant" : "refused", `${doing}: the identity provider refused the token (HTTP ${error.status})`);
  }
  if (error instanceof oauth.OperationProcessingError) return new UpstreamError("invalid_response", `${doing}: ${error.message}`);
  const message = error instanceof Error ? error.message : String(error);
  return new UpstreamError("unreachable", `${doing}: the identity provider could not be reached (${message})`);
}

export function createUpstreamClient(u: ResolvedUpstream, now: () => number): UpstreamClient {
  const client: oauth.Client = { client_id: u.clientId };
  const openid = u.scopes.includes("openid");
  const given = u.fetch;
  const options = () => ({
    // oauth4webapi calls it as fetch(url, init), with an init that is a RequestInit.
    ...(given ? { [oauth.customFetch]: (url: string, init: object) => given(url, init as RequestInit) } : {}),
    ...(u.insecure ? { [oauth.allowInsecureRequests]: true } : {}),
    signal: AbortSignal.timeout(u.timeoutMs),
  });
  let discovered: Promise<oauth.AuthorizationServer> | undefined;
  let keySet: JWTVerifyGetKey | undefined;

  /**
   * The ID token's signature, against the provider's `jwks_uri`. oauth4webapi checks its claims
   * (issuer, audience, expiry, nonce) and trusts TLS for the rest (OIDC Core §3.1.3.7); the
   * signature is checked too, so a token endpoint reached over plain http (loopback, development)
   * or a misrouted answer cannot slip a forged ID token in.
   */
  const verifySignature = async (as: oauth.AuthorizationServer, idToken: string) => {
    if (!as.jwks_uri) throw new UpstreamError("invalid_response", "the provider sent an ID token but publishes no jwks_uri");
    keySet ??= createRemoteJWKSet(new URL(as.jwks_uri), {
      timeoutDuration: u.timeoutMs,
      ...(given ? { [joseFetch]: (url: string, init: object) => given(url, init as RequestInit) } : {}),
    });
    try {
      await jwtVerify(idToken, keySet, { issuer: as.issuer, audience: u.clientId });
    } catch (error) {
      throw new UpstreamError("invalid_response", `ID token: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  const discover = async (): Promise<oauth.AuthorizationServer> => {
    if (u.endpoints) {
      return {
        issuer: u.issuer,
        authorization_endpoint: u.endpoints.authorization,
        token_endpoint: u.endpoints.token,
        ...(u.endpoints.userinfo ? { userinfo_endpoint: u.endpoints.userinfo } : {}),
        ...(u.endpoints.revocation ? { revocation_endpoint: u.endpoints.revocation } : {}),
      };
    }
    const issuer = new URL(u.issuer);
    try {
      // OIDC discovery first; a provider without it may still publish RFC 8414 metadata.
      const oidc = await oauth.discoveryRequest(issuer, { ...options(), algorithm: "oidc" });
      if (oidc.status === 200) return await oauth.processDiscoveryResponse(issuer, oidc);
      await oidc.body?.cancel();
      return await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...options(), algorithm: "oauth2" }));
    } catch (error) {
      throw upstreamFailure(error, "discovery");
    }
  };

  const clientAuth = (as: oauth.AuthorizationServer): oauth.ClientAuth => {
    if (u.clientSecret === undefined) return oauth.None();
    const methods = as.token_endpoint_auth_methods_supported;
    // client_secret_basic unless the provider lists methods without it but with client_secret_post.
    if (methods && !methods.includes("client_secret_basic") && methods.includes("client_secret_post")) return oauth.ClientSecretPost(u.clientSecret);
    return oauth.ClientSecretBasic(u.clientSecret);
  };

  const tokenSet = (response: oauth.TokenEndpointResponse): UpstreamTokenSet => {
    const issuedAt = now();
    return {
      accessToken: response.access_token,
      issuedAt,
      ...(response.refresh_token ? { refreshToken: response.refresh_token } : {}),
      ...(typeof response.expires_in === "number" && response.expires_in > 0 ? { expiresAt: issuedAt + response.expires_in * 1000 } : {}),
      ...(response.scope ? { scope: response.scope } : {}),
    };
  };

  const userinfo = async (as: oauth.AuthorizationServer, accessToken: string): Promise<Record<string, unknown>> => {
    if (!as.userinfo_endpoint) throw new UpstreamError("refused", "the identity provider has no userinfo endpoint");
    try {
      const headers = new Headers({ Accept: "application/json", "User-Agent": "Portcullis" });
      const response = await oauth.protectedResourceRequest(accessToken, "GET", new URL(as.userinfo_endpoint), headers, null, options());
      if (response.status === 401) throw new UpstreamError("invalid_grant", "userinfo: the identity provider refused the access token (HTTP 401)");
      if (response.status !== 200) throw new UpstreamError("refused", `userinfo: the identity provider answered HTTP ${response.status}`);
      const body: unknown = await response.json().catch(() => undefined);
      if (!isJSONObject(body)) throw new UpstreamError("invalid_response", "userinfo: the answer is not a JSON object");
      return body;
    } catch (error) {
      throw upstreamFailure(error, "userinfo");
    }
  };

  const metadata = (): Promise<oauth.AuthorizationServer> => {
    discovered ??= discover().catch((error: unknown) => {
      discovered = undefined;
      throw error;
    });
    return discovered;
  };

  return {
    issuer: u.issuer,
    metadata,

    authorizationURL(as, request) {
      const url = new URL(as.authorization_endpoint!);
      const params = url.searchParams;
      params.set("client_id", u.clientId);
      params.set("response_type", "code");
      params.set("redirect_uri", request.redirectUri);
      params.set("scope", u.scopes.join(" "));
      params.set("state", request.state);
      params.set("code_challenge", request.codeChallenge);
      params.set("code_challenge_method", "S256");
      if (openid) params.set("nonce", request.nonce);
      // Strict providers issue no refresh token for offline_access without a fresh consent (OIDC Core §11).
      if (u.scopes.includes("offline_access")) params.set("prompt", "consent");
      for (const [name, value] of Object.entries(u.authorizationParams)) params.set(name, value);
      return url;
    },

    validateResponse: (as, params, state) => oauth.validateAuthResponse(as, client, params, state),

    async signIn(as, params, redirectUri, verifier, nonce) {
      let response: oauth.TokenEndpointResponse;
      try {
        const exchange = await oauth.authorizationCodeGrantRequest(as, client, clientAuth(as), params, redirectUri, verifier, options());
        response = await oauth.processAuthorizationCodeResponse(as, client, exchange, {
          expectedNonce: openid ? nonce : oauth.expectNoNonce,
          requireIdToken: openid && !u.endpoints,
        });
      } catch (error) {
        throw upstreamFailure(error, "code exchange");
      }
      if (response.id_token) await verifySignature(as, response.id_token);
      const tokens = tokenSet(response);
      const idClaims = oauth.getValidatedIdTokenClaims(response);
      let claims: Record<string, unknown> = idClaims ? { ...idClaims } : {};
      if ((!idClaims || idClaims.email === undefined) && as.userinfo_endpoint) {
        const info = await userinfo(as, tokens.accessToken);
        // OIDC Core §5.3.2: userinfo about another subject is not this user's.
        if (idClaims && info.sub !== idClaims.sub) throw new UpstreamError("invalid_response", "userinfo: sub differs from the ID token's");
        claims = { ...info, ...claims };
      }
      return { tokens, claims };
    },

    async refresh(refreshToken) {
      const as = await metadata();
      try {
        const response = await oauth.refreshTokenGrantRequest(as, client, clientAuth(as), refreshToken, options());
        return tokenSet(await oauth.processRefreshTokenResponse(as, client, response));
      } catch (error) {
        throw upstreamFailure(error, "refresh");
      }
    },

    async userinfo(accessToken) {
      return userinfo(await metadata(), accessToken);
    },

    async revoke(token, hint) {
      const as = await metadata();
      if (!as.revocation_endpoint) return false;
      try {
        const response = await oauth.revocationRequest(as, client, clientAuth(as), token, { ...options(), additionalParameters: { token_type_hint: hint } });
        await oauth.processRevocationResponse(response);
        return true;
      } catch (error) {
        throw upstreamFailure(error, "revocation");
      }
    },
  };
}
