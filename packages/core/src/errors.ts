/** The RFC error codes Portcullis answers with (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 7591 §3.2.2; RFC 8707 §2; RFC 7009 §2.2.1). */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "unsupported_token_type"
  | "invalid_scope"
  | "invalid_target"
  | "invalid_token"
  | "insufficient_scope"
  | "invalid_client_metadata"
  | "invalid_redirect_uri"
  | "access_denied"
  | "login_required"
  | "interaction_required"
  | "consent_required"
  | "temporarily_unavailable"
  | "server_error";

const STATUS: Partial<Record<OAuthErrorCode, number>> = {
  invalid_client: 401,
  invalid_token: 401,
  insufficient_scope: 403,
  access_denied: 403,
  temporarily_unavailable: 503,
  server_error: 500,
};

/**
 * Every internal reason, once: the RFC error it is answered with, and the status where it is not
 * that error's usual one. The keys are stable codes (a code's meaning never changes, none is
 * reused): they go to `onError` and `onEvent`, never to the client.
 */
const REASONS = {
  // Client authentication: token, introspection and revocation endpoints (RFC 6749 §2.3, RFC 7523).
  /** Neither the body nor HTTP Basic names a client. */
  client_id_missing: { error: "invalid_client" },
  /** No client has this `client_id` (at the authorization endpoint too, where it is a 400 page). */
  client_unknown: { error: "invalid_client" },
  /** The `client_id` in the body differs from the one in HTTP Basic. */
  client_id_mismatch: { error: "invalid_client" },
  /** An HTTP Basic header that does not decode to `id:secret`. */
  basic_malformed: { error: "invalid_client" },
  /** The client authenticated another way than its `token_endpoint_auth_method`. */
  auth_method_mismatch: { error: "invalid_client" },
  /** The client secret is wrong. */
  secret_mismatch: { error: "invalid_client" },
  /** A client assertion without an `iss`, or naming another client than the body's `client_id`. */
  assertion_issuer_mismatch: { error: "invalid_client" },
  /** A client assertion jose refused (signature, `aud`, `exp`, algorithm, ...); the error's `cause` is jose's. */
  assertion_invalid: { error: "invalid_client" },
  /** A client assertion living longer than Portcullis remembers a `jti`. */
  assertion_lifetime_too_long: { error: "invalid_client" },
  /** A client assertion without a usable `jti`. */
  assertion_jti_invalid: { error: "invalid_client" },
  /** A client assertion whose `jti` was seen before. */
  assertion_replayed: { error: "invalid_client" },
  /** A `private_key_jwt` client with neither `jwks` nor `jwks_uri`. */
  no_client_keys: { error: "invalid_client" },
  /** The client's `jwks_uri` could not be fetched under the outbound policy; the `cause` says why. */
  jwks_uri_unavailable: { error: "invalid_client" },
  /** The client's `jwks_uri` answered something other than a JWK set. */
  jwks_uri_not_a_key_set: { error: "invalid_client" },
  /** A public client called introspection, which needs a confidential one. */
  public_client: { error: "invalid_client" },
  /** A `client_id` URL refused before anything was fetched (CIMD §3). */
  cimd_url_invalid: { error: "invalid_client", status: 400 },
  /** A client metadata document that could not be fetched; the `cause` says why. */
  cimd_fetch_failed: { error: "invalid_client", status: 400 },
  /** A client metadata document that is not valid client metadata; the description says what. */
  cimd_document_invalid: { error: "invalid_client", status: 400 },

  // The authorization request.
  /** A `redirect_uri` that matches none the client registered. */
  redirect_uri_unregistered: { error: "invalid_request" },
  /** A client not approved for `client_credentials` (a registration policy decides). */
  machine_client_not_approved: { error: "unauthorized_client" },

  // Grants at the token endpoint (RFC 6749 §5.2 `invalid_grant`).
  /** An authorization code too long to be one. */
  code_malformed: { error: "invalid_grant" },
  /** An authorization code never issued, or already gone. */
  code_unknown: { error: "invalid_grant" },
  /** A code or refresh token issued to another client. */
  client_mismatch: { error: "invalid_grant" },
  /** A `code_verifier` that is not 43 to 128 unreserved characters. */
  verifier_malformed: { error: "invalid_grant" },
  /** The `code_verifier` does not hash to the `code_challenge`. */
  pkce_mismatch: { error: "invalid_grant" },
  /** The token request's `redirect_uri` differs from the authorization request's. */
  redirect_uri_mismatch: { error: "invalid_grant" },
  /** The code expired, or another request redeemed it at the same moment. */
  code_expired_or_raced: { error: "invalid_grant" },
  /** A code redeemed a second time: the grant it made is revoked. */
  code_replayed: { error: "invalid_grant" },
  /** The grant was revoked because its code was replayed while it was being issued. */
  grant_revoked_by_replay: { error: "invalid_grant" },
  /** A refresh token too long to be one. */
  refresh_token_malformed: { error: "invalid_grant" },
  /** A refresh token never issued, or expired. */
  refresh_token_unknown: { error: "invalid_grant" },
  /** Another request rotated this refresh token at the same moment. */
  refresh_token_raced: { error: "invalid_grant" },
  /** A rotated refresh token used again after its retry window: the grant is revoked. */
  refresh_token_reused: { error: "invalid_grant" },
  /** The grant behind a refresh token was revoked. */
  grant_revoked: { error: "invalid_grant" },

  // Registration (RFC 7591, RFC 7592): a Bearer token the endpoint requires.
  /** Registration requires an initial access token and none was sent. */
  initial_access_token_missing: { error: "invalid_token" },
  /** The initial access token is wrong. */
  initial_access_token_invalid: { error: "invalid_token" },
  /** A registration management request without its registration access token. */
  registration_token_missing: { error: "invalid_token" },
  /** A registration access token that matches no registration. */
  registration_token_invalid: { error: "invalid_token" },

  // Access tokens, at the guard and introspection (RFC 6750 §3.1 `invalid_token`).
  /** Not a JWS access token Portcullis can read (or jose refused its form). */
  token_malformed: { error: "invalid_token" },
  /** The access token expired (past the clock tolerance). */
  token_expired: { error: "invalid_token" },
  /** The access token's `nbf` is still in the future. */
  token_not_yet_valid: { error: "invalid_token" },
  /** The access token's signature does not verify. */
  signature_invalid: { error: "invalid_token" },
  /** No key of the issuer's set matches the access token's `kid` (after one reload). */
  key_unknown: { error: "invalid_token" },
  /** The access token is signed with an algorithm not allowed. */
  algorithm_not_allowed: { error: "invalid_token" },
  /** The access token's `iss` is not the issuer. */
  issuer_mismatch: { error: "invalid_token" },
  /** The access token is not meant for this resource (`aud`). */
  audience_mismatch: { error: "invalid_token" },
  /** A claim missing or of the wrong type (`client_id`, `scope`, `typ`), or a lifetime longer than allowed. */
  claims_invalid: { error: "invalid_token" },
  /** The grant the access token belongs to was revoked. */
  token_revoked: { error: "invalid_token" },
  /** The authorization server's introspection answered the token `active: false`. */
  token_inactive: { error: "invalid_token" },
  /** The access token is bound to a key (`cnf`: DPoP, mTLS) or not of type Bearer. */
  token_not_bearer: { error: "invalid_token" },
  /** An opaque access token where no introspection is configured. */
  token_opaque_unsupported: { error: "invalid_token" },

  // Limits.
  /** A rate limit: 429 with `Retry-After`. */
  rate_limited: { error: "temporarily_unavailable", status: 429 },

  // Reported to `onError` only, never answered.
  /** The identity provider's callback did not verify (state, cookie, `iss` or the response itself). */
  upstream_callback_invalid: { error: "invalid_request" },
  /** The identity provider refused a code or refresh token as invalid, expired or revoked. */
  upstream_invalid_grant: { error: "invalid_grant" },
  /** The identity provider could not be reached in time. */
  upstream_unreachable: { error: "temporarily_unavailable" },
  /** The identity provider answered with an error other than a refused grant. */
  upstream_refused: { error: "server_error" },
  /** The identity provider's answer was malformed or did not verify (ID token, JSON). */
  upstream_invalid_response: { error: "server_error" },
  /** Revoking a grant's upstream refresh token at the identity provider failed (ours is revoked anyway). */
  upstream_revocation_failed: { error: "server_error" },
  /** A revocation was stored but could not be broadcast to other instances (their grant cache's bound still holds). */
  revocation_not_broadcast: { error: "server_error" },
} as const satisfies Record<string, { error: OAuthErrorCode; status?: number }>;

/**
 * The precise internal cause of a refusal: a stable code (see the table in `errors.ts`), reported
 * to `onError` as `context.reason` and in `client_auth.failed` events, never sent to the client,
 * so the wire does not reveal whether a client or token exists.
 */
export type ReasonCode = keyof typeof REASONS;

/** Characters allowed in `error_description` (RFC 6749 §5.2: %x20-21 / %x23-5B / %x5D-7E). */
function sanitizeDescription(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, "?").slice(0, 512);
}

/**
 * A protocol failure with an RFC error code. `reason` is the precise internal cause (a
 * {@link ReasonCode}), reported to `onError`/`onEvent` but never sent to the client, so the wire
 * does not reveal whether a client or token exists.
 */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly description: string | undefined;
  readonly status: number;
  readonly reason: ReasonCode | undefined;
  readonly headers: Record<string, string>;

  constructor(
    code: OAuthErrorCode,
    description?: string,
    options: { status?: number; reason?: ReasonCode; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(description ? `${code}: ${description}` : code, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OAuthError";
    this.code = code;
    this.description = description === undefined ? undefined : sanitizeDescription(description);
    this.status = options.status ?? (Object.hasOwn(STATUS, code) ? STATUS[code] : undefined) ?? 400;
    this.reason = options.reason;
    this.headers = options.headers ?? {};
  }

  /**
   * The error for an internal reason, with the RFC error and status its one mapping gives.
   *
   * @param reason The stable code of what went wrong.
   * @param description The `error_description` the client sees (never the reason).
   * @param options A status other than the mapping's (the authorization endpoint's pages answer
   *   400), headers to send, and the underlying failure as `cause`.
   * @example
   * throw OAuthError.because("pkce_mismatch", "the authorization code is invalid, expired or already used");
   */
  static because(reason: ReasonCode, description?: string, options: { status?: number; headers?: Record<string, string>; cause?: unknown } = {}): OAuthError {
    const mapped: { error: OAuthErrorCode; status?: number } = REASONS[reason];
    return new OAuthError(mapped.error, description, { ...options, status: options.status ?? mapped.status, reason });
  }

  /** The JSON body of RFC 6749 §5.2. */
  toJSON(): { error: OAuthErrorCode; error_description?: string } {
    return this.description === undefined ? { error: this.code } : { error: this.code, error_description: this.description };
  }

  /** Renders the error as a JSON response with `Cache-Control: no-store`. */
  toResponse(init: { headers?: HeadersInit } = {}): Response {
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(this.headers)) headers.set(name, value);
    headers.set("Content-Type", "application/json");
    headers.set("Cache-Control", "no-store");
    return new Response(JSON.stringify(this.toJSON()), { status: this.status, headers });
  }
}

/** Whether a value is an {@link OAuthError} (also across bundled copies of this package). */
export function isOAuthError(value: unknown): value is OAuthError {
  return value instanceof OAuthError || (value instanceof Error && value.name === "OAuthError" && "code" in value);
}
