/**
 * The options of {@link createAuthorizationServer}, described once: each member is a key of the
 * zod schema below, its TSDoc written on that key (editors show it through the inferred types,
 * `AuthorizationServerOptions` and the `*Options` it nests), its defaults in {@link DEFAULTS}, and
 * {@link resolveOptions} the one place they are applied.
 *
 * Conventions:
 * - On/off: a feature that can be turned off takes `false` to turn it off and an object to
 *   configure it; omitted (or `true`) it is on with its defaults. So `dynamicRegistration`,
 *   `clientMetadataDocuments`, `outbound` and `rateLimit`. The older `{ enabled: false }` of
 *   `clientMetadataDocuments` and `outbound` still works.
 * - Strict: a key the schema does not know, at any depth, is a TypeError naming its path and the
 *   closest known key. Records whose keys are the app's own (`scopes`) and client metadata
 *   (`clients`, open to every RFC 7591 member) are not checked that way.
 * - Hosts: `allowedHosts` is the `Host` header allow-list (DNS rebinding); the hosts this server
 *   may fetch from are `outbound.allowedFetchHosts` and `outbound.deniedFetchHosts`.
 */
import * as z from "zod/mini";
import { englishMessages } from "./lib/zod-messages.js";
import { verifyKnownKeys, type KeySpec } from "./lib/known-keys.js";
import type { Storage } from "./storage/types.js";
import { withStorageErrors } from "./storage/guarded.js";
import { namespacedStore } from "./storage/namespaced.js";
import type { ClientMetadata, ServerEvent, User } from "./types.js";
import type { ReasonCode } from "./errors.js";
import { canonicalResource, isLoopbackHost, parseURL } from "./lib/url.js";
import type { MetadataDocumentPolicy } from "./clients/cimd.js";
import type { OutboundPolicy } from "./clients/outbound.js";
import type { ResolvedRateLimit } from "./http/rate-limit.js";
import { resolveAllowedHosts } from "./http/host.js";
import type { ConnectionInfo } from "./http/peer.js";
import { BUILT_IN_MESSAGES, type PageMessages } from "./handlers/messages.js";
import { SCOPE_TOKEN } from "./lib/scope.js";
import { resolveUpstream } from "./upstream/options.js";
import { resolveEncryptionKeys } from "./lib/encryption-keys.js";

const fn = <T>() => z.optional(z.custom<T>((value) => typeof value === "function"));
const int = (min = 1, max?: number) => z.optional(max === undefined ? z.int().check(z.gte(min)) : z.int().check(z.gte(min), z.lte(max)));
const strings = () => z.optional(z.array(z.string()));

/** Every default, in one place. */
export const DEFAULTS = {
  accessTokenTtlSeconds: 3600,
  signingAlgorithm: "ES256" as "ES256" | "EdDSA",
  refreshTokenTtlSeconds: 30 * 86_400,
  refreshTokenReuseIntervalSeconds: 30,
  grantCacheSeconds: 2,
  authorizationCodeTtlSeconds: 60,
  authorizationRequestTtlSeconds: 600,
  clockToleranceSeconds: 30,
  trustProxy: 0,
  serviceName: "Portcullis",
  untrustedClientErrors: "interstitial",
  sessionTtlSeconds: 28_800,
  unusedClientTtlSeconds: 86_400,
  metadataDocuments: { minCacheSeconds: 60, maxCacheSeconds: 86_400 },
  rateLimit: {
    windowSeconds: 60,
    perIp: { token: 600, register: 60, authorize: 300, login: 60 },
    perClient: { token: 6000, authorize: 3000 },
    login: { maxFailures: 5, lockoutSeconds: 30, maxLockoutSeconds: 900 },
  },
} as const;

const loginSchema = z.object({
  /** Checks a username and password; answers the user, or null when they do not match. */
  verifyPassword: fn<(input: { username: string; password: string; request: Request }) => Promise<User | null>>(),
  /** Finds a user already signed in to the app (its own session cookie); they then only consent. */
  currentUser: fn<(request: Request) => Promise<User | null>>(),
});

/** How the built-in login page checks a user. */
export interface LoginOptions extends z.input<typeof loginSchema> {}

/** The claims of an upstream user (ID token, then userinfo), mapped to the Portcullis user. */
export type UpstreamClaimsMapper = (claims: Record<string, unknown>) => User | null;

/** Encryption keys at rest: one base64url key, or a list of `{ id, key }` whose first encrypts. */
const encryptionKeysSchema = z.union([
  z.string(),
  z.array(z.object({ id: z.string().check(z.minLength(1), z.maxLength(64)), key: z.string() })).check(z.minLength(1)),
]);

const upstreamSchema = z.object({
  /**
   * The identity provider's issuer, e.g. `https://accounts.example.com`. Its metadata is
   * discovered at `<issuer>/.well-known/openid-configuration`, falling back to RFC 8414
   * (`/.well-known/oauth-authorization-server`), unless `endpoints` are given. `http://` only on
   * a loopback host (local development).
   */
  issuer: z.string(),
  /** The client ID registered at the identity provider, with redirect URI `<issuer of this server>/upstream/callback`. */
  clientId: z.string().check(z.minLength(1)),
  /**
   * The client secret of a confidential client, sent with `client_secret_basic` unless the
   * provider's metadata offers only `client_secret_post`. Without it the client is public (PKCE only).
   */
  clientSecret: z.optional(z.string().check(z.minLength(1))),
  /** Scopes asked of the provider. Default `openid profile email offline_access`. With `offline_access`, `prompt=consent` is sent too (OIDC Core §11). */
  scopes: strings(),
  /**
   * The keys that encrypt upstream tokens at rest (AES-256-GCM): 32 random bytes, base64url. A
   * list is for rotation: the first encrypts, every one decrypts (the key id is kept with each
   * record). A plain string is one key, its id derived from it.
   */
  tokenEncryptionKeys: encryptionKeysSchema,
  /**
   * A provider without discovery (plain OAuth 2, such as GitHub): its endpoints. `userinfo` is then
   * required, and `mapClaims` reads the user from its answer.
   */
  endpoints: z.optional(
    z.object({
      authorization: z.string(),
      token: z.string(),
      userinfo: z.optional(z.string()),
      revocation: z.optional(z.string()),
    }),
  ),
  /**
   * Maps the upstream user's claims (the ID token's, completed by userinfo) to the Portcullis user:
   * its `subject` is the access token's `sub`, its `claims` are copied into access tokens. Null
   * refuses the user. Default: `sub`, with `email`, `email_verified`, `name` and
   * `preferred_username` as claims.
   */
  mapClaims: fn<UpstreamClaimsMapper>(),
  /** Extra authorization request parameters for the provider (a tenant hint, `access_type`, ...). */
  authorizationParams: z.optional(z.record(z.string(), z.string())),
  /** The fetch used to talk to the provider (a proxy, tests). Default: the global `fetch`. */
  fetch: fn<(input: string | URL | Request, init?: RequestInit) => Promise<Response>>(),
  /** Time limit of each exchange with the provider. Default 10,000 ms. */
  timeoutMs: int(1, 60_000),
});

/** Sign-in through an upstream identity provider (OIDC or OAuth 2): see {@link AuthorizationServerOptions.upstream}. */
export interface UpstreamOptions extends z.input<typeof upstreamSchema> {}

/** A client known from configuration rather than registration. */
export interface StaticClient extends Partial<Omit<ClientMetadata, "client_id">> {
  client_id: string;
  /** The secret of a confidential client; kept only as its SHA-256. */
  client_secret?: string;
}

/** Client metadata is open (any RFC 7591 member): only what the server relies on is checked here. */
const staticClientSchema = z.looseObject({
  client_id: z.string().check(z.minLength(1)),
  redirect_uris: strings(),
  client_secret: z.optional(z.string().check(z.minLength(16, "client_secret must have at least 16 characters"))),
}) as unknown as z.ZodMiniType<StaticClient, StaticClient>;

/** What a {@link DynamicRegistrationOptions.policy} is told about a registration. */
export interface RegistrationContext {
  request: Request;
  /** `register` (RFC 7591 `POST /register`) or `update` (RFC 7592 `PUT /register/{id}`). */
  operation: "register" | "update";
  /** The client being updated; absent on `register`. */
  clientId?: string;
  /** Whether the request carried a valid initial access token (always false on `update`). */
  initialAccessToken: boolean;
}

/**
 * A registration policy's answer: refuse (the reason is sent as the `error_description` of
 * `invalid_client_metadata`), or allow, optionally with replaced metadata (validated again) and
 * with `machineClient: true` to approve the `client_credentials` grant for this client.
 */
export type RegistrationDecision = { allow: true; metadata?: Record<string, unknown>; machineClient?: boolean } | { allow: false; reason: string };

const dynamicRegistrationSchema = z.object({
  /**
   * Closed registration: `POST /register` needs `Authorization: Bearer <initial access token>`
   * (RFC 7591 §3). A string is compared in constant time; a function decides.
   */
  initialAccessToken: z.optional(
    z.union([
      z.string().check(z.minLength(16, "initialAccessToken must have at least 16 characters")),
      z.custom<(token: string, request: Request) => boolean | Promise<boolean>>((value) => typeof value === "function"),
    ]),
  ),
  /**
   * Lets a registration that carries a valid initial access token create a machine client (the
   * `client_credentials` grant). Without this, or without a `policy` that approves it,
   * registration only creates clients for user-delegated grants (`authorization_code`,
   * `refresh_token`). Needs `initialAccessToken`. Default false.
   */
  allowMachineClients: z.optional(z.boolean()),
  /**
   * Decides each registration and RFC 7592 update after its metadata is validated (defaults
   * filled in): refuse it, change it, or approve a machine client. An `allow` without
   * `machineClient: true` keeps the default rule (user-delegated grants only).
   */
  policy: fn<(metadata: Omit<ClientMetadata, "client_id">, context: RegistrationContext) => RegistrationDecision | Promise<RegistrationDecision>>(),
  /** A registered client never used for a grant is forgotten after this long. Default 86,400. */
  unusedClientTtlSeconds: int(),
});

/** Options of dynamic client registration. */
export interface DynamicRegistrationOptions extends z.input<typeof dynamicRegistrationSchema> {}

const outboundShape = {
  /** @deprecated Give `outbound: false` instead. `false`: never fetch a URL a client chose. */
  enabled: z.optional(z.boolean()),
  /** Only hosts matching one of these (`client.example` or `*.example`) are fetched. Default: any public host. */
  allowedFetchHosts: strings(),
  /** Hosts never fetched (`evil.example` or `*.evil.example`). */
  deniedFetchHosts: strings(),
  /** @deprecated The older name of `allowedFetchHosts` (not the server's `Host` allow-list, `allowedHosts`). */
  allowedHosts: strings(),
  /** @deprecated The older name of `deniedFetchHosts`. */
  deniedHosts: strings(),
  /**
   * Resolves a host name to its addresses; any special-purpose address refuses the host before a
   * connection. Default: `node:dns` where the runtime has it (Node); none on Workers.
   */
  resolveHost: fn<(hostname: string) => Promise<string[]>>(),
  /**
   * The fetch to use, for a proxy or tests. Default: on Node, `node:https` connecting to the
   * checked addresses; elsewhere the global `fetch`. A fetch given here connects wherever its own
   * DNS answers, so a host whose answer changes between the check and the connection is a
   * residual risk that `allowedFetchHosts` closes.
   */
  fetch: fn<(request: Request) => Promise<Response>>(),
  /** Largest response body read, in bytes. Default 5,120 for a metadata document, 65,536 for a key set; when given, it bounds both. */
  maxBytes: int(1, 1_000_000),
  /** Whole-exchange time limit, resolution included. Default 5,000 ms. */
  timeoutMs: int(1, 60_000),
  /** Development only: also fetch the loopback hosts (`localhost`, `127.0.0.1`, `[::1]`), over `http://` too. */
  allowInsecureLoopback: z.optional(z.boolean()),
};
const outboundSchema = z.object(outboundShape);

/**
 * The outbound policy: how the server fetches URLs that clients choose (a client ID metadata
 * document, a client's `jwks_uri`). Every such fetch goes through one function, and the defaults
 * are safe with no option given:
 *
 * - https only, no userinfo; `http://` only for the loopback hosts and only with
 *   `allowInsecureLoopback` (development);
 * - IP literals in a special-purpose block of the IANA registries (loopback, private, link-local,
 *   metadata 169.254.169.254, NAT64, IPv4-mapped, ...) are refused, and so are the special-use
 *   names `localhost`, `*.localhost`, `*.local`, `*.internal`, `*.home.arpa`, `*.localdomain`,
 *   `*.invalid`, `*.onion`, `*.alt`, `*.lan`, `*.home`, `*.corp`, `*.intranet`, `*.private` and
 *   every single-label name, with or without a resolver;
 * - a host name is resolved and refused when any of its addresses is special: with
 *   `resolveHost`, or by default on Node (and runtimes with `process.getBuiltinModule`) through
 *   `node:dns`. On Node, with no `fetch` given, the connection is made to the very addresses that
 *   were checked (no second lookup, so no DNS rebinding between check and connect). Where no
 *   resolver exists (Workers, browsers) only the name rules above apply;
 * - redirects are never followed (only a 200 counts), the body is read up to `maxBytes`, and the
 *   whole exchange, resolution included, ends within `timeoutMs` even when the peer stalls.
 */
export interface OutboundOptions extends z.input<typeof outboundSchema> {}

const documentsSchema = z.object({
  ...outboundShape,
  /**
   * @deprecated Give `clientMetadataDocuments: false` instead. `false` turns metadata documents
   * off (a URL `client_id` is then an unknown client).
   */
  enabled: z.optional(z.boolean()),
  /** Bounds on how long a document is cached, whatever its `Cache-Control` says. Default 60 s .. 86,400 s; 300 s without one. */
  minCacheSeconds: int(),
  /** See `minCacheSeconds`. */
  maxCacheSeconds: int(),
});

/**
 * Options for Client ID Metadata Documents (CIMD), on by default. The members shared with
 * {@link OutboundOptions} (`fetch`, `resolveHost`, `allowedFetchHosts`, `deniedFetchHosts`,
 * `maxBytes`, `timeoutMs`, `allowInsecureLoopback`) are still accepted here, from before the
 * outbound policy covered more than metadata documents: given here, they apply to every outbound
 * fetch (a client's `jwks_uri` too), exactly as under the server's `outbound` option, which is
 * where new code should give them.
 */
export interface ClientMetadataDocumentOptions extends z.input<typeof documentsSchema> {}

const rateLimitSchema = z.object({
  /** Length of a counting window. Default 60. */
  windowSeconds: int(1, 86_400),
  /**
   * Requests per window from one client address (IPv6 counted per /64). Defaults: token 600,
   * register 60, authorize 300, login 60. Needs a client address (see `clientIp`/`trustProxy`);
   * without one, only the other limits apply.
   */
  perIp: z.optional(z.partialRecord(z.enum(["token", "register", "authorize", "login"]), z.int().check(z.gte(1)))),
  /**
   * Requests per window naming one `client_id`. At the authorization endpoint they are counted
   * whoever sends them; at the token endpoint per client and calling address (the client is only
   * claimed when the limit is checked, so one caller must not spend another's allowance). Only
   * requests the per-address limit admitted are counted here. Defaults: token 6000, authorize
   * 3000: generous, as one metadata-document client may serve every user.
   */
  perClient: z.optional(z.partialRecord(z.enum(["token", "authorize"]), z.int().check(z.gte(1)))),
  /**
   * Sign-in lockout on the built-in page, per username and client address: after `maxFailures`
   * wrong passwords the pair waits `lockoutSeconds`; then one password at a time is checked, each
   * failure doubling the wait up to `maxLockoutSeconds`. Attempts are counted before the password
   * is checked, so parallel attempts are no way around it. Defaults 5, 30, 900.
   */
  login: z.optional(z.object({ maxFailures: int(), lockoutSeconds: int(), maxLockoutSeconds: int() })),
});

/**
 * Rate limits of the authorization server: fixed windows counted in the configured store
 * (`increment`), so they hold across instances. Every limit is per window of `windowSeconds`.
 */
export interface RateLimitOptions extends z.input<typeof rateLimitSchema> {}

const schema = z.object({
  /** The issuer identifier, e.g. `https://auth.example.com`; endpoints live under it. */
  issuer: z.string(),
  /** The protected resource(s) tokens may be issued for, e.g. `https://mcp.example.com/mcp`. */
  resource: z.union([z.string(), z.array(z.string()).check(z.minLength(1))]),
  /** Scopes offered, with the description shown on the consent page. */
  scopes: z.record(z.string().check(z.regex(SCOPE_TOKEN, "scope names use RFC 6749 §3.3 characters")), z.string()),
  /** Scopes granted when a client asks for none. Default: none. */
  defaultScopes: strings(),
  /**
   * The scopes a machine token (the `client_credentials` grant) may carry, for clients the
   * operator approved. Default: none, so such a token carries no scope. A configured client
   * (`clients`) with a `scope` of its own is limited to that instead; a registered client's
   * `scope` narrows this list, never widens it.
   */
  machineScopes: strings(),
  /** Where clients, grants, codes and keys are kept: a `Storage` (memory, SQLite, Redis, Durable Object). */
  storage: z.custom<Storage>(
    (value) => typeof value === "object" && value !== null && typeof (value as Storage).consume === "function",
    "storage must implement the Storage port",
  ),
  /**
   * Prefix for every key this server writes, so issuers sharing a store stay apart. Default:
   * the issuer's path (`/tenant1` -> `/tenant1:`), none for an issuer at the origin root. Give one
   * when issuers on different hosts share a store.
   */
  storageNamespace: z.optional(z.string().check(z.maxLength(200))),
  /**
   * MCP 2025-03-26 compatibility for an issuer with a path that is co-hosted with the MCP server:
   * also serve its metadata at the origin root and `/authorize`, `/token`, `/register` there,
   * where clients of that revision look. At most one issuer per origin may do this.
   */
  serveAtOriginRoot: z.optional(z.boolean()),
  /** The built-in login and consent page. */
  login: z.optional(loginSchema),
  /**
   * The look and language of the built-in pages (login, consent, account). `theme.logoUrl` (https,
   * or a path on this server) is shown on each page and allowed by its CSP; `theme.colors` sets the
   * accent, background and text colours (CSS colour values); `theme.css` is appended to the style
   * sheet. `messages` adds or overrides catalogues by language tag (`{ de: { signIn: "Anmelden" } }`),
   * merged over the built-in English and French; a page's language is the first of the request's
   * `Accept-Language` that a catalogue serves, English otherwise.
   */
  pages: z.optional(
    z.object({
      theme: z.optional(
        z.object({
          logoUrl: z.optional(z.string()),
          colors: z.optional(z.object({ accent: z.optional(z.string()), background: z.optional(z.string()), text: z.optional(z.string()) })),
          css: z.optional(z.string()),
        }),
      ),
      messages: z.optional(z.record(z.string().check(z.regex(/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/, "a language tag")), z.record(z.string(), z.string()))),
    }),
  ),
  /**
   * Sign-in sessions of the built-in pages. After the password, a cookie (`HttpOnly`,
   * `SameSite=Lax`, `Path=/`, `Secure` with the `__Host-` prefix on an https issuer; a new value at
   * each sign-in) names a session kept in `storage`, so it holds across instances: a later
   * authorization in that browser asks no password (only consent, or nothing for a client the user
   * already allowed those scopes), `prompt=login` asks again, `POST <issuer>/logout` ends it, and
   * `<issuer>/account` lists the applications the user allowed. `ttlSeconds`: its lifetime,
   * default 28,800 (8 hours). `false`: no sessions (each authorization asks for the password).
   */
  sessions: z.optional(z.union([z.boolean(), z.object({ ttlSeconds: int(60, 31_536_000) })])),
  /**
   * Sign-in through an upstream identity provider: after the MCP client's request is validated,
   * the built-in consent page (no password form) and, on Allow, the provider's sign-in; the
   * grant's user is the provider's user. The provider's tokens are kept per grant, encrypted, and
   * reach tool handlers as `authInfo.extra.upstream` ({@link UpstreamAccess}); the MCP client only
   * ever gets this server's tokens. Exclusive with `login` and `interactionUrl`.
   */
  upstream: z.optional(upstreamSchema),
  /**
   * The app's own sign-in UI: a valid authorization request is redirected here with
   * `?request_id=...`; the app finishes with `completeAuthorization` or `denyAuthorization`.
   */
  interactionUrl: z.optional(z.string()),
  /** Clients configured up front. */
  clients: z.optional(z.array(staticClientSchema)),
  /**
   * How the authorization endpoint returns an error (`invalid_scope`, `invalid_request`,
   * `login_required`, ...) to a client nobody vouched for: one created by open registration or
   * known by its metadata document, whose redirect URI anyone may have chosen.
   * `"interstitial"` (default) answers a page that names the client and the host it would send
   * the user to, with a link to go on; `"redirect"` sends the error straight back with a 302.
   * The default keeps the endpoint from being an open redirector for whoever registers a client
   * (OAuth 2.1 §7.12.2). Configured clients and clients registered with an initial access token
   * always get the redirect, and so does a user's own Deny on the consent page: the user chose
   * it on a page that names where it returns. A `prompt=none` error (`login_required`,
   * `consent_required`) to a loopback redirect URI goes straight back too: a silent request
   * expects it, and nobody can be sent to another's loopback address to be phished.
   */
  untrustedClientErrors: z.optional(z.enum(["interstitial", "redirect"])),
  /**
   * Dynamic client registration (RFC 7591) and its management API (RFC 7592). Default: on, open,
   * for clients of user-delegated grants only (machine clients need an operator: see
   * {@link DynamicRegistrationOptions.allowMachineClients} and {@link DynamicRegistrationOptions.policy}).
   * `false` turns it off; an object tunes it.
   */
  dynamicRegistration: z.optional(z.union([z.boolean(), dynamicRegistrationSchema])),
  /**
   * Client ID Metadata Documents: an https URL as `client_id`, fetched under the `outbound`
   * policy. On by default; `false` turns it off; an object tunes its cache.
   */
  clientMetadataDocuments: z.optional(z.union([z.boolean(), documentsSchema])),
  /**
   * The policy for every fetch of a URL a client chose (metadata documents, `jwks_uri`): https
   * only, special-purpose addresses and names refused (checked by DNS on Node by default), host
   * allow/deny lists, no redirects, size and time limits. Safe with no option given; see
   * {@link OutboundOptions}. `false` turns all such fetches off.
   */
  outbound: z.optional(z.union([z.boolean(), outboundSchema])),
  /** Lifetime of an access token. Default 3600, at most 86,400. */
  accessTokenTtlSeconds: int(1, 86_400),
  /**
   * Rotates the signing key every `periodSeconds` (at least 2). The next key is published in the
   * JWKS half a period before it starts signing, so verifiers that cache the JWKS have it in time;
   * the key it replaces stays published until every token it signed has expired
   * (`accessTokenTtlSeconds` plus `clockToleranceSeconds`). Instances sharing the store rotate
   * together: each change of the key set is one compare-and-set in the store. Off by default
   * (`false`): keys then change only through `server.keys.rotate()` and `server.keys.retire(kid)`.
   */
  signingKeyRotation: z.optional(z.union([z.literal(false), z.object({ periodSeconds: z.int().check(z.gte(2), z.lte(31_536_000)) })])),
  /**
   * The algorithm of signing keys this server creates: `"ES256"` (ECDSA P-256, the default, which
   * every JOSE library verifies) or `"EdDSA"` (Ed25519, several times faster to sign; choose it
   * when every resource server verifying these tokens accepts it). It applies to keys created from
   * now on: a key already stored keeps its algorithm and keeps signing until it is rotated, and
   * the JWKS publishes each key with its own `alg`.
   */
  signingAlgorithm: z.optional(z.enum(["ES256", "EdDSA"])),
  /**
   * The keys that encrypt the private signing keys in the store (AES-256-GCM): 32 random bytes,
   * base64url, or a list of `{ id, key }` for rotation: the first encrypts, every one decrypts
   * (the key id is kept with each stored key). A plain string is one key, its id derived from it.
   * Set, keys stored plain before are encrypted on the next read of the key set. Unset, private
   * keys are stored as plain JWKs, and a copy of the store is enough to sign access tokens:
   * protect the store like the keys, or set this. Give it to every instance on the store.
   */
  keyEncryptionKeys: z.optional(encryptionKeysSchema),
  /** Lifetime of a refresh token (each rotation starts it again). Default 30 days. */
  refreshTokenTtlSeconds: int(),
  /**
   * A client that lost the response to a refresh may send the same request again within this
   * many seconds and get the same response; any other reuse of a spent refresh token revokes the
   * grant. 0 turns the retry off. Default 30, at most 300.
   */
  refreshTokenReuseIntervalSeconds: int(0, 300),
  /** Rate limits and the sign-in lockout, counted in `storage`; `false` turns them off; an object tunes them. */
  rateLimit: z.optional(z.union([z.boolean(), rateLimitSchema])),
  /**
   * The client address of a request, for per-address rate limits. Default: the socket address
   * an adapter passes (`handle(request, { remoteAddress })`), or the `X-Forwarded-For` entry
   * `trustProxy` hops away. Forwarded headers are never trusted by default.
   */
  clientIp: fn<(request: Request, connection: ConnectionInfo) => string | undefined>(),
  /** How many reverse proxies in front of the server append to `X-Forwarded-For`. Default 0. */
  trustProxy: int(0, 20),
  /**
   * `Host` values this server answers (`name` or `name:port`); any other gets 403, against DNS
   * rebinding. Default: for a loopback issuer, `localhost`, `127.0.0.1` and `[::1]`; otherwise
   * `"*"` (every host). (The hosts the server may fetch from are `outbound.allowedFetchHosts`.)
   */
  allowedHosts: z.optional(z.union([z.literal("*"), z.array(z.string())])),
  /**
   * How long an instance trusts that a grant it has seen live still is, before asking the store
   * again when verifying its access tokens. Revocation on this instance takes effect at once; on
   * other instances sharing the store, at once when the store broadcasts (`Storage.publish`, as
   * the Redis and PostgreSQL stores do), otherwise within this interval. 0 asks every time. Default 2.
   */
  grantCacheSeconds: int(0, 60),
  /** Lifetime of an authorization code. Default 60, at most 600 (OAuth 2.1 §4.1.2). */
  authorizationCodeTtlSeconds: int(1, 600),
  /** How long a pending authorization request waits for the user. Default 600. */
  authorizationRequestTtlSeconds: int(1, 3600),
  /** Tolerance for `iat`/`nbf`/`exp` when verifying tokens. Default 30. */
  clockToleranceSeconds: int(0, 300),
  /** Allows an `http:` issuer on a non-loopback host (never do this in production). */
  allowInsecureHttp: z.optional(z.boolean()),
  /** Shown in page titles. Default "Portcullis". */
  serviceName: z.optional(z.string()),
  /** Clock in milliseconds, for tests. */
  now: fn<() => number>(),
  /** Told of each security-relevant event (sign-ins, grants, revocations, refused clients). */
  onEvent: fn<(event: ServerEvent) => void>(),
  /** Unexpected failures (answered as 500 server_error) and the internal reason of protocol errors (`context.reason`, a {@link ReasonCode}). */
  onError: fn<(error: unknown, context: { request?: Request; reason?: ReasonCode }) => void>(),
});

/** Options of {@link createAuthorizationServer}. */
export interface AuthorizationServerOptions extends z.input<typeof schema> {}

/** Options after validation and defaults. */
export type ResolvedOptions = ReturnType<typeof resolveOptions>;

/** The keys each level of the options may hold, read from the schema. */
const SERVER_KEYS = keySpecOf(schema as unknown as SchemaType) ?? {};

/** What {@link keySpecOf} reads of a zod schema's definition. */
interface SchemaType {
  _zod: {
    def: {
      type: string;
      innerType?: SchemaType;
      options?: readonly SchemaType[];
      shape?: Record<string, SchemaType>;
      catchall?: unknown;
      keyType?: SchemaType;
      entries?: Record<string, unknown>;
    };
  };
}

/** The key spec of a schema: its object shapes and enum-keyed records, through optionals and unions. */
function keySpecOf(type: SchemaType): KeySpec | null {
  const def = type._zod.def;
  if (def.innerType) return keySpecOf(def.innerType);
  if (def.type === "union") {
    const specs = def.options!.map(keySpecOf).filter((spec): spec is KeySpec => spec !== null);
    return specs.length === 0 ? null : Object.assign({}, ...specs);
  }
  // A loose object (client metadata) is open: its keys are not ours to check.
  if (def.type === "object" && def.shape && def.catchall === undefined) {
    return Object.fromEntries(Object.entries(def.shape).map(([key, value]) => [key, keySpecOf(value)]));
  }
  if (def.type === "record" && def.keyType?._zod.def.type === "enum") {
    return Object.fromEntries(Object.keys(def.keyType._zod.def.entries ?? {}).map((key) => [key, null]));
  }
  return null;
}

type OutboundInput = OutboundOptions & { minCacheSeconds?: number; maxCacheSeconds?: number };

/** One outbound member given under its current name or its older one, never both. */
function renamed(
  o: OutboundInput,
  current: "allowedFetchHosts" | "deniedFetchHosts",
  old: "allowedHosts" | "deniedHosts",
  where: string,
): string[] | undefined {
  if (o[current] !== undefined && o[old] !== undefined) throw new TypeError(`Portcullis: give ${where}.${current} only (${old} is its older name)`);
  return o[current] ?? o[old];
}

/** An outbound policy object with the older names read and the on/off switch left out. */
function outboundMembers(input: OutboundInput, where: string): OutboundPolicy {
  const { enabled: _enabled, allowedHosts: _allowed, deniedHosts: _denied, minCacheSeconds: _min, maxCacheSeconds: _max, ...rest } = input;
  const policy: OutboundPolicy = { ...rest };
  const allowedFetchHosts = renamed(input, "allowedFetchHosts", "allowedHosts", where);
  const deniedFetchHosts = renamed(input, "deniedFetchHosts", "deniedHosts", where);
  if (allowedFetchHosts !== undefined) policy.allowedFetchHosts = allowedFetchHosts;
  if (deniedFetchHosts !== undefined) policy.deniedFetchHosts = deniedFetchHosts;
  for (const key of Object.keys(policy) as (keyof OutboundPolicy)[]) if (policy[key] === undefined) delete policy[key];
  return policy;
}

/** A feature switch: `false` (or the older `{ enabled: false }`) is off; omitted, `true` or an object is on. */
const isOn = (value: boolean | { enabled?: boolean } | undefined): boolean => value !== false && (typeof value !== "object" || value.enabled !== false);

/**
 * The outbound policy: `outbound`, plus the policy members still accepted under
 * `clientMetadataDocuments` (its `enabled` stays the CIMD switch). A member given in both places
 * is a TypeError rather than a silent choice.
 */
function resolveOutbound(o: AuthorizationServerOptions): { outbound: OutboundPolicy; documents: MetadataDocumentPolicy } {
  const documentsInput = typeof o.clientMetadataDocuments === "object" ? o.clientMetadataDocuments : {};
  const outboundInput = typeof o.outbound === "object" ? o.outbound : {};
  const legacy = outboundMembers(documentsInput, "clientMetadataDocuments");
  const current = outboundMembers(outboundInput, "outbound");
  for (const name of Object.keys(legacy)) {
    if (name in current) throw new TypeError(`Portcullis: give ${name} once, under outbound (clientMetadataDocuments.${name} is the older place)`);
  }
  const outbound: OutboundPolicy = { ...legacy, ...current, enabled: isOn(o.outbound) };
  const { minCacheSeconds = DEFAULTS.metadataDocuments.minCacheSeconds, maxCacheSeconds = DEFAULTS.metadataDocuments.maxCacheSeconds } = documentsInput;
  const documents = { ...outbound, minCacheSeconds, maxCacheSeconds, enabled: isOn(o.clientMetadataDocuments) && outbound.enabled !== false };
  return { outbound, documents };
}

/** Rate limit settings after defaults, or false when turned off. */
function resolveRateLimit(input: boolean | RateLimitOptions | undefined): ResolvedRateLimit | false {
  if (input === false) return false;
  const given = typeof input === "object" ? input : {};
  const d = DEFAULTS.rateLimit;
  return {
    windowSeconds: given.windowSeconds ?? d.windowSeconds,
    perIp: { ...d.perIp, ...given.perIp },
    perClient: { ...d.perClient, ...given.perClient },
    login: { ...d.login, ...given.login },
  };
}

/** Validates options once, at construction; misuse is a TypeError, never an HTTP response. */
export function resolveOptions(input: AuthorizationServerOptions) {
  verifyKnownKeys(input, SERVER_KEYS);
  const parsed = schema.safeParse(input, englishMessages);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TypeError(`Portcullis: invalid option ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const o = input;
  const issuerURL = parseURL(o.issuer);
  if (!issuerURL || issuerURL.search || issuerURL.hash || o.issuer.includes("#") || o.issuer.includes("?")) {
    throw new TypeError("Portcullis: issuer must be an absolute URL without query or fragment");
  }
  if (o.issuer.endsWith("/")) throw new TypeError("Portcullis: issuer must not end with a slash");
  const insecure = issuerURL.protocol === "http:";
  if (issuerURL.protocol !== "https:" && !insecure) throw new TypeError("Portcullis: issuer must use https");
  if (insecure && !isLoopbackHost(issuerURL) && !o.allowInsecureHttp) {
    throw new TypeError("Portcullis: an http issuer is only allowed on loopback hosts (or with allowInsecureHttp)");
  }
  const resources = (Array.isArray(o.resource) ? o.resource : [o.resource]).map((r) => {
    const canonical = canonicalResource(r);
    if (!canonical) throw new TypeError(`Portcullis: resource ${JSON.stringify(r)} is not an absolute http(s) URL without fragment`);
    return canonical;
  });
  for (const scope of o.defaultScopes ?? []) {
    if (!Object.hasOwn(o.scopes, scope)) throw new TypeError(`Portcullis: default scope ${scope} is not in scopes`);
  }
  for (const scope of o.machineScopes ?? []) {
    if (!Object.hasOwn(o.scopes, scope)) throw new TypeError(`Portcullis: machineScopes: ${scope} is not in scopes`);
  }
  if (o.login && !o.login.verifyPassword && !o.login.currentUser) {
    throw new TypeError("Portcullis: login needs verifyPassword or currentUser");
  }
  if (!o.login && !o.interactionUrl && !o.upstream) {
    throw new TypeError("Portcullis: configure login (the built-in page), interactionUrl (your own UI) or upstream (an identity provider)");
  }
  if (o.upstream && (o.login || o.interactionUrl)) {
    throw new TypeError("Portcullis: upstream signs users in by itself: give it without login or interactionUrl");
  }
  const upstream = o.upstream ? resolveUpstream(o.upstream) : undefined;
  const path = issuerURL.pathname === "/" ? "" : issuerURL.pathname;
  const registration: DynamicRegistrationOptions | false =
    o.dynamicRegistration === false ? false : typeof o.dynamicRegistration === "object" ? o.dynamicRegistration : {};
  const { outbound, documents } = resolveOutbound(o);
  if (registration && registration.allowMachineClients && registration.initialAccessToken === undefined) {
    throw new TypeError("Portcullis: dynamicRegistration.allowMachineClients needs initialAccessToken");
  }
  return {
    issuer: o.issuer,
    issuerPath: path,
    serveAtOriginRoot: o.serveAtOriginRoot ?? false,
    resources,
    scopes: { ...o.scopes },
    defaultScopes: o.defaultScopes ?? [],
    machineScopes: o.machineScopes ?? [],
    storage: withStorageErrors(namespacedStore(o.storage, o.storageNamespace ?? (path ? `${path}:` : ""))),
    login: o.login,
    pages: {
      theme: o.pages?.theme ?? {},
      messages: Object.fromEntries(
        [...new Set([...Object.keys(BUILT_IN_MESSAGES), ...Object.keys(o.pages?.messages ?? {})])].map((lang) => [
          lang,
          { ...BUILT_IN_MESSAGES[lang], ...o.pages?.messages?.[lang] },
        ]),
      ) as Record<string, Partial<PageMessages>>,
    },
    sessions:
      o.sessions === false
        ? (false as const)
        : { ttlSeconds: (typeof o.sessions === "object" ? o.sessions.ttlSeconds : undefined) ?? DEFAULTS.sessionTtlSeconds },
    upstream,
    interactionUrl: o.interactionUrl,
    clients: o.clients ?? [],
    untrustedClientErrors: o.untrustedClientErrors ?? DEFAULTS.untrustedClientErrors,
    dynamicRegistration:
      registration === false
        ? (false as const)
        : { ...registration, unusedClientTtlSeconds: registration.unusedClientTtlSeconds ?? DEFAULTS.unusedClientTtlSeconds },
    /** The CIMD switch and cache bounds, with the whole outbound policy merged in. */
    clientMetadataDocuments: documents,
    outbound,
    accessTokenTtlSeconds: o.accessTokenTtlSeconds ?? DEFAULTS.accessTokenTtlSeconds,
    /** The rotation period in seconds, or false. */
    signingKeyRotationSeconds: o.signingKeyRotation ? o.signingKeyRotation.periodSeconds : (false as const),
    signingAlgorithm: o.signingAlgorithm ?? DEFAULTS.signingAlgorithm,
    /** The keys that seal private signing keys in the store, or undefined (stored plain). */
    keyEncryption:
      o.keyEncryptionKeys === undefined ? undefined : resolveEncryptionKeys(o.keyEncryptionKeys, "keyEncryptionKeys", "portcullis/key-encryption-key-id"),
    refreshTokenTtlSeconds: o.refreshTokenTtlSeconds ?? DEFAULTS.refreshTokenTtlSeconds,
    grantCacheSeconds: o.grantCacheSeconds ?? DEFAULTS.grantCacheSeconds,
    refreshTokenReuseIntervalSeconds: o.refreshTokenReuseIntervalSeconds ?? DEFAULTS.refreshTokenReuseIntervalSeconds,
    rateLimit: resolveRateLimit(o.rateLimit),
    clientAddress: { clientIp: o.clientIp, trustProxy: o.trustProxy ?? DEFAULTS.trustProxy },
    allowedHosts: resolveAllowedHosts(o.allowedHosts, issuerURL, "allowedHosts"),
    authorizationCodeTtlSeconds: o.authorizationCodeTtlSeconds ?? DEFAULTS.authorizationCodeTtlSeconds,
    authorizationRequestTtlSeconds: o.authorizationRequestTtlSeconds ?? DEFAULTS.authorizationRequestTtlSeconds,
    clockToleranceSeconds: o.clockToleranceSeconds ?? DEFAULTS.clockToleranceSeconds,
    secureCookies: !insecure,
    serviceName: o.serviceName ?? DEFAULTS.serviceName,
    now: o.now ?? Date.now,
    onEvent: o.onEvent ?? (() => {}),
    onError: o.onError ?? defaultOnError,
  };
}

function defaultOnError(error: unknown, context: { reason?: ReasonCode }): void {
  if (context.reason) return;
  console.error("[portcullis] unexpected error", error instanceof Error ? error.message : error);
}
