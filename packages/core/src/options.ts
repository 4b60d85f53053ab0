import * as z from "zod/mini";
import { useEnglishMessages } from "./lib/zod-messages.js";
import type { Storage } from "./storage/types.js";
import { withStorageErrors } from "./storage/guarded.js";
import { namespacedStore } from "./storage/namespaced.js";
import type { ClientMetadata, ServerEvent, User } from "./types.js";
import { canonicalResource, isLoopbackHost, parseURL } from "./lib/url.js";
import type { ClientMetadataDocumentOptions } from "./clients/cimd.js";
import type { OutboundOptions } from "./clients/outbound.js";
import { resolveRateLimit, type RateLimitOptions, type ResolvedRateLimit } from "./http/rate-limit.js";
import { resolveAllowedHosts } from "./http/host.js";
import type { ConnectionInfo, PeerAddressOptions } from "./http/peer.js";

/** How the built-in login page checks a user. */
export interface LoginOptions {
  /** Checks a username and password; answers the user, or null when they do not match. */
  verifyPassword?(input: { username: string; password: string; request: Request }): Promise<User | null>;
  /** Finds a user already signed in to the app (its own session cookie); they then only consent. */
  currentUser?(request: Request): Promise<User | null>;
}

/** A client known from configuration rather than registration. */
export interface StaticClient extends Partial<Omit<ClientMetadata, "client_id">> {
  client_id: string;
  /** The secret of a confidential client; kept only as its SHA-256. */
  client_secret?: string;
}

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
export type RegistrationDecision =
  | { allow: true; metadata?: Record<string, unknown>; machineClient?: boolean }
  | { allow: false; reason: string };

/** Options of dynamic client registration. */
export interface DynamicRegistrationOptions {
  /**
   * Closed registration: `POST /register` needs `Authorization: Bearer <initial access token>`
   * (RFC 7591 §3). A string is compared in constant time; a function decides.
   */
  initialAccessToken?: string | ((token: string, request: Request) => boolean | Promise<boolean>);
  /**
   * Lets a registration that carries a valid initial access token create a machine client (the
   * `client_credentials` grant). Without this, or without a {@link policy} that approves it,
   * registration only creates clients for user-delegated grants (`authorization_code`,
   * `refresh_token`). Needs `initialAccessToken`. Default false.
   */
  allowMachineClients?: boolean;
  /**
   * Decides each registration and RFC 7592 update after its metadata is validated (defaults
   * filled in): refuse it, change it, or approve a machine client. An `allow` without
   * `machineClient: true` keeps the default rule (user-delegated grants only).
   */
  policy?: (metadata: Omit<ClientMetadata, "client_id">, context: RegistrationContext) => RegistrationDecision | Promise<RegistrationDecision>;
  /** A registered client never used for a grant is forgotten after this long. Default 86,400. */
  unusedClientTtlSeconds?: number;
}

/** Options of {@link createAuthorizationServer}. */
export interface AuthorizationServerOptions {
  /** The issuer identifier, e.g. `https://auth.example.com`; endpoints live under it. */
  issuer: string;
  /** The protected resource(s) tokens may be issued for, e.g. `https://mcp.example.com/mcp`. */
  resource: string | string[];
  /** Scopes offered, with the description shown on the consent page. */
  scopes: Record<string, string>;
  /** Scopes granted when a client asks for none. Default: none. */
  defaultScopes?: string[];
  /**
   * The scopes a machine token (the `client_credentials` grant) may carry, for clients the
   * operator approved. Default: none, so such a token carries no scope. A configured client
   * (`clients`) with a `scope` of its own is limited to that instead; a registered client's
   * `scope` narrows this list, never widens it.
   */
  machineScopes?: string[];
  storage: Storage;
  /**
   * Prefix for every key this server writes, so issuers sharing a store stay apart. Default:
   * the issuer's path (`/tenant1` -> `/tenant1:`), none for an issuer at the origin root. Give one
   * when issuers on different hosts share a store.
   */
  storageNamespace?: string;
  /**
   * MCP 2025-03-26 compatibility for an issuer with a path that is co-hosted with the MCP server:
   * also serve its metadata at the origin root and `/authorize`, `/token`, `/register` there,
   * where clients of that revision look. At most one issuer per origin may do this.
   */
  serveAtOriginRoot?: boolean;
  /** The built-in login and consent page. */
  login?: LoginOptions;
  /**
   * The app's own sign-in UI: a valid authorization request is redirected here with
   * `?request_id=...`; the app finishes with `completeAuthorization` or `denyAuthorization`.
   */
  interactionUrl?: string;
  /** Clients configured up front. */
  clients?: StaticClient[];
  /**
   * Dynamic client registration (RFC 7591) and its management API (RFC 7592). Default: on, open,
   * for clients of user-delegated grants only (machine clients need an operator: see
   * {@link DynamicRegistrationOptions.allowMachineClients} and {@link DynamicRegistrationOptions.policy}).
   * `false` turns it off; an object tunes it.
   */
  dynamicRegistration?: boolean | DynamicRegistrationOptions;
  /**
   * Client ID Metadata Documents: an https URL as `client_id`, fetched under the `outbound`
   * policy. On by default; `{ enabled: false }` turns it off.
   */
  clientMetadataDocuments?: ClientMetadataDocumentOptions;
  /**
   * The policy for every fetch of a URL a client chose (metadata documents, `jwks_uri`): https
   * only, special-purpose addresses and names refused (checked by DNS on Node by default), host
   * allow/deny lists, no redirects, size and time limits. Safe with no option given; see
   * {@link OutboundOptions}. `{ enabled: false }` turns all such fetches off.
   */
  outbound?: OutboundOptions;
  accessTokenTtlSeconds?: number;
  refreshTokenTtlSeconds?: number;
  /**
   * A client that lost the response to a refresh may send the same request again within this
   * many seconds and get the same response; any other reuse of a spent refresh token revokes the
   * grant. 0 turns the retry off. Default 30, at most 300.
   */
  refreshTokenReuseIntervalSeconds?: number;
  /** Rate limits and the sign-in lockout, counted in `storage`; `false` turns them off. */
  rateLimit?: RateLimitOptions | false;
  /**
   * The client address of a request, for per-address rate limits. Default: the socket address
   * an adapter passes (`handle(request, { remoteAddress })`), or the `X-Forwarded-For` entry
   * `trustProxy` hops away. Forwarded headers are never trusted by default.
   */
  clientIp?: (request: Request, connection: ConnectionInfo) => string | undefined;
  /** How many reverse proxies in front of the server append to `X-Forwarded-For`. Default 0. */
  trustProxy?: number;
  /**
   * `Host` values this server answers (`name` or `name:port`); any other gets 403, against DNS
   * rebinding. Default: for a loopback issuer, `localhost`, `127.0.0.1` and `[::1]`; otherwise
   * `"*"` (every host).
   */
  allowedHosts?: string[] | "*";
  /**
   * How long an instance trusts that a grant it has seen live still is, before asking the store
   * again when verifying its access tokens. Revocation on this instance takes effect at once; on
   * other instances sharing the store, within this interval. 0 asks every time. Default 2.
   */
  grantCacheSeconds?: number;
  /** At most 600 (OAuth 2.1 §4.1.2). Default 60. */
  authorizationCodeTtlSeconds?: number;
  /** How long a pending authorization request waits for the user. Default 600. */
  authorizationRequestTtlSeconds?: number;
  /** Tolerance for `iat`/`nbf`/`exp` when verifying tokens. Default 30. */
  clockToleranceSeconds?: number;
  /** Allows an `http:` issuer on a non-loopback host (never do this in production). */
  allowInsecureHttp?: boolean;
  /** Shown in page titles. Default "Portcullis". */
  serviceName?: string;
  /** Clock in milliseconds, for tests. */
  now?: () => number;
  onEvent?: (event: ServerEvent) => void;
  /** Unexpected failures (answered as 500 server_error) and the internal reason of protocol errors. */
  onError?: (error: unknown, context: { request?: Request; reason?: string }) => void;
}

/** Options after validation and defaults. */
export interface ResolvedOptions {
  issuer: string;
  issuerPath: string;
  serveAtOriginRoot: boolean;
  resources: string[];
  scopes: Record<string, string>;
  defaultScopes: string[];
  machineScopes: string[];
  storage: Storage;
  login: LoginOptions | undefined;
  interactionUrl: string | undefined;
  clients: StaticClient[];
  dynamicRegistration: (DynamicRegistrationOptions & { unusedClientTtlSeconds: number }) | false;
  /** The CIMD switch and cache bounds, with the whole outbound policy merged in. */
  clientMetadataDocuments: ClientMetadataDocumentOptions & { enabled: boolean };
  outbound: OutboundOptions;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  grantCacheSeconds: number;
  refreshTokenReuseIntervalSeconds: number;
  rateLimit: ResolvedRateLimit | false;
  clientAddress: PeerAddressOptions;
  allowedHosts: string[] | "*";
  authorizationCodeTtlSeconds: number;
  authorizationRequestTtlSeconds: number;
  clockToleranceSeconds: number;
  secureCookies: boolean;
  serviceName: string;
  now: () => number;
  onEvent: (event: ServerEvent) => void;
  onError: (error: unknown, context: { request?: Request; reason?: string }) => void;
}

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const fn = <T>() => z.optional(z.custom<T>((value) => typeof value === "function"));
const int = (min = 1, max?: number) => z.optional(max === undefined ? z.int().check(z.gte(min)) : z.int().check(z.gte(min), z.lte(max)));
const strings = () => z.optional(z.array(z.string()));

const outboundShape = {
  enabled: z.optional(z.boolean()),
  fetch: fn<(request: Request) => Promise<Response>>(),
  resolveHost: fn<(hostname: string) => Promise<string[]>>(),
  maxBytes: int(1, 1_000_000),
  timeoutMs: int(1, 60_000),
  allowedHosts: strings(),
  deniedHosts: strings(),
  allowInsecureLoopback: z.optional(z.boolean()),
};

/**
 * The outbound policy: `outbound`, plus the policy members still accepted under
 * `clientMetadataDocuments` (its `enabled` stays the CIMD switch). A member given in both places
 * is a TypeError rather than a silent choice.
 */
function resolveOutbound(o: AuthorizationServerOptions): { outbound: OutboundOptions; documents: ResolvedOptions["clientMetadataDocuments"] } {
  const { enabled, minCacheSeconds, maxCacheSeconds, ...legacy } = o.clientMetadataDocuments ?? {};
  for (const [name, value] of Object.entries(legacy)) {
    if (value !== undefined && o.outbound?.[name as keyof OutboundOptions] !== undefined) {
      throw new TypeError(`Portcullis: give ${name} once, under outbound (clientMetadataDocuments.${name} is the older place)`);
    }
  }
  const outbound: OutboundOptions = { ...legacy, ...o.outbound, enabled: o.outbound?.enabled ?? true };
  const documents = { ...outbound, minCacheSeconds, maxCacheSeconds, enabled: enabled !== false && outbound.enabled !== false };
  return { outbound, documents };
}

const schema = z.object({
  issuer: z.string(),
  resource: z.union([z.string(), z.array(z.string()).check(z.minLength(1))]),
  scopes: z.record(z.string().check(z.regex(SCOPE_TOKEN, "scope names use RFC 6749 §3.3 characters")), z.string()),
  defaultScopes: strings(),
  machineScopes: strings(),
  storageNamespace: z.optional(z.string().check(z.maxLength(200))),
  serveAtOriginRoot: z.optional(z.boolean()),
  storage: z.custom<Storage>(
    (value) => typeof value === "object" && value !== null && typeof (value as Storage).consume === "function",
    "storage must implement the Storage port",
  ),
  login: z.optional(z.object({ verifyPassword: fn<LoginOptions["verifyPassword"]>(), currentUser: fn<LoginOptions["currentUser"]>() })),
  interactionUrl: z.optional(z.string()),
  clients: z.optional(
    z.array(
      z.looseObject({
        client_id: z.string().check(z.minLength(1)),
        redirect_uris: strings(),
        client_secret: z.optional(z.string().check(z.minLength(16, "client_secret must have at least 16 characters"))),
      }),
    ),
  ),
  dynamicRegistration: z.optional(
    z.union([
      z.boolean(),
      z.object({
        initialAccessToken: z.optional(
          z.union([
            z.string().check(z.minLength(16, "initialAccessToken must have at least 16 characters")),
            z.custom<(t: string, r: Request) => boolean>((value) => typeof value === "function"),
          ]),
        ),
        allowMachineClients: z.optional(z.boolean()),
        policy: fn<DynamicRegistrationOptions["policy"]>(),
        unusedClientTtlSeconds: int(),
      }),
    ]),
  ),
  clientMetadataDocuments: z.optional(z.object({ ...outboundShape, minCacheSeconds: int(), maxCacheSeconds: int() })),
  outbound: z.optional(z.object(outboundShape)),
  accessTokenTtlSeconds: int(1, 86_400),
  grantCacheSeconds: int(0, 60),
  refreshTokenTtlSeconds: int(),
  refreshTokenReuseIntervalSeconds: int(0, 300),
  rateLimit: z.optional(
    z.union([
      z.literal(false),
      z.object({
        windowSeconds: int(1, 86_400),
        perIp: z.optional(z.partialRecord(z.enum(["token", "register", "authorize", "login"]), z.int().check(z.gte(1)))),
        perClient: z.optional(z.partialRecord(z.enum(["token", "authorize"]), z.int().check(z.gte(1)))),
        login: z.optional(z.object({ maxFailures: int(), lockoutSeconds: int(), maxLockoutSeconds: int() })),
      }),
    ]),
  ),
  clientIp: fn<(request: Request, connection: ConnectionInfo) => string | undefined>(),
  trustProxy: int(0, 20),
  allowedHosts: z.optional(z.union([z.literal("*"), z.array(z.string())])),
  authorizationCodeTtlSeconds: int(1, 600),
  authorizationRequestTtlSeconds: int(1, 3600),
  clockToleranceSeconds: int(0, 300),
  allowInsecureHttp: z.optional(z.boolean()),
  serviceName: z.optional(z.string()),
  now: fn<() => number>(),
  onEvent: fn<(event: ServerEvent) => void>(),
  onError: fn<ResolvedOptions["onError"]>(),
});

/** Validates options once, at construction; misuse is a TypeError, never an HTTP response. */
export function resolveOptions(input: AuthorizationServerOptions): ResolvedOptions {
  useEnglishMessages();
  const parsed = schema.safeParse(input);
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
  if (!o.login && !o.interactionUrl) {
    throw new TypeError("Portcullis: configure login (the built-in page) or interactionUrl (your own UI)");
  }
  const path = issuerURL.pathname === "/" ? "" : issuerURL.pathname;
  const registration = o.dynamicRegistration === undefined || o.dynamicRegistration === true ? {} : o.dynamicRegistration;
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
    interactionUrl: o.interactionUrl,
    clients: o.clients ?? [],
    dynamicRegistration: registration === false ? false : { ...registration, unusedClientTtlSeconds: registration.unusedClientTtlSeconds ?? 86_400 },
    clientMetadataDocuments: documents,
    outbound,
    accessTokenTtlSeconds: o.accessTokenTtlSeconds ?? 3600,
    refreshTokenTtlSeconds: o.refreshTokenTtlSeconds ?? 30 * 86_400,
    grantCacheSeconds: o.grantCacheSeconds ?? 2,
    refreshTokenReuseIntervalSeconds: o.refreshTokenReuseIntervalSeconds ?? 30,
    rateLimit: resolveRateLimit(o.rateLimit),
    clientAddress: { clientIp: o.clientIp, trustProxy: o.trustProxy ?? 0 },
    allowedHosts: resolveAllowedHosts(o.allowedHosts, issuerURL, "allowedHosts"),
    authorizationCodeTtlSeconds: o.authorizationCodeTtlSeconds ?? 60,
    authorizationRequestTtlSeconds: o.authorizationRequestTtlSeconds ?? 600,
    clockToleranceSeconds: o.clockToleranceSeconds ?? 30,
    secureCookies: !insecure,
    serviceName: o.serviceName ?? "Portcullis",
    now: o.now ?? Date.now,
    onEvent: o.onEvent ?? (() => {}),
    onError: o.onError ?? defaultOnError,
  };
}

function defaultOnError(error: unknown, context: { reason?: string }): void {
  if (context.reason) return;
  console.error("[portcullis] unexpected error", error instanceof Error ? error.message : error);
}
