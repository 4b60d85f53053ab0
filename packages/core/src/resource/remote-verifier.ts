import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import { OAuthError } from "../errors.js";
import { verifyKnownKeys, type KeySpec } from "../lib/known-keys.js";
import type { AuthInfo, TokenVerifier } from "../types.js";
import { createIntrospector } from "./introspection.js";
import { AuthorizationServerUnavailableError, discoverIssuer, fetchIssuerJSON, isIssuerURL, type IssuerHTTP, type IssuerMetadata } from "./issuer-client.js";
import { verifierWithKeys, type VerifiedClaims } from "./jwt-verifier.js";
import { scopesOfClaims } from "./remote-claims.js";

/** Options of {@link createRemoteVerifier}. */
export interface RemoteVerifierOptions {
  /**
   * The external authorization server's issuer identifier, exactly as its metadata's `issuer`
   * (and JWT access tokens' `iss`). `https`, or `http` on a loopback host for local development.
   * Its metadata is found by OpenID Connect discovery (`/.well-known/openid-configuration`),
   * falling back to RFC 8414 (`/.well-known/oauth-authorization-server`).
   */
  issuer: string;
  /**
   * RFC 7662 introspection for opaque access tokens: this resource server's client credentials at
   * the issuer's `introspection_endpoint` (sent with `client_secret_basic`, or
   * `client_secret_post` when the issuer offers only that). Without it (or with `false`), only
   * JWT access tokens are accepted.
   */
  introspection?:
    | false
    | {
        clientId: string;
        clientSecret: string;
        /** Longest an active answer is reused, never past the token's `exp`. Default 60. */
        cacheSeconds?: number;
        /** How long an inactive answer is reused. Default 10. */
        inactiveCacheSeconds?: number;
      };
  /**
   * Signature algorithms accepted for JWT access tokens. Default: every asymmetric one
   * (`RS256`… `PS512`, `ES256`… `ES512`, `EdDSA`); never `none` or HMAC.
   */
  algorithms?: string[];
  /** Default 30. */
  clockToleranceSeconds?: number;
  /** JWTs whose `exp` lies further ahead than this are refused. Default 86,400. */
  maxLifetimeSeconds?: number;
  /** Verified JWTs and introspection answers remembered (each, bounded). Default 10,000. */
  cacheSize?: number;
  /** How long each request to the issuer (metadata, keys, introspection) may take. Default 5,000. */
  timeoutMs?: number;
  /** The largest answer read from the issuer. Default 262,144. */
  maxResponseBytes?: number;
  /** The `fetch` used to reach the issuer (a Worker's service binding, a test double). Default: the global one. */
  fetch?: typeof fetch;
  /** Clock in milliseconds, for tests. */
  now?: () => number;
}

/**
 * Verifies access tokens issued by an external authorization server: JWT access tokens (RFC 9068)
 * against the issuer's published keys, opaque ones by RFC 7662 introspection. Made by
 * {@link createRemoteVerifier}; pass it to `createResourceGuard` as `verifier`, and the guard's
 * protected resource metadata names its issuer.
 */
export interface RemoteVerifier extends TokenVerifier {
  /** The issuer tokens must come from: the `issuer` option. */
  readonly issuer: string;
  /**
   * Checks `token` for `resource` without throwing for a bad token. A token in JWT form is
   * verified locally against the issuer's `jwks_uri` (signature with an allowed algorithm,
   * `typ: at+jwt`, `iss` exactly the issuer, expiry, `aud` including `resource`, no `cnf`); any
   * other token is introspected (`active`, `iss`, `exp`, `aud` including `resource`, a bearer
   * token). Scopes come from `scope` (or `scp`).
   *
   * Keys are fetched once and kept for ten minutes; a `kid` they lack fetches them again, at
   * most every 30 seconds. A failed refresh keeps the keys already held.
   *
   * @param token The access token, as sent after `Bearer `.
   * @param options `resource`: the canonical URI of the protected resource.
   * @returns The `AuthInfo`, or the `OAuthError("invalid_token")` to answer with; its `reason`
   *   says why (a `ReasonCode`: `audience_mismatch`, `token_inactive`, `token_expired`, …).
   * @throws {AuthorizationServerUnavailableError} When the issuer cannot be asked (unreachable,
   *   slow, a malformed answer): not the token's fault; the guard answers 503.
   *
   * @example
   * ```ts
   * const result = await verifier.checkAccessToken(token, { resource: "https://mcp.example.com/mcp" });
   * if (result instanceof OAuthError) console.log("refused:", result.reason);
   * ```
   */
  checkAccessToken(token: string, options: { resource: string }): Promise<AuthInfo | OAuthError>;
  /**
   * Like {@link RemoteVerifier.checkAccessToken}, throwing the `invalid_token` error instead.
   *
   * @param token The access token.
   * @param options `resource`: the canonical URI of the protected resource.
   * @returns The verified `AuthInfo`.
   * @throws {OAuthError} `invalid_token` for a token that is refused.
   * @throws {AuthorizationServerUnavailableError} When the issuer cannot be asked.
   */
  verifyAccessToken(token: string, options: { resource: string }): Promise<AuthInfo>;
  /**
   * {@link RemoteVerifier.checkAccessToken} without I/O, for a JWT verified (or refused) moments
   * ago while the issuer's metadata is still fresh: the guard asks it first.
   *
   * @param token The access token.
   * @param options `resource`: the canonical URI of the protected resource.
   * @returns What `checkAccessToken` would answer, or `undefined` when only it can tell (a token
   *   not seen, an opaque token, metadata due for a reload).
   */
  checkCachedAccessToken(token: string, options: { resource: string }): AuthInfo | OAuthError | undefined;
  /**
   * The issuer's metadata, discovered on first use and kept for an hour. Call it at start to
   * learn early that the issuer is unreachable or misconfigured.
   *
   * @returns The fields a resource server reads (`issuer`, `jwks_uri`, `introspection_endpoint`).
   * @throws {AuthorizationServerUnavailableError} When no valid metadata document is found.
   */
  metadata(): Promise<IssuerMetadata>;
  /**
   * Forgets what is cached about a token (a verified JWT, an introspection answer), so the next
   * check asks again.
   *
   * @param token The access token.
   */
  forget(token: string): void;
}

const ALL_ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
const METADATA_MAX_AGE_MS = 3_600_000;
const KEYS_MAX_AGE_MS = 600_000;
const KEYS_COOLDOWN_MS = 30_000;
/** After a failed fetch with nothing cached, callers within this window get the same failure. */
const FAILURE_HOLD_MS = 5_000;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

const REMOTE_KEYS = {
  issuer: null,
  introspection: { clientId: null, clientSecret: null, cacheSeconds: null, inactiveCacheSeconds: null },
  algorithms: null,
  clockToleranceSeconds: null,
  maxLifetimeSeconds: null,
  cacheSize: null,
  timeoutMs: null,
  maxResponseBytes: null,
  fetch: null,
  now: null,
} satisfies Record<keyof RemoteVerifierOptions, KeySpec | null>;

const isNonNegativeInteger = (value: unknown) => Number.isInteger(value) && (value as number) >= 0;

/** Misconfiguration is a TypeError at construction that names the option and what it takes. */
function verifyRemoteOptions(options: RemoteVerifierOptions): void {
  if (typeof options !== "object" || options === null) throw new TypeError("Portcullis: createRemoteVerifier takes an options object ({ issuer })");
  verifyKnownKeys(options, REMOTE_KEYS);
  if (typeof options.issuer !== "string" || !isIssuerURL(options.issuer) || new URL(options.issuer).search !== "") {
    throw new TypeError(
      `Portcullis: issuer must be the authorization server's issuer identifier, an https URL without query or fragment (http only on localhost, 127.0.0.1 or [::1]), got ${JSON.stringify(options.issuer)}`,
    );
  }
  const introspection = options.introspection;
  if (introspection !== undefined && introspection !== false) {
    if (typeof introspection !== "object" || introspection === null)
      throw new TypeError("Portcullis: introspection takes { clientId, clientSecret }, or false");
    for (const name of ["clientId", "clientSecret"] as const) {
      if (typeof introspection[name] !== "string" || introspection[name] === "")
        throw new TypeError(`Portcullis: introspection.${name} is required: this resource server's client credentials at the issuer`);
    }
    for (const name of ["cacheSeconds", "inactiveCacheSeconds"] as const) {
      if (introspection[name] !== undefined && !isNonNegativeInteger(introspection[name]))
        throw new TypeError(`Portcullis: introspection.${name} must be a non-negative integer`);
    }
  }
  for (const name of ["clockToleranceSeconds", "maxLifetimeSeconds", "cacheSize", "timeoutMs", "maxResponseBytes"] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isInteger(value) || value < (name === "clockToleranceSeconds" ? 0 : 1))) {
      throw new TypeError(`Portcullis: ${name} must be a ${name === "clockToleranceSeconds" ? "non-negative" : "positive"} integer`);
    }
  }
  if (options.algorithms !== undefined && (!Array.isArray(options.algorithms) || options.algorithms.length === 0)) {
    throw new TypeError('Portcullis: algorithms must be a non-empty list, e.g. ["RS256"]');
  }
  for (const name of ["fetch", "now"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "function") throw new TypeError(`Portcullis: ${name} must be a function`);
  }
}

/**
 * Keeps the latest value of an asynchronous load: one load at a time, reused until `maxAgeMs`;
 * when a reload fails the value held is kept (and tried again after `retryMs`); with nothing held,
 * the failure is answered for {@link FAILURE_HOLD_MS} without asking again.
 */
function cachedLoad<T>(load: () => Promise<T>, now: () => number, maxAgeMs: number, retryMs: number) {
  let held: { value: T; loadedAt: number; refreshAt: number } | undefined;
  let failed: { until: number; error: unknown } | undefined;
  let inflight: Promise<T> | undefined;
  const fetchNow = (): Promise<T> =>
    (inflight ??= load()
      .then((value) => {
        const at = now();
        held = { value, loadedAt: at, refreshAt: at + maxAgeMs };
        failed = undefined;
        return value;
      })
      .catch((error: unknown) => {
        if (!held) failed = { until: now() + FAILURE_HOLD_MS, error };
        throw error;
      })
      .finally(() => (inflight = undefined)));
  return {
    /** The value held, while it needs no reload; otherwise `undefined`. */
    peek(): T | undefined {
      return held && now() < held.refreshAt ? held.value : undefined;
    },
    async get(): Promise<T> {
      if (held && now() < held.refreshAt) return held.value;
      if (!held && failed && now() < failed.until) throw failed.error;
      try {
        return await fetchNow();
      } catch (error) {
        if (!held) throw error;
        held.refreshAt = now() + retryMs;
        return held.value;
      }
    },
    /** Loads again unless the value held is younger than `minAgeMs`; answers whether it did. */
    async refresh(minAgeMs: number): Promise<boolean> {
      if (held && now() - held.loadedAt < minAgeMs) return false;
      await fetchNow();
      return true;
    },
  };
}

/**
 * A verifier for tokens of an external authorization server, for a resource server whose
 * authorization server is someone else's: JWT access tokens (RFC 9068) through the issuer's
 * `jwks_uri`, opaque ones through RFC 7662 introspection with the resource server's client
 * credentials. Requests to the issuer are bounded in time (`timeoutMs`) and size
 * (`maxResponseBytes`) and follow no redirects; the issuer is the operator's choice, so they get
 * no further address policy.
 *
 * Does not check the revocation of a JWT access token before it expires: introspection does, for
 * opaque tokens, within `introspection.cacheSeconds`.
 *
 * @param options The issuer, and the introspection credentials for opaque tokens.
 * @throws {TypeError} When an option is missing, unknown or malformed; the message names it.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2
 * @example
 * ```ts
 * const verifier = createRemoteVerifier({ issuer: "https://login.example.com" });
 * const guard = createResourceGuard({ resource: "https://mcp.example.com/mcp", verifier, requiredScopes: ["mcp:tools"] });
 * ```
 */
export function createRemoteVerifier(options: RemoteVerifierOptions): RemoteVerifier {
  verifyRemoteOptions(options);
  const issuer = options.issuer;
  const now = options.now ?? Date.now;
  const http: IssuerHTTP = {
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    timeoutMs: options.timeoutMs ?? 5_000,
    maxBytes: options.maxResponseBytes ?? 262_144,
  };
  const cacheSize = options.cacheSize ?? 10_000;
  const tolerance = options.clockToleranceSeconds ?? 30;

  const metadata = cachedLoad(() => discoverIssuer(http, issuer), now, METADATA_MAX_AGE_MS, KEYS_COOLDOWN_MS);
  const keySet = cachedLoad<JWTVerifyGetKey>(
    async () => {
      const { jwks_uri } = await metadata.get();
      if (!jwks_uri) throw new AuthorizationServerUnavailableError(`${issuer} publishes no jwks_uri`);
      const set = await fetchIssuerJSON(http, jwks_uri);
      if (!Array.isArray(set.keys)) throw new AuthorizationServerUnavailableError(`${jwks_uri} is not a JWK set`);
      return createLocalJWKSet(set as unknown as JSONWebKeySet);
    },
    now,
    KEYS_MAX_AGE_MS,
    KEYS_COOLDOWN_MS,
  );
  const jwt = verifierWithKeys(
    {
      issuer,
      algorithms: options.algorithms ?? ALL_ASYMMETRIC,
      clockToleranceSeconds: tolerance,
      ...(options.maxLifetimeSeconds === undefined ? {} : { maxLifetimeSeconds: options.maxLifetimeSeconds }),
      cacheSize,
      now,
    },
    { keys: () => keySet.get(), reload: () => keySet.refresh(KEYS_COOLDOWN_MS) },
  );
  const settings = options.introspection || undefined;
  const introspector = settings
    ? createIntrospector(
        {
          issuer,
          clientId: settings.clientId,
          clientSecret: settings.clientSecret,
          activeCacheMs: (settings.cacheSeconds ?? 60) * 1000,
          inactiveCacheMs: (settings.inactiveCacheSeconds ?? 10) * 1000,
          toleranceSeconds: tolerance,
          cacheSize,
          now,
        },
        http,
        () => metadata.get(),
      )
    : undefined;

  /** One `AuthInfo` per verified claims object, frozen: every request with this token shares it. */
  const infos = new WeakMap<object, AuthInfo | OAuthError>();
  const authInfoOf = (token: string, claims: VerifiedClaims, resource: string): AuthInfo | OAuthError => {
    let info = infos.get(claims);
    if (!info) {
      const scopes = scopesOfClaims(claims);
      if (scopes === undefined) {
        info = OAuthError.because("claims_invalid", "the access token is invalid or expired");
      } else if (claims.cnf !== undefined) {
        // Bound to a key (DPoP, mTLS): presented as a bearer token, it may have been stolen.
        info = OAuthError.because("token_not_bearer", "the access token is not a bearer token");
      } else {
        const { iss, sub, jti, exp, iat, aud: _aud, client_id, scope: _scope, scp: _scp, nbf: _nbf, ...rest } = claims;
        info = {
          token,
          clientId: client_id,
          scopes: Object.freeze(scopes) as string[],
          expiresAt: exp,
          resource: new URL(resource),
          extra: { ...rest, sub, iss, jti, iat },
        };
      }
      infos.set(claims, info);
    }
    return info;
  };

  const opaqueRefused = OAuthError.because("token_opaque_unsupported", "the access token is invalid or expired");

  const checkAccessToken = async (token: string, { resource }: { resource: string }): Promise<AuthInfo | OAuthError> => {
    if (JWT_SHAPE.test(token)) {
      // A JWT goes to the keys when the issuer publishes them, else to introspection.
      const { jwks_uri } = await metadata.get();
      if (jwks_uri || !introspector) {
        const claims = await jwt.check(token, resource);
        return claims instanceof OAuthError ? claims : authInfoOf(token, claims, resource);
      }
    }
    if (!introspector) return opaqueRefused;
    return introspector.check(token, resource);
  };

  return {
    issuer,
    checkAccessToken,
    checkCachedAccessToken(token, { resource }) {
      if (!JWT_SHAPE.test(token)) return undefined;
      // The same route checkAccessToken takes: the keys only while the metadata says so.
      const held = metadata.peek();
      if (!held || !(held.jwks_uri || !introspector)) return undefined;
      const claims = jwt.checkCached(token, resource);
      if (claims === undefined) return undefined;
      return claims instanceof OAuthError ? claims : authInfoOf(token, claims, resource);
    },
    async verifyAccessToken(token, options) {
      const result = await checkAccessToken(token, options);
      if (result instanceof OAuthError) throw result;
      return result;
    },
    metadata: () => metadata.get(),
    forget(token) {
      jwt.forget(token);
      introspector?.forget(token);
    },
  };
}
