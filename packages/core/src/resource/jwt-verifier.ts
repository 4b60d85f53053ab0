import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { OAuthError, type ReasonCode } from "../errors.js";
import type { AuthInfo } from "../types.js";
import { isAudience, tokenAudiences } from "../lib/resource.js";
import { verifyKnownKeys, type KeySpec } from "../lib/known-keys.js";
import { BoundedMap } from "../lib/bounded-map.js";

/** Options of {@link createJWTVerifier}. */
export interface JWTVerifierOptions {
  /** The issuer tokens must come from (`iss`, compared exactly). */
  issuer: string;
  /** Where the issuer's public keys come from: its `jwks_uri`, or a function answering the set. */
  jwks: URL | (() => Promise<JSONWebKeySet>);
  /** Accepted signature algorithms. Default `["ES256", "EdDSA"]`; never `none` or HMAC. */
  algorithms?: string[];
  /** Default 30. */
  clockToleranceSeconds?: number;
  /** Tokens whose `exp` lies further ahead than this are refused. Default 86,400. */
  maxLifetimeSeconds?: number;
  /** Verified tokens remembered until they expire, so the hot path skips signature checks. Default 10,000. */
  cacheSize?: number;
  /** Clock in milliseconds, for tests. */
  now?: () => number;
}

/** Claims of a verified RFC 9068 access token. */
export interface VerifiedClaims extends JWTPayload {
  iss: string;
  sub: string;
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope?: string;
}

const REQUIRED = ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"];
const ASYMMETRIC = new Set(["ES256", "ES384", "ES512", "EdDSA", "Ed25519", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]);

const VERIFIER_KEYS = {
  issuer: null,
  jwks: null,
  algorithms: null,
  clockToleranceSeconds: null,
  maxLifetimeSeconds: null,
  cacheSize: null,
  now: null,
} satisfies Record<keyof JWTVerifierOptions, KeySpec | null>;

/** Misconfiguration is a TypeError at construction that names the option and what it takes. */
function verifyVerifierOptions(options: JWTVerifierOptions): void {
  if (typeof options !== "object" || options === null) throw new TypeError("Portcullis: a JWT verifier takes an options object ({ issuer, jwks })");
  verifyKnownKeys(options, VERIFIER_KEYS);
  if (typeof options.issuer !== "string" || options.issuer === "") {
    throw new TypeError('Portcullis: issuer is required: the issuer identifier tokens must carry as `iss`, e.g. "https://auth.example.com"');
  }
  if (!(options.jwks instanceof URL) && typeof options.jwks !== "function") {
    throw new TypeError(
      'Portcullis: jwks is required: the issuer\'s jwks_uri as a URL (new URL("https://auth.example.com/jwks")), or a function answering the key set',
    );
  }
  for (const name of ["clockToleranceSeconds", "maxLifetimeSeconds", "cacheSize"] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isInteger(value) || value < (name === "clockToleranceSeconds" ? 0 : 1))) {
      throw new TypeError(`Portcullis: ${name} must be a ${name === "clockToleranceSeconds" ? "non-negative" : "positive"} integer`);
    }
  }
  if (options.algorithms !== undefined && !Array.isArray(options.algorithms)) throw new TypeError('Portcullis: algorithms must be a list, e.g. ["ES256"]');
  if (options.now !== undefined && typeof options.now !== "function") throw new TypeError("Portcullis: now must be a function answering milliseconds");
}

/**
 * Verifies RFC 9068 JWT access tokens for one issuer, caching verified tokens (until they
 * expire) and failed ones (for a minute). Made by {@link createJWTVerifier}.
 */
export interface JWTVerifier {
  /**
   * Checks `token` for `resource` without throwing for a bad token: verifies the signature
   * (against the allowed algorithms), `typ: at+jwt`, the issuer, expiry with the clock
   * tolerance, the required claims and their types, and that `resource` is one of its audiences.
   * Without `resource`, any audience is accepted (the issuer inspecting its own tokens).
   *
   * @param token The access token, as sent after `Bearer `.
   * @param resource The canonical URI of the protected resource the token must be meant for.
   * @returns The token's claims, or the `OAuthError("invalid_token")` to answer with; its
   *   `reason` says why (a {@link ReasonCode}: `token_expired`, `signature_invalid`, `key_unknown`,
   *   `issuer_mismatch`, `audience_mismatch`, `claims_invalid`, ...) and `cause` holds jose's error.
   * @throws When the keys cannot be loaded (e.g. the `jwks_uri` is unreachable): not the
   *   token's fault, so not answered as `invalid_token`.
   *
   * @example
   * ```ts
   * const verifier = createJWTVerifier({ issuer: "https://auth.example.com", jwks: new URL("https://auth.example.com/jwks") });
   * const result = await verifier.check(token, "https://mcp.example.com/mcp");
   * if (result instanceof OAuthError) console.log("refused:", result.reason);
   * else console.log(result.sub, result.scope);
   * ```
   */
  check(token: string, resource?: string): Promise<VerifiedClaims | OAuthError>;
  /**
   * Like {@link JWTVerifier.check}, throwing the error instead.
   *
   * @param token The access token, as sent after `Bearer `.
   * @param resource The canonical URI of the protected resource the token must be meant for.
   * @returns The token's verified claims.
   * @throws {OAuthError} `invalid_token` when the token is invalid, expired or meant for
   *   another resource.
   *
   * @example
   * ```ts
   * const claims = await verifier.verify(token, "https://mcp.example.com/mcp");
   * ```
   */
  verify(token: string, resource?: string): Promise<VerifiedClaims>;
  /**
   * {@link JWTVerifier.check} from what the verifier already holds, without I/O: the verdict on a
   * token it verified (or refused) before, while its keys are known to be current.
   *
   * @param token The access token, as sent after `Bearer `.
   * @param resource The canonical URI of the protected resource the token must be meant for.
   * @returns The claims or the error, as `check` would answer; `undefined` when only `check` can
   *   tell (a token not seen, an expired entry, keys due for a re-read).
   */
  checkCached(token: string, resource?: string): VerifiedClaims | OAuthError | undefined;
  /**
   * Forgets a cached verified token, so the next check verifies it again (after revocation).
   *
   * @param token The access token to drop from the cache.
   */
  forget(token: string): void;
}

/**
 * Verifies RFC 9068 JWT access tokens: signature by the issuer's key (algorithm allow-list),
 * `typ: at+jwt`, issuer, expiry with bounded skew, required claims, and the audience.
 *
 * Does not check revocation: pair it with the authorization server's grant check, or with
 * introspection, where revocation must take effect before expiry.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export function createJWTVerifier(options: JWTVerifierOptions): JWTVerifier {
  verifyVerifierOptions(options);
  let keySet: JWTVerifyGetKey | undefined;
  const source = options.jwks;
  if (source instanceof URL) {
    return verifierWithKeys(options, {
      keys: async () => {
        keySet ??= createRemoteJWKSet(source);
        return keySet;
      },
    });
  }
  return verifierWithKeys(options, {
    keys: async () => {
      keySet ??= createLocalJWKSet(await source());
      return keySet;
    },
    // A key we have not seen may come from a rotation: reload the local set once.
    reload: async () => {
      keySet = undefined;
      return true;
    },
  });
}

/**
 * A verifier over the authorization server's own key set: `keys` answers the same object until the
 * set changes, and re-reads its store when called with `reload`. It is asked before every check,
 * and a changed set drops every remembered verdict, so a withdrawn key's tokens are refused at once
 * and a token refused for an unknown key is checked again.
 *
 * @internal The server's own verifier; apps use {@link createJWTVerifier}.
 */
export function createKeySetVerifier(
  options: Omit<JWTVerifierOptions, "jwks">,
  keys: (options?: { reload?: boolean }) => Promise<JSONWebKeySet>,
  loadedKeys?: () => JSONWebKeySet | undefined,
): JWTVerifier {
  /** The live key set last seen: another object means the keys changed. */
  let liveSet: JSONWebKeySet | undefined;
  let keySet: JWTVerifyGetKey | undefined;
  const follow = async (reload?: boolean): Promise<boolean> => {
    const set = await keys(reload ? { reload } : undefined);
    if (set === liveSet) return false;
    liveSet = set;
    keySet = createLocalJWKSet(set);
    return true;
  };
  return verifierWithKeys(options, {
    keys: async () => {
      if (!keySet) await follow();
      return keySet!;
    },
    current: () => follow(),
    // Unchanged only when the set loaded is still fresh and is the one verdicts were made with.
    ...(loadedKeys ? { currentNow: () => (liveSet !== undefined && loadedKeys() === liveSet ? false : undefined) } : {}),
    // A key we have not seen may come from a rotation: re-read the store once.
    reload: () => follow(true),
  });
}

/**
 * Where a verifier's keys come from: `keys` answers the current key resolver; `reload`, when
 * given, is asked once for a token whose `kid` matches no key, and answers whether it loaded the
 * keys again (so the token is checked once more); `current`, when given, is asked before every
 * check and answers whether the keys changed since. Either answering `true` drops every
 * remembered verdict. A source with `current` also needs `currentNow` for cached verdicts to be
 * answered without I/O: `false` when the keys are known unchanged, `undefined` when only
 * `current` can tell.
 */
export interface KeySource {
  keys(): Promise<JWTVerifyGetKey>;
  reload?(): Promise<boolean>;
  current?(): Promise<boolean>;
  currentNow?(): false | undefined;
}

/** The verifier of {@link createJWTVerifier}, over any key source (the remote verifier brings its own). */
export function verifierWithKeys(options: Omit<JWTVerifierOptions, "jwks">, source: KeySource): JWTVerifier {
  const algorithms = options.algorithms ?? ["ES256", "EdDSA"];
  for (const alg of algorithms) {
    if (!ASYMMETRIC.has(alg)) throw new TypeError(`Portcullis: algorithm ${alg} is not an allowed asymmetric algorithm`);
  }
  const tolerance = options.clockToleranceSeconds ?? 30;
  const maxLifetime = options.maxLifetimeSeconds ?? 86_400;
  const cacheSize = options.cacheSize ?? 10_000;
  const now = options.now ?? Date.now;
  const issuer = options.issuer;
  /** Verified tokens, with their audiences already canonicalised. */
  const cache = new BoundedMap<string, { claims: VerifiedClaims; audiences: string[] }>(cacheSize);
  /**
   * Tokens that failed, remembered for a minute so a replayed bad token costs a lookup rather
   * than a signature check, and answered with the same error object (no new stack each time).
   */
  const failures = new BoundedMap<string, { until: number; error: OAuthError }>(cacheSize);
  const remember = <K, V>(map: BoundedMap<K, V>, key: K, value: V) => map.set(key, value);

  const forgetVerdicts = () => {
    cache.clear();
    failures.clear();
  };

  const verifySignature = async (token: string): Promise<VerifiedClaims> => {
    const verifyOptions = {
      issuer,
      typ: "at+jwt",
      algorithms,
      clockTolerance: tolerance,
      currentDate: new Date(now()),
      requiredClaims: REQUIRED,
    };
    try {
      return (await jwtVerify(token, await source.keys(), verifyOptions)).payload as VerifiedClaims;
    } catch (error) {
      if ((error as { code?: string }).code === "ERR_JWKS_NO_MATCHING_KEY" && (await source.reload?.())) {
        forgetVerdicts();
        return (await jwtVerify(token, await source.keys(), verifyOptions)).payload as VerifiedClaims;
      }
      throw error;
    }
  };
  const wrongAudience = OAuthError.because("audience_mismatch", "the access token is not meant for this resource");

  /** A remembered verdict, when the keys are known current without I/O; never removes anything. */
  const cachedEntry = (token: string): { claims: VerifiedClaims; audiences: string[] } | OAuthError | undefined => {
    if (source.current && source.currentNow?.() !== false) return undefined;
    const nowMs = now();
    const hit = cache.get(token);
    if (hit) return hit.claims.exp + tolerance > nowMs / 1000 ? hit : undefined;
    const failed = failures.get(token);
    return failed && failed.until > nowMs ? failed.error : undefined;
  };

  /** The verified entry for a token, or the error to answer with; never throws for a bad token. */
  const entryFor = async (token: string): Promise<{ claims: VerifiedClaims; audiences: string[] } | OAuthError> => {
    // Keys that change (the server's own): a withdrawn key's tokens must not stay cached as verified.
    if (source.current && (await source.current())) forgetVerdicts();
    const nowMs = now();
    const nowSeconds = nowMs / 1000;
    const hit = cache.get(token);
    if (hit) {
      if (hit.claims.exp + tolerance > nowSeconds) return hit;
      cache.delete(token);
    }
    const failed = failures.get(token);
    if (failed) {
      if (failed.until > nowMs) return failed.error;
      failures.delete(token);
    }
    let claims: VerifiedClaims;
    try {
      claims = await verifySignature(token);
    } catch (error) {
      // jose's verdicts on the token (ERR_JWT_*, ERR_JWS_*, ERR_JWKS_NO_MATCHING_KEY) are final and
      // remembered; anything else (the key store unreachable) is not the token's fault.
      const code = (error as { code?: unknown }).code;
      if (typeof code !== "string" || !code.startsWith("ERR_")) throw error;
      const answer = OAuthError.because(joseReason(error as { code: string; claim?: unknown }), "the access token is invalid or expired", { cause: error });
      remember(failures, token, { until: nowMs + 60_000, error: answer });
      return answer;
    }
    // Beyond jose: the claims we read must have their types, and a token "issued" in the future
    // is not one we issued (jose checks iat only against maxTokenAge).
    if (
      typeof claims.client_id !== "string" ||
      (claims.scope !== undefined && typeof claims.scope !== "string") ||
      claims.exp > nowSeconds + maxLifetime ||
      claims.iat > nowSeconds + tolerance
    ) {
      const answer = OAuthError.because("claims_invalid", "the access token is invalid or expired");
      remember(failures, token, { until: nowMs + 60_000, error: answer });
      return answer;
    }
    const entry = { claims, audiences: tokenAudiences(claims.aud) };
    remember(cache, token, entry);
    return entry;
  };

  return {
    async check(token: string, resource?: string): Promise<VerifiedClaims | OAuthError> {
      const entry = await entryFor(token);
      if (entry instanceof OAuthError) return entry;
      if (resource !== undefined && !isAudience(entry.audiences, resource)) return wrongAudience;
      return entry.claims;
    },
    async verify(token: string, resource?: string): Promise<VerifiedClaims> {
      const result = await this.check(token, resource);
      if (result instanceof OAuthError) throw result;
      return result;
    },
    checkCached(token: string, resource?: string): VerifiedClaims | OAuthError | undefined {
      const entry = cachedEntry(token);
      if (entry === undefined || entry instanceof OAuthError) return entry;
      if (resource !== undefined && !isAudience(entry.audiences, resource)) return wrongAudience;
      return entry.claims;
    },
    forget(token: string): void {
      cache.delete(token);
    },
  };
}

/** The `AuthInfo` for verified claims. */
export function authInfoFromClaims(token: string, claims: VerifiedClaims, resource: string): AuthInfo {
  const { iss, sub, jti, exp, iat, aud: _aud, client_id, scope, nbf: _nbf, gid: _gid, ...rest } = claims;
  return {
    token,
    clientId: client_id,
    scopes: scope ? scope.split(" ") : [],
    expiresAt: exp,
    resource: new URL(resource),
    extra: { ...rest, sub, iss, jti, iat },
  };
}

/** A `TokenVerifier` for a resource server that trusts one issuer's JWTs (no revocation check). */
export function jwtTokenVerifier(options: JWTVerifierOptions) {
  const verifier = createJWTVerifier(options);
  const infos = new WeakMap<object, AuthInfo>();
  const infoFor = (token: string, claims: VerifiedClaims | OAuthError, resource: string): AuthInfo | OAuthError => {
    if (claims instanceof OAuthError) return claims;
    let info = infos.get(claims);
    if (!info) {
      info = authInfoFromClaims(token, claims, resource);
      // Shared by every request that presents this token: nobody may change what it grants.
      Object.freeze(info.scopes);
      infos.set(claims, info);
    }
    return info;
  };
  const checkAccessToken = async (token: string, { resource }: { resource: string }): Promise<AuthInfo | OAuthError> =>
    infoFor(token, await verifier.check(token, resource), resource);
  return {
    issuer: options.issuer,
    checkAccessToken,
    checkCachedAccessToken(token: string, { resource }: { resource: string }): AuthInfo | OAuthError | undefined {
      const claims = verifier.checkCached(token, resource);
      return claims === undefined ? undefined : infoFor(token, claims, resource);
    },
    async verifyAccessToken(token: string, options: { resource: string }): Promise<AuthInfo> {
      const result = await checkAccessToken(token, options);
      if (result instanceof OAuthError) throw result;
      return result;
    },
  };
}

/** The stable reason for one of jose's verdicts on a token (its `ERR_*` code, and the claim it names). */
function joseReason(error: { code: string; claim?: unknown }): ReasonCode {
  switch (error.code) {
    case "ERR_JWT_EXPIRED":
      return "token_expired";
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return "signature_invalid";
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return "key_unknown";
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return "algorithm_not_allowed";
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      if (error.claim === "iss") return "issuer_mismatch";
      if (error.claim === "aud") return "audience_mismatch";
      if (error.claim === "nbf") return "token_not_yet_valid";
      return "claims_invalid";
    default:
      return "token_malformed";
  }
}
