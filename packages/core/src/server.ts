import { createClientRegistry, validateClientMetadata, type ClientRegistry } from "./clients/registry.js";
import { isOAuthError, OAuthError } from "./errors.js";
import type { RequestMeta, ServerContext } from "./context.js";
import { findGrant, isGrantLive, listGrants, revokeGrant, watchRevocations, type Grant } from "./tokens/grant-store.js";
import {
  authorizeHandler,
  completeAuthorization,
  consentHandler,
  consentPageHandler,
  denyAuthorization,
  loginHandler,
  describeAuthorization,
  type AuthorizationRequestInfo,
} from "./handlers/authorize.js";
import { introspectHandler } from "./handlers/introspect.js";
import { accountHandler, accountRevokeHandler, connectedApps, logoutHandler, revokeApp } from "./handlers/account.js";
import { authorizationServerMetadata, endpointPaths, openIdConfiguration } from "./handlers/metadata.js";
import { registerHandler, registrationManagementHandler } from "./handlers/register.js";
import { revokeHandler } from "./handlers/revoke.js";
import { tokenHandler } from "./handlers/token.js";
import { errorPage } from "./handlers/pages.js";
import { rememberBody } from "./http/body.js";
import { isAllowedHost } from "./http/host.js";
import { peerAddress, type ConnectionInfo } from "./http/peer.js";
import { createRateLimiter } from "./http/rate-limit.js";
import { oversizedRequestStatus } from "./http/request-limits.js";
import { jsonResponse, methodNotAllowedResponse, publicPreflightResponse, withPublicCors } from "./http/responses.js";
import { decodeComponent, isPlainPath, pathOf } from "./lib/url.js";
import { resolveOptions, type AuthorizationServerOptions } from "./options.js";
import { authInfoFromClaims, createKeySetVerifier, type VerifiedClaims } from "./resource/jwt-verifier.js";
import { StorageError } from "./storage/guarded.js";
import { createKeyManager, type KeyManager } from "./tokens/keys.js";
import { createSealer } from "./lib/seal.js";
import { isMemoryStore } from "./storage/memory.js";
import type { AuthInfo, ClientMetadata, TokenVerifier, User } from "./types.js";
import { createUpstream } from "./upstream/index.js";
import { UpstreamError } from "./upstream/provider.js";
import { upstreamCallbackHandler } from "./handlers/upstream.js";
import { BoundedMap } from "./lib/bounded-map.js";

/** Where RFC 8414 and OIDC discovery documents live, with the issuer's path appended. */
const METADATA_PREFIXES = ["/.well-known/oauth-authorization-server/", "/.well-known/openid-configuration/"];

type Handler = (request: Request, ctx: ServerContext, meta: RequestMeta) => Promise<Response>;

interface Route {
  methods: string[];
  handler: Handler;
  /** Public CORS (metadata, token, register, revoke); never on the authorization endpoint. */
  cors: boolean;
  /** Render failures as an HTML page rather than JSON (browser-facing endpoints). */
  page?: boolean;
}

/**
 * An OAuth 2.1 authorization server for MCP: one `fetch` for every endpoint (metadata,
 * authorize, token, register, revoke, introspect, JWKS), the token verifier its resource guard
 * uses, and the calls an app's own sign-in UI and account pages need. Made by
 * {@link createAuthorizationServer}.
 */
export interface AuthorizationServer extends TokenVerifier {
  /** The issuer identifier (RFC 8414 `issuer`), as configured. */
  readonly issuer: string;
  /** The canonical URIs of the resources tokens are issued for (the `resource` option). */
  readonly resources: string[];
  /**
   * The signing keys: the JWKS, the keys and their status, and rotating or withdrawing a key by
   * hand (see `signingKeyRotation` for rotation on a schedule).
   *
   * @example
   * ```ts
   * await server.keys.rotate();
   * console.log(await server.keys.list());
   * ```
   */
  readonly keys: KeyManager;
  /**
   * The RFC 8414 authorization server metadata document.
   *
   * @returns A fresh copy of the document, safe to change.
   */
  metadata(): Record<string, unknown>;
  /**
   * Serves the endpoints this server owns.
   *
   * @param request The request.
   * @param connection What the adapter knows of the connection: the peer address, and the
   *   body when it has already read it.
   * @returns The response, or `undefined` for any path the server does not own, so an adapter
   *   can hand the request to the next handler. Failures are answered as OAuth errors (or an
   *   error page on browser-facing endpoints), never thrown.
   *
   * @example
   * ```ts
   * const response = await server.handle(request);
   * if (response) return response;
   * return next(request);
   * ```
   */
  handle(request: Request, connection?: ConnectionInfo): Promise<Response | undefined>;
  /**
   * Whether {@link AuthorizationServer.handle} serves a request for `path`, so an adapter builds
   * no `Request` for the app's own paths.
   *
   * @param path The request's path, without the query.
   * @returns `true` when `handle` answers a `Response`, `false` when it answers `undefined`, and
   *   `undefined` for a path not in plain form (dot segments, percent-escapes), which `handle`
   *   decides on the parsed URL.
   */
  owns(path: string): boolean | undefined;
  /**
   * Like {@link AuthorizationServer.handle}, with a 404 for paths the server does not own.
   *
   * @param request The request.
   * @param connection What the adapter knows of the connection.
   * @returns The response.
   *
   * @example
   * ```ts
   * export default { fetch: server.fetch };
   * ```
   */
  fetch(request: Request, connection?: ConnectionInfo): Promise<Response>;
  /**
   * Verifies an access token for a resource: signature, `typ`, issuer, expiry, audience, and
   * that its grant has not been revoked.
   *
   * @param token The access token.
   * @param options.resource The canonical URI of the resource the token must be meant for.
   * @returns The token's {@link AuthInfo} (frozen; one object per token).
   * @throws {OAuthError} `invalid_token` when the token is invalid, expired, meant for another
   *   resource, or its grant was revoked.
   *
   * @example
   * ```ts
   * const auth = await server.verifyAccessToken(token, { resource: "https://mcp.example.com/mcp" });
   * console.log(auth.clientId, auth.scopes);
   * ```
   */
  verifyAccessToken(token: string, options: { resource: string }): Promise<AuthInfo>;
  /**
   * Like {@link AuthorizationServer.verifyAccessToken}, answering the error rather than throwing
   * it (the guard's hot path).
   *
   * @param token The access token.
   * @param options.resource The canonical URI of the resource the token must be meant for.
   * @returns The token's {@link AuthInfo}, or the `OAuthError("invalid_token")` to answer with.
   */
  checkAccessToken(token: string, options: { resource: string }): Promise<AuthInfo | OAuthError>;
  /**
   * {@link AuthorizationServer.checkAccessToken} without I/O, for a token this instance verified
   * (or refused) moments ago: its grant known live within `grantCacheSeconds`, its keys read
   * within the second. The guard asks it first, so a reused token costs no promise.
   *
   * @param token The access token.
   * @param options.resource The canonical URI of the resource the token must be meant for.
   * @returns What `checkAccessToken` would answer, or `undefined` when only it can tell.
   */
  checkCachedAccessToken(token: string, options: { resource: string }): AuthInfo | OAuthError | undefined;
  /**
   * The live grants of a user or of a client, for account pages and admin tools.
   *
   * @param owner `{ subject }` for a user's grants, `{ clientId }` for a client's.
   * @returns The grants, without their token claims.
   *
   * @example
   * ```ts
   * const grants = await server.listGrants({ subject: user.id });
   * ```
   */
  listGrants(owner: { subject: string } | { clientId: string }): Promise<GrantInfo[]>;
  /**
   * Revokes one grant (its access and refresh tokens), or every grant of a user or of a client.
   *
   * @param which `{ grantId }` for one grant, `{ subject }` or `{ clientId }` for all of theirs.
   * @returns How many grants were revoked.
   *
   * @example
   * ```ts
   * await server.revokeGrants({ grantId: grant.id });
   * ```
   */
  revokeGrants(which: { grantId: string } | { subject: string } | { clientId: string }): Promise<number>;
  /**
   * The applications a user allowed (remembered consents), for an account page of the app's own:
   * one per client, with the union of the scopes allowed and the last token issue or refresh.
   *
   * @param owner `{ subject }`: the user.
   * @returns The applications, most recently used first.
   *
   * @example
   * ```ts
   * for (const app of await server.listConsents({ subject: user.id })) console.log(app.clientName, app.scopes);
   * ```
   */
  listConsents(owner: { subject: string }): Promise<ConsentInfo[]>;
  /**
   * Revokes what a user allowed a client: the remembered consent (the next authorization asks
   * again) and every grant of theirs to it (refresh tokens at once; access tokens within
   * `grantCacheSeconds`). Other clients keep theirs.
   *
   * @param which `{ subject, clientId }`.
   * @returns How many grants were revoked.
   */
  revokeConsent(which: { subject: string; clientId: string }): Promise<number>;
  /**
   * For an app's own sign-in UI: what a pending authorization request asks for.
   *
   * @param requestId The `request_id` the server passed to the app's own page (`interactionUrl`).
   * @returns The request, or `undefined` when it is unknown or has expired.
   */
  getAuthorizationRequest(requestId: string): Promise<AuthorizationRequestInfo | undefined>;
  /**
   * For an app's own sign-in UI: approves a pending request for a signed-in user. The request is
   * used up.
   *
   * @param requestId The pending request's id.
   * @param user The signed-in user.
   * @param grant `scopes`: grant only these of the requested scopes (by default all of them).
   * @returns The redirect to the client with the authorization code, or an error page when the
   *   request has expired or was already used.
   * @throws {TypeError} When `user` has no `subject`.
   *
   * @example
   * ```ts
   * app.post("/login", async (c) => {
   *   const user = await signIn(c);
   *   return server.completeAuthorization(c.req.query("request_id")!, { subject: user.id });
   * });
   * ```
   */
  completeAuthorization(requestId: string, user: User, grant?: { scopes?: string[] }): Promise<Response>;
  /**
   * For an app's own sign-in UI: denies a pending request. The request is used up.
   *
   * @param requestId The pending request's id.
   * @returns The redirect to the client with `error=access_denied`, or an error page when the
   *   request has expired or was already used.
   */
  denyAuthorization(requestId: string): Promise<Response>;
  /**
   * Imports a client registered with another authorization server (say the MCP SDK's
   * `OAuthRegisteredClientsStore`), keeping its `client_id` and secret, so software that already
   * registered keeps its credentials. The metadata is validated as a registration is; the secret
   * is stored only as its SHA-256. The client gets no registration access token (RFC 7592
   * management is refused); a secret with an expiry (`client_secret_expires_at`) ends the record
   * then, as it ended the client before.
   *
   * @param client The client as the old server stored it: RFC 7591 metadata with `client_id`,
   *   and `client_secret`, `client_id_issued_at`, `client_secret_expires_at` when it had them.
   *   Without `token_endpoint_auth_method`, a client with a secret is `client_secret_post` (the
   *   MCP SDK's one method), one without is `none`.
   * @returns `{ imported: true, client }` with the stored metadata, or `{ imported: false }` when a
   *   client with this id exists already (left unchanged), so an import can run again.
   * @throws {TypeError} When the metadata is not valid, the secret has expired, or the id is
   *   taken by a configured client or would be read as a client ID metadata document URL.
   *
   * @example
   * ```ts
   * for (const client of await oldStore.allClients()) await server.importClient(client);
   * ```
   */
  importClient(client: ImportedClient): Promise<{ imported: true; client: ClientMetadata } | { imported: false }>;
}

/**
 * A client registered elsewhere, as {@link AuthorizationServer.importClient} takes it: RFC 7591
 * metadata (checked when imported) with its `client_id` and, when it has one, `client_secret`.
 */
export type ImportedClient = {
  client_id: string;
  client_secret?: string | undefined;
  [member: string]: unknown;
};

/** Whether this process has warned already that signing keys are stored unencrypted. */
let warnedPlainKeys = false;

/**
 * Creates the authorization server: one `fetch` for every endpoint, plus the calls an app's own
 * sign-in UI and its resource guard need.
 *
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1
 * @example
 * const server = createAuthorizationServer({
 *   issuer: "https://auth.example.com",
 *   resource: "https://mcp.example.com/mcp",
 *   scopes: { "mcp:tools": "Use the tools" },
 *   storage: createMemoryStore(),
 *   login: { verifyPassword: async ({ username, password }) => (await checkPassword(username, password)) ? { subject: username } : null },
 * });
 * export default { fetch: server.fetch };
 */
export function createAuthorizationServer(input: AuthorizationServerOptions): AuthorizationServer {
  const options = resolveOptions(input);
  if (!options.keyEncryption && !isMemoryStore(input.storage) && !warnedPlainKeys) {
    warnedPlainKeys = true;
    console.warn(
      "[portcullis] keyEncryptionKeys is not set: private signing keys are stored unencrypted, and a copy of the store can sign access tokens. Set keyEncryptionKeys (32 random bytes, base64url).",
    );
  }
  const keys = createKeyManager({
    storage: options.storage,
    alg: options.signingAlgorithm,
    now: options.now,
    rotationSeconds: options.signingKeyRotationSeconds,
    retainSeconds: options.accessTokenTtlSeconds + options.clockToleranceSeconds,
    ...(options.keyEncryption ? { sealer: createSealer(options.keyEncryption.keys, options.keyEncryption.encryptionKeyId) } : {}),
    onError: (error) => options.onError(error, {}),
    onEvent: options.onEvent,
  });
  const verifier = createKeySetVerifier(
    {
      issuer: options.issuer,
      clockToleranceSeconds: options.clockToleranceSeconds,
      maxLifetimeSeconds: options.accessTokenTtlSeconds + options.clockToleranceSeconds,
      now: options.now,
    },
    keys.jwks,
    keys.loadedJwks,
  );
  // A cached JWKS must not miss the next key when it starts signing: half a period at most.
  const jwksMaxAge = Math.min(300, options.signingKeyRotationSeconds === false ? 300 : Math.floor(options.signingKeyRotationSeconds / 2));
  const ctx: ServerContext = {
    options,
    clients: createClientRegistry(options.storage, options.clients, options.scopes, options.now, options.clientMetadataDocuments),
    keys,
    verifier,
    limiter: createRateLimiter(options.rateLimit, options.storage, options.now, options.onEvent),
    liveGrants: new BoundedMap(10_000),
    consentTouches: new BoundedMap(10_000),
  };
  watchRevocations(ctx);
  if (options.upstream) {
    ctx.upstream = createUpstream(options.upstream, {
      storage: options.storage,
      now: options.now,
      ttlSeconds: options.refreshTokenTtlSeconds,
      // The provider refused the grant's refresh token: the upstream sign-in is over, so is ours.
      onEnded: async (grantId) => {
        const grant = await findGrant(ctx, grantId);
        if (grant) await revokeGrant(ctx, grantId, grant.clientId, "upstream_grant_ended");
      },
    });
  }
  const paths = endpointPaths(options);
  const metadataBody = JSON.stringify(authorizationServerMetadata(options));
  const oidcBody = JSON.stringify(openIdConfiguration(options));
  const document =
    (body: string): Handler =>
    async () =>
      new Response(body, { headers: { "Content-Type": "application/json", "Cache-Control": "public, max-age=3600" } });

  const routes = new Map<string, Route>([
    [paths.oauthMetadata, { methods: ["GET", "HEAD"], handler: document(metadataBody), cors: true }],
    [paths.oidcMetadata, { methods: ["GET", "HEAD"], handler: document(oidcBody), cors: true }],
    [paths.oidcMetadataAppended, { methods: ["GET", "HEAD"], handler: document(oidcBody), cors: true }],
    [paths.authorize, { methods: ["GET", "POST"], handler: authorizeHandler, cors: false, page: true }],
    [
      paths.consent,
      {
        methods: ["GET", "POST"],
        handler: (request, ctx, meta) => (request.method === "GET" ? consentPageHandler(request, ctx) : consentHandler(request, ctx, meta)),
        cors: false,
        page: true,
      },
    ],
    [paths.token, { methods: ["POST"], handler: tokenHandler, cors: true }],
    [paths.revoke, { methods: ["POST"], handler: revokeHandler, cors: true }],
    [paths.introspect, { methods: ["POST"], handler: introspectHandler, cors: false }],
    [
      paths.jwks,
      {
        methods: ["GET", "HEAD"],
        handler: async () => jsonResponse(await keys.jwks(), { headers: { "Cache-Control": `public, max-age=${jwksMaxAge}` } }),
        cors: true,
      },
    ],
  ]);
  if (options.login?.verifyPassword) routes.set(paths.login, { methods: ["POST"], handler: loginHandler, cors: false, page: true });
  if (options.login?.verifyPassword && options.sessions) {
    routes.set(paths.logout, { methods: ["POST"], handler: logoutHandler, cors: false, page: true });
    routes.set(paths.account, { methods: ["GET"], handler: accountHandler, cors: false, page: true });
    routes.set(paths.accountRevoke, { methods: ["POST"], handler: accountRevokeHandler, cors: false, page: true });
  }
  if (ctx.upstream) routes.set(paths.upstreamCallback, { methods: ["GET"], handler: upstreamCallbackHandler, cors: false, page: true });
  if (options.dynamicRegistration) routes.set(paths.register, { methods: ["POST"], handler: registerHandler, cors: true });
  if (options.serveAtOriginRoot && options.issuerPath) {
    // MCP 2025-03-26 clients look at the MCP server's origin root, path dropped.
    for (const [alias, path] of [
      ["/.well-known/oauth-authorization-server", paths.oauthMetadata],
      ["/.well-known/openid-configuration", paths.oidcMetadata],
      ["/authorize", paths.authorize],
      ["/token", paths.token],
      ["/register", paths.register],
    ] as const) {
      const route = routes.get(path);
      if (route) routes.set(alias, route);
    }
  }
  const managementRoute: Route = { methods: ["GET", "PUT", "DELETE"], handler: registrationManagementHandler, cors: true };
  // A metadata path under this server's well-known prefixes that cannot even be decoded is no
  // other server's either: answer it rather than pass it on.
  const malformedRoute: Route = {
    methods: ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"],
    handler: async () => {
      throw new OAuthError("invalid_request", "malformed percent-encoding in the path");
    },
    cors: true,
  };
  const isMalformedMetadataPath = (pathname: string): boolean =>
    METADATA_PREFIXES.some((prefix) => pathname.startsWith(prefix)) && decodeComponent(pathname) === undefined;

  const run = async (request: Request, route: Route, meta: RequestMeta): Promise<Response> => {
    try {
      return await route.handler(request, ctx, meta);
    } catch (error) {
      if (isOAuthError(error)) {
        if (error.reason) options.onError(error, { request, reason: error.reason });
        if (error.code === "invalid_client") options.onEvent({ type: "client_auth.failed", clientId: undefined, reason: error.reason ?? "invalid_client" });
        if (route.page && error.status === 429) {
          return errorPage(options.serviceName, "Too many attempts. Wait a moment, then try again.", 429, error.headers);
        }
        return error.toResponse();
      }
      if (error instanceof UpstreamError) {
        // The identity provider is down or refuses this server: not the caller's fault, nor ours to hide.
        options.onError(error, { request, reason: `upstream_${error.failure}` });
        const description = "the identity provider could not be reached; try again shortly";
        return route.page
          ? errorPage(options.serviceName, "The identity provider could not be reached. Try again in a moment.", 502)
          : new OAuthError("temporarily_unavailable", description, { status: 502 }).toResponse();
      }
      options.onError(error, { request });
      // A storage outage is temporary: say so, and when to try again.
      const unavailable = error instanceof StorageError;
      const status = unavailable ? 503 : 500;
      if (route.page) {
        const page = errorPage(options.serviceName, "Something went wrong on our side. Try again in a moment.", status);
        if (unavailable) page.headers.set("Retry-After", "5");
        return page;
      }
      return new OAuthError("server_error", unavailable ? "storage is unavailable; try again shortly" : "an unexpected error occurred", {
        status,
        ...(unavailable ? { headers: { "Retry-After": "5" } } : {}),
      }).toResponse();
    }
  };

  const revoked = OAuthError.because("token_revoked", "the access token has been revoked");
  // One AuthInfo per verified token, built once and frozen so no handler can change it for the next.
  const infos = new WeakMap<object, AuthInfo>();
  const checkAccessToken = async (token: string, resource: string): Promise<AuthInfo | OAuthError> => {
    const claims = await verifier.check(token, resource);
    if (claims instanceof OAuthError) return claims;
    if (typeof claims.gid !== "string" || !(await isGrantLive(ctx, claims.gid))) return revoked;
    return infoFor(token, claims, resource);
  };
  /** The synchronous check: a remembered verdict and a grant known live (the same bound as `isGrantLive`'s cache), or undefined. */
  const checkCachedAccessToken = (token: string, resource: string): AuthInfo | OAuthError | undefined => {
    const claims = verifier.checkCached(token, resource);
    if (claims === undefined || claims instanceof OAuthError) return claims;
    if (typeof claims.gid !== "string") return revoked;
    const until = ctx.liveGrants.get(claims.gid);
    if (until === undefined || until <= options.now()) return undefined;
    return infoFor(token, claims, resource);
  };
  const infoFor = (token: string, claims: VerifiedClaims, resource: string): AuthInfo => {
    let info = infos.get(claims);
    if (!info) {
      const built = authInfoFromClaims(token, claims, resource);
      // The grant's upstream tokens, for tools: a handle, never the token itself in a claim.
      if (ctx.upstream) built.extra = { ...built.extra, upstream: ctx.upstream.tokens.access(claims.gid as string) };
      info = freezeAuthInfo(built);
      infos.set(claims, info);
    }
    return info;
  };

  /**
   * Serves the endpoints this server owns; answers `undefined` for any other path so an adapter
   * can hand the request to the next handler.
   */
  const routeFor = (pathname: string): Route | undefined =>
    routes.get(pathname) ??
    (options.dynamicRegistration && pathname.startsWith(`${paths.register}/`) ? managementRoute : undefined) ??
    (isMalformedMetadataPath(pathname) ? malformedRoute : undefined);

  const handle = async (request: Request, connection: ConnectionInfo = {}): Promise<Response | undefined> => {
    const pathname = pathOf(request.url);
    const route = routeFor(pathname);
    if (!route) return undefined;
    // DNS rebinding: a page elsewhere that resolves its own name to this loopback server.
    if (!isAllowedHost(request, options.allowedHosts)) {
      return route.page
        ? errorPage(options.serviceName, "This host name is not served here.", 403)
        : jsonResponse({ error: "forbidden", error_description: "host not allowed" }, { status: 403, noStore: true });
    }
    const oversized = oversizedRequestStatus(request);
    if (oversized) {
      const description = oversized === 414 ? "request URL too long" : "request headers too large";
      return route.page
        ? errorPage(options.serviceName, description, oversized)
        : new OAuthError("invalid_request", description, { status: oversized }).toResponse();
    }
    if (request.method === "OPTIONS") return route.cors ? publicPreflightResponse() : methodNotAllowedResponse(route.methods);
    if (!route.methods.includes(request.method)) return methodNotAllowedResponse(route.methods);
    if (connection.body !== undefined) rememberBody(request, connection.body);
    const response = await run(request, route, { ip: peerAddress(request, connection, options.clientAddress) });
    return route.cors ? withPublicCors(request, response) : response;
  };

  return {
    issuer: options.issuer,
    resources: options.resources,
    keys: { jwks: async () => structuredClone(await keys.jwks()), list: keys.list, rotate: keys.rotate, retire: keys.retire },
    metadata: () => JSON.parse(metadataBody) as Record<string, unknown>,
    handle,
    owns: (path: string): boolean | undefined => (isPlainPath(path) ? routeFor(path) !== undefined : undefined),
    async fetch(request: Request, connection?: ConnectionInfo): Promise<Response> {
      return (await handle(request, connection)) ?? jsonResponse({ error: "not_found" }, { status: 404 });
    },

    async verifyAccessToken(token: string, options: { resource: string }): Promise<AuthInfo> {
      const result = await checkAccessToken(token, resourceOption(options));
      if (result instanceof OAuthError) throw result;
      return result;
    },

    checkAccessToken: async (token: string, options: { resource: string }) => checkAccessToken(token, resourceOption(options)),

    checkCachedAccessToken: (token: string, options: { resource: string }) => checkCachedAccessToken(token, resourceOption(options)),

    listGrants: async (owner: { subject: string } | { clientId: string }): Promise<GrantInfo[]> =>
      (await listGrants(ctx, owner)).map(({ claims: _claims, revoked: _revoked, ...info }) => info),

    async revokeGrants(which: { grantId: string } | { subject: string } | { clientId: string }): Promise<number> {
      const grants = "grantId" in which ? [await findGrant(ctx, which.grantId)].filter((g): g is Grant => g !== undefined) : await listGrants(ctx, which);
      for (const grant of grants) await revokeGrant(ctx, grant.id, grant.clientId, "revoked_by_app");
      return grants.length;
    },

    listConsents: (owner: { subject: string }) => connectedApps(ctx, owner.subject),
    revokeConsent: (which: { subject: string; clientId: string }) => revokeApp(ctx, which.subject, which.clientId),

    getAuthorizationRequest: (requestId: string) => describeAuthorization(ctx, requestId),
    completeAuthorization: (requestId: string, user: User, grant: { scopes?: string[] } = {}) => completeAuthorization(ctx, requestId, user, grant.scopes),
    denyAuthorization: (requestId: string) => denyAuthorization(ctx, requestId),

    async importClient(client: ImportedClient) {
      const { metadata, secret, ttlSeconds } = importedClient(client, ctx.clients, options.scopes, options.now);
      return (await ctx.clients.importClient(metadata, secret, ttlSeconds)) ? { imported: true as const, client: metadata } : { imported: false as const };
    },
  };
}

export type { AuthorizationRequestInfo };

/** An application a user allowed: its client, the scopes allowed (the union), and when. */
export interface ConsentInfo {
  clientId: string;
  /** The client's `client_name` (client-supplied: show it as untrusted text). */
  clientName: string | undefined;
  scopes: string[];
  /** When the user first allowed it (ms since the epoch). */
  grantedAt: number;
  /** The last token issue or refresh (ms since the epoch). */
  lastUsedAt: number;
}

/** A live grant: one user's authorization of one client, for one resource and a set of scopes. */
export type GrantInfo = Omit<Grant, "claims" | "revoked">;

function freezeAuthInfo(info: AuthInfo): AuthInfo {
  Object.freeze(info.scopes);
  if (info.extra) Object.freeze(info.extra);
  return Object.freeze(info);
}

/**
 * The `resource` a token must be meant for. The MCP SDK calls `verifyAccessToken(token)` alone, so
 * a server handed to its `requireBearerAuth` as is lands here without one.
 */
function resourceOption(options: { resource: string } | undefined): string {
  if (typeof options?.resource === "string") return options.resource;
  throw new TypeError(
    "Portcullis: verifyAccessToken(token, { resource }) needs the resource the token must be meant for; for the MCP SDK's requireBearerAuth, pass toSdkVerifier(server) from @portcullis/mcp-sdk",
  );
}

/** An imported client's metadata, validated as a registration is; a `TypeError` names what is wrong. */
function importedClient(client: ImportedClient, registry: ClientRegistry, scopes: Record<string, string>, now: () => number) {
  if (typeof client !== "object" || client === null) throw new TypeError("Portcullis: importClient takes the client's metadata with its client_id");
  const { client_id: clientId, client_secret: secret, client_id_issued_at: issuedAt, client_secret_expires_at: secretExpiresAt, ...rest } = client;
  const name = typeof clientId === "string" ? clientId : String(clientId);
  const fail = (problem: string): never => {
    throw new TypeError(`Portcullis: importClient ${name}: ${problem}`);
  };
  if (typeof clientId !== "string" || !/^[\x21-\x7e]{1,255}$/.test(clientId)) fail("client_id must be 1 to 255 visible ASCII characters");
  if (/^https?:/i.test(clientId) || registry.isConfigured(clientId)) fail("this client_id is a URL or a configured client's");
  if (secret !== undefined && (typeof secret !== "string" || secret.length === 0)) fail("client_secret must be a non-empty string");
  const nowSeconds = Math.floor(now() / 1000);
  let ttlSeconds: number | undefined;
  if (typeof secretExpiresAt === "number" && secretExpiresAt > 0) {
    if (secretExpiresAt <= nowSeconds) fail("its client_secret has expired");
    ttlSeconds = secretExpiresAt - nowSeconds;
  }
  let validated: Omit<ClientMetadata, "client_id">;
  try {
    validated = validateClientMetadata({ token_endpoint_auth_method: secret ? "client_secret_post" : "none", ...rest }, scopes);
  } catch (error) {
    throw isOAuthError(error) ? new TypeError(`Portcullis: importClient ${name}: ${error.description ?? error.code}`) : error;
  }
  const usesSecret = validated.token_endpoint_auth_method === "client_secret_basic" || validated.token_endpoint_auth_method === "client_secret_post";
  if (usesSecret !== Boolean(secret))
    fail(
      secret
        ? `a client_secret with token_endpoint_auth_method ${validated.token_endpoint_auth_method}`
        : `token_endpoint_auth_method ${validated.token_endpoint_auth_method} needs its client_secret`,
    );
  const metadata: ClientMetadata = {
    ...validated,
    client_id: clientId,
    ...(typeof issuedAt === "number" ? { client_id_issued_at: issuedAt } : {}),
    ...(usesSecret ? { client_secret_expires_at: ttlSeconds === undefined ? 0 : nowSeconds + ttlSeconds } : {}),
  };
  return { metadata, secret: usesSecret ? secret : undefined, ttlSeconds };
}
