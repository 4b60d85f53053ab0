import type { OAuthError, ReasonCode } from "./errors.js";

/**
 * What a verified access token says, shaped like the MCP SDK's `AuthInfo` so it can be handed to
 * `transport.handleRequest(request, { authInfo })` unchanged.
 */
export interface AuthInfo {
  /** The access token as presented. */
  token: string;
  clientId: string;
  scopes: string[];
  /** Expiry in seconds since the epoch. */
  expiresAt?: number;
  /** The resource (audience) the token is bound to (RFC 8707). */
  resource?: URL;
  /** `sub`, `iss`, `jti` and any extra claims the app attached at sign-in. */
  extra?: Record<string, unknown>;
}

/** Verifies an access token for one resource; throws an `OAuthError` (`invalid_token`) otherwise. */
export interface TokenVerifier {
  /**
   * The issuer whose tokens it accepts, when it accepts one issuer's: the guard's default
   * `authorizationServers`.
   */
  readonly issuer?: string;
  verifyAccessToken(token: string, options: { resource: string }): Promise<AuthInfo>;
  /**
   * The same check answering the error instead of throwing it, so the guard's 401 path stays free
   * of exceptions. Optional: the guard falls back to `verifyAccessToken`.
   */
  checkAccessToken?(token: string, options: { resource: string }): Promise<AuthInfo | OAuthError>;
  /**
   * The same check from what the verifier already holds, without I/O (a token it verified moments
   * ago): the guard asks it first, so a reused token is answered without a promise. `undefined`
   * when only `checkAccessToken` / `verifyAccessToken` can tell. Optional.
   */
  checkCachedAccessToken?(token: string, options: { resource: string }): AuthInfo | OAuthError | undefined;
}

/** The signed-in resource owner, as the app's login step reports it. */
export interface User {
  /** Stable subject identifier, the token's `sub`. */
  subject: string;
  /** Shown on the consent page ("Signed in as ..."). */
  displayName?: string;
  /** Extra claims copied into access tokens (for example `preferred_username`). */
  claims?: Record<string, unknown>;
}

/** Registered client metadata (RFC 7591 §2), as stored and as returned by registration. */
export interface ClientMetadata {
  client_id: string;
  redirect_uris: string[];
  token_endpoint_auth_method: "none" | "client_secret_basic" | "client_secret_post" | "private_key_jwt";
  grant_types: string[];
  response_types: string[];
  application_type?: "web" | "native";
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  scope?: string;
  contacts?: string[];
  tos_uri?: string;
  policy_uri?: string;
  software_id?: string;
  software_version?: string;
  /** Public keys for `private_key_jwt` (RFC 7523). */
  jwks?: { keys: Record<string, unknown>[] };
  jwks_uri?: string;
  client_id_issued_at?: number;
  client_secret_expires_at?: number;
}

/** A client record as stored: metadata plus the SHA-256 of its secret, never the secret. */
export interface StoredClient {
  metadata: ClientMetadata;
  secretHash?: string;
  /** Where the record came from: registration when absent. */
  source?: "configuration" | "metadata_document";
  /** SHA-256 of the RFC 7592 registration access token of a registered client. */
  registrationTokenHash?: string;
  /** A registered client not yet used for a grant: its record expires unless it is. */
  unused?: true;
  /**
   * A registered client an operator approved for grants beyond the user-delegated ones
   * (`client_credentials`); without it such a grant is refused.
   */
  machineClient?: true;
  /**
   * A registered client whose registration presented an initial access token: an operator
   * vouched for it, so its redirect URIs are trusted like a configured client's.
   */
  vetted?: true;
}

/** An audit or metrics event. Never carries a token, code or secret. */
export type ServerEvent =
  | { type: "client.registered"; clientId: string }
  | { type: "authorization.requested"; clientId: string }
  | { type: "authorization.denied"; clientId: string; subject?: string }
  | { type: "code.issued"; clientId: string; subject: string; grantId: string }
  | { type: "token.issued"; clientId: string; subject: string; grantId: string; grantType: string }
  /** A refresh token was rotated; `replayed` when a retry within the reuse interval got the refresh token it lost again. */
  | { type: "token.refreshed"; clientId: string; subject: string; grantId: string; replayed: boolean }
  /** A client revoked one of its tokens (RFC 7009); the grant's end follows as `grant.revoked`. */
  | { type: "token.revoked"; clientId: string; grantId: string; tokenType: "access_token" | "refresh_token" }
  | { type: "grant.revoked"; clientId: string; grantId: string; reason: string }
  /**
   * This instance wrote a new version of the signing key set: the first key (`create`), the
   * schedule's next key or the drop of a key whose tokens have expired (`schedule`), or
   * `server.keys.rotate()` / `retire()`, or private keys stored plain now encrypted under
   * `keyEncryptionKeys` (`seal`). `kids` is the new set; `retired` a key withdrawn by hand.
   */
  | { type: "signing_keys.changed"; change: "create" | "schedule" | "rotate" | "retire" | "seal"; version: number; kids: string[]; retired?: string }
  | { type: "replay.detected"; clientId: string; grantId: string; kind: "code" | "refresh_token" }
  /** A wrong password on the login page; `clientId` is empty for a sign-in to the account page. */
  | { type: "login.failed"; clientId: string }
  /** A user signed in on the login page: a new session. */
  | { type: "session.started"; subject: string }
  /** A user signed out. */
  | { type: "session.ended"; subject: string }
  /** A user revoked a connected application (its consent and grants), on the account page or through `revokeConsent`. */
  | { type: "consent.revoked"; clientId: string; subject: string }
  /** A request refused `invalid_client`: `reason` is its {@link ReasonCode}, or `invalid_client` when it carries none (an app's own refusal). */
  | { type: "client_auth.failed"; clientId: string | undefined; reason: ReasonCode | "invalid_client" }
  /** A request refused with 429 by a rate limit or a sign-in lockout. */
  | { type: "rate_limited"; endpoint: RateLimitedEndpoint; limit: "ip" | "client" | "lockout"; clientId?: string; ip?: string; retryAfterSeconds: number };

/** The endpoints {@link ServerEvent} `rate_limited` names. */
export type RateLimitedEndpoint = "token" | "register" | "authorize" | "login";

/**
 * What an adapter mounts: anything that serves its own paths (the authorization server, a resource
 * guard) and answers `undefined` for the rest, so the framework's next handler runs.
 */
export interface Handles {
  handle(request: Request, connection?: { remoteAddress?: string | undefined }): Promise<Response | undefined>;
  /**
   * Whether `handle` serves this path: true, it answers a `Response` (an adapter may read the body
   * for it); false, it answers `undefined` (the adapter may skip building a `Request`);
   * `undefined` when only the parsed URL can tell.
   */
  owns?(path: string): boolean | undefined;
}
