/**
 * Every key the authorization server (and the resource guard) stores a record under, before any namespace prefix: one
 * prefix per kind of record, and one function per key. The strings are a storage format: data
 * already in SQLite, Redis or a Durable Object is found by them, so an existing one never changes.
 * Each prefix is a name ending in its only colon, so no prefix starts another and a key's kind is
 * named by what precedes its first colon ({@link kindOfKey}).
 */
const PREFIXES = {
  /** A registered client (dynamic registration), by `client_id`. */
  client: "client:",
  /** A fetched client metadata document (CIMD), by its URL. */
  clientMetadataDocument: "cimd:",
  /** A fetched client JWK set (`private_key_jwt`), by its URL. */
  clientJWKS: "client-jwks:",
  /** A spent client assertion's `jti`, per client. */
  assertionJTI: "assertion-jti:",
  /** An authorization request waiting for the user. */
  pendingAuthorization: "authreq:",
  /** An authorization code, by its hash. */
  code: "code:",
  /** The marker a code's single redemption consumes, by the code's hash. */
  liveCode: "code-live:",
  /** A grant, by its id. */
  grant: "grant:",
  /** The index of a user's grants. */
  userGrants: "grants-by-user:",
  /** The index of a client's grants. */
  clientGrants: "grants-by-client:",
  /** A live refresh token, by its hash. */
  refreshToken: "refresh:",
  /** A spent refresh token, by its hash, to detect reuse. */
  spentRefreshToken: "refresh-spent:",
  /** The response a retried refresh gets again, by the spent token's hash. */
  refreshReplay: "refresh-replay:",
  /**
   * The signing key set: each version of it (written once, by `setIfAbsent`), the number of the
   * newest, and the single record earlier releases kept.
   */
  signingKeys: "keys:",
  /** A rate-limit counter for one window. */
  rateLimit: "ratelimit:",
  /** A username and address's sign-in lockout. */
  loginLock: "login-lock:",
  /** A username and address's sign-in attempts in one round. */
  loginAttempts: "login-attempts:",
  /** Who an MCP session belongs to (the resource guard), by the hash of resource and session id. */
  mcpSession: "mcp-session:",
  /** How many MCP sessions one subject and client bound in one window, by their hash. */
  mcpSessionQuota: "mcp-session-quota:",
  /** An upstream sign-in in progress (state, nonce, PKCE verifier), by the state's hash. */
  upstreamState: "upstream-state:",
  /** A grant's upstream tokens, encrypted, by grant id. */
  upstreamTokens: "upstream-tokens:",
  /** The lock one instance holds while it refreshes a grant's upstream tokens. */
  upstreamRefreshLock: "upstream-lock:",
  /** A browser's sign-in session on the built-in pages, by the hash of its cookie value. */
  session: "session:",
  /** A sign-in asked for outside an authorization request (the account page), by its id. */
  pendingLogin: "loginreq:",
  /** A user's remembered consent to one client, under the index of that user's consents. */
  userConsents: "consent:",
} as const;

/** The kinds of record the authorization server stores. */
export type KeyKind = keyof typeof PREFIXES;

/** The storage keys, one function per kind of record. */
export const keys = {
  client: (clientId: string) => `${PREFIXES.client}${clientId}`,
  clientMetadataDocument: (url: string) => `${PREFIXES.clientMetadataDocument}${url}`,
  clientJWKS: (jwksUri: string) => `${PREFIXES.clientJWKS}${jwksUri}`,
  assertionJTI: (clientId: string, jti: string) => `${PREFIXES.assertionJTI}${clientId}:${jti}`,
  pendingAuthorization: (id: string) => `${PREFIXES.pendingAuthorization}${id}`,
  code: (hash: string) => `${PREFIXES.code}${hash}`,
  liveCode: (hash: string) => `${PREFIXES.liveCode}${hash}`,
  grant: (id: string) => `${PREFIXES.grant}${id}`,
  /** The prefix listing a user's grants; each entry's key is it followed by the grant id. */
  userGrants: (subject: string) => `${PREFIXES.userGrants}${subject}:`,
  userGrant: (subject: string, grantId: string) => `${PREFIXES.userGrants}${subject}:${grantId}`,
  /** The prefix listing a client's grants; each entry's key is it followed by the grant id. */
  clientGrants: (clientId: string) => `${PREFIXES.clientGrants}${clientId}:`,
  clientGrant: (clientId: string, grantId: string) => `${PREFIXES.clientGrants}${clientId}:${grantId}`,
  refreshToken: (hash: string) => `${PREFIXES.refreshToken}${hash}`,
  spentRefreshToken: (hash: string) => `${PREFIXES.spentRefreshToken}${hash}`,
  refreshReplay: (hash: string) => `${PREFIXES.refreshReplay}${hash}`,
  /** The key set as earlier releases stored it (one array, never rotated); read once to carry it over. */
  signingKeys: () => `${PREFIXES.signingKeys}signing`,
  /** The prefix listing every stored version of the key set, oldest first. */
  signingKeySets: () => `${PREFIXES.signingKeys}set:`,
  /** One version of the key set; zero-padded so that key order is version order. */
  signingKeySet: (version: number) => `${PREFIXES.signingKeys}set:${String(version).padStart(12, "0")}`,
  /** The number of the newest version of the key set, as last written (a hint: newer ones may exist). */
  signingKeyHead: () => `${PREFIXES.signingKeys}head`,
  rateLimit: (counter: string, window: number) => `${PREFIXES.rateLimit}${counter}:${window}`,
  loginLock: (id: string) => `${PREFIXES.loginLock}${id}`,
  loginAttempts: (id: string, round: string) => `${PREFIXES.loginAttempts}${id}:${round}`,
  mcpSession: (hash: string) => `${PREFIXES.mcpSession}${hash}`,
  mcpSessionQuota: (hash: string, window: number) => `${PREFIXES.mcpSessionQuota}${hash}:${window}`,
  upstreamState: (hash: string) => `${PREFIXES.upstreamState}${hash}`,
  upstreamTokens: (grantId: string) => `${PREFIXES.upstreamTokens}${grantId}`,
  upstreamRefreshLock: (grantId: string) => `${PREFIXES.upstreamRefreshLock}${grantId}`,
  session: (hash: string) => `${PREFIXES.session}${hash}`,
  pendingLogin: (id: string) => `${PREFIXES.pendingLogin}${id}`,
  /** The prefix listing a user's consents (the subject percent-encoded, so no subject's prefix is another's). */
  userConsents: (subject: string) => `${PREFIXES.userConsents}${encodeURIComponent(subject)}:`,
  userConsent: (subject: string, clientId: string) => `${PREFIXES.userConsents}${encodeURIComponent(subject)}:${clientId}`,
};

// Asked on every write (the namespace view marks what a bounded store may drop): one lookup, not
// a scan of every prefix.
const KINDS = new Map<string, KeyKind>(Object.entries(PREFIXES).map(([kind, prefix]) => [prefix, kind as KeyKind]));

/** The kind of record a key (without namespace prefix) names, or undefined for a key the server does not build. */
export function kindOfKey(key: string): KeyKind | undefined {
  const colon = key.indexOf(":");
  return colon === -1 ? undefined : KINDS.get(key.slice(0, colon + 1));
}

/**
 * The channels the authorization server publishes on through `Storage.publish`, before any
 * namespace prefix. Like the keys, instances of different versions meet on them: they never change.
 */
export const channels = {
  /** A grant was revoked; the message is its id. Other instances drop it from their grant cache. */
  grantRevoked: "grant-revoked",
} as const;
