import { isOAuthError, OAuthError } from "../errors.js";
import { isAllowedHost, resolveAllowedHosts } from "../http/host.js";
import type { HeaderReader } from "../http/raw-headers.js";
import { jsonResponse } from "../http/responses.js";
import { verifyKnownKeys, type KeySpec } from "../lib/known-keys.js";
import { decodeStrictUTF8, readAtMost } from "../lib/stream.js";
import { configuredResource } from "../lib/resource.js";
import { isPlainPath, pathOf } from "../lib/url.js";
import type { AuthInfo, TokenVerifier } from "../types.js";
import { challengeAnswer, PlainAnswer, plainJson, type PlainResponse } from "./challenge.js";
import { createSessionCheck, verifySessionBindingOptions, type SessionBindingOptions } from "./session-binding.js";

/** Options of {@link createResourceGuard}. */
export interface ResourceGuardOptions {
  /** This server's canonical URL, e.g. `https://mcp.example.com/mcp`; tokens must name it in `aud`. */
  resource: string;
  /**
   * Issuers whose tokens are accepted, each exactly as its metadata's `issuer` (RFC 9728
   * `authorization_servers`). Default: the verifier's `issuer`, when it names one (the
   * authorization server itself, `createRemoteVerifier(...)`).
   */
  authorizationServers?: string[];
  /**
   * Verifies tokens: the authorization server itself, `createRemoteVerifier({ issuer })` for an
   * external one, or `jwtTokenVerifier(...)` for a separate one whose keys you know.
   */
  verifier: TokenVerifier;
  /** Scopes every request needs unless `authenticate` is told otherwise. */
  requiredScopes?: string[];
  /**
   * Broader scopes and the narrower ones each implies, e.g. `{ "mcp:admin": ["mcp:tools"] }`:
   * a token with `mcp:admin` satisfies a requirement for `mcp:tools` (transitively).
   */
  scopeHierarchy?: Record<string, string[]>;
  /**
   * MCP-aware requirements, on top of `requiredScopes`: scopes per JSON-RPC method and per tool
   * (for `tools/call`). Once the token passed, the guard reads the method and tool name from the
   * JSON-RPC body of a POST, so a call the token may not make gets the 403 challenge before the
   * MCP server sees it. It reads at most 1 MB: a longer body is refused with 413, one that is not
   * UTF-8 JSON with 400, never passed unchecked. `Mcp-Method` and `Mcp-Name` headers
   * (MCP 2026-07-28) must agree with the body. Names are matched as own keys only.
   */
  mcp?: { methods?: Record<string, string[]>; tools?: Record<string, string[]> };
  /** Scopes advertised in the protected resource metadata. Default: `requiredScopes`. */
  scopesSupported?: string[];
  /** A human-readable name (RFC 9728 `resource_name`). */
  resourceName?: string;
  /** A page about the resource (RFC 9728 `resource_documentation`). */
  resourceDocumentation?: string;
  /** Told of failures other than a bad token (for example an unreachable store): they answer 503. */
  onError?: (error: unknown, context: { request: GuardRequest }) => void;
  /**
   * Browser origins allowed to call the resource: the one list that drives both CORS and the
   * 403 for any other `Origin` (MCP Streamable HTTP, DNS rebinding). Default: the resource's own
   * origin. `"*"` allows every origin.
   */
  allowedOrigins?: string[] | "*";
  /**
   * `Host` values the resource answers (`name` or `name:port`); any other gets 403, against DNS
   * rebinding. Default: for a loopback resource, `localhost`, `127.0.0.1` and `[::1]`;
   * otherwise `"*"` (every host).
   */
  allowedHosts?: string[] | "*";
  /**
   * Binds each MCP session to its user: the first valid token that sends an `Mcp-Session-Id`
   * (minted by a stateful Streamable HTTP server) makes its subject and client the session's
   * owners, and a later request with that id and anyone else's token gets 404 `Session not found`,
   * as for an unknown session, without reaching the MCP server (MCP Security Best Practices
   * §Session Hijacking). A 404 rather than a 403: it says nothing of whether the session exists,
   * and an MCP client answers it by starting a session of its own.
   *
   * On by default, remembered in a memory store of this process, which is where a stateful MCP
   * server keeps its sessions too; give `storage` (the app's shared store) when one session is
   * served by several instances or Worker isolates (`createDurableObjectStore` on Cloudflare).
   * It costs one hash and one store read per request carrying the header, nothing for a
   * stateless server. `false` turns it off.
   */
  sessionBinding?: false | SessionBindingOptions;
}

/** The keys of {@link ResourceGuardOptions}: scope maps (`scopeHierarchy`, `mcp.methods`, `mcp.tools`) are the app's own records. */
const GUARD_KEYS = {
  resource: null,
  authorizationServers: null,
  verifier: null,
  requiredScopes: null,
  scopeHierarchy: null,
  mcp: { methods: null, tools: null },
  scopesSupported: null,
  resourceName: null,
  resourceDocumentation: null,
  onError: null,
  allowedOrigins: null,
  allowedHosts: null,
  sessionBinding: { storage: null, ttlSeconds: null, maxSessionsPerUser: null },
} satisfies Record<keyof ResourceGuardOptions, KeySpec | null>;

const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.every((entry) => typeof entry === "string");

/** Misconfiguration is a TypeError at construction that names the option and what it takes. */
function verifyGuardOptions(options: ResourceGuardOptions): void {
  if (typeof options !== "object" || options === null)
    throw new TypeError("Portcullis: createResourceGuard takes an options object ({ resource, authorizationServers, verifier })");
  verifyKnownKeys(options, GUARD_KEYS);
  if (typeof options.resource !== "string")
    throw new TypeError('Portcullis: resource is required: this server\'s canonical URL, e.g. "https://mcp.example.com/mcp"');
  const verifier = options.verifier as Partial<TokenVerifier> | undefined;
  if (
    typeof verifier !== "object" ||
    verifier === null ||
    (typeof verifier.verifyAccessToken !== "function" && typeof verifier.checkAccessToken !== "function")
  ) {
    throw new TypeError(
      "Portcullis: verifier is required: the authorization server itself, createRemoteVerifier({ issuer }) for an external one, or jwtTokenVerifier({ issuer, jwks })",
    );
  }
  const servers = options.authorizationServers ?? (typeof verifier.issuer === "string" ? [verifier.issuer] : undefined);
  if (!isStringList(servers) || servers.length === 0) {
    throw new TypeError(
      'Portcullis: authorizationServers is required: a non-empty list of the issuers whose tokens are accepted, e.g. ["https://auth.example.com"]',
    );
  }
  for (const name of ["requiredScopes", "scopesSupported"] as const) {
    if (options[name] !== undefined && !isStringList(options[name])) throw new TypeError(`Portcullis: ${name} must be a list of scope names`);
  }
  if (options.onError !== undefined && typeof options.onError !== "function") throw new TypeError("Portcullis: onError must be a function");
  verifySessionBindingOptions(options.sessionBinding);
}

/** The result of {@link ResourceGuard.authenticate}. */
export type AuthenticateResult = AuthInfo | Response;

/**
 * The result of {@link ResourceGuard.protect}: the request may go on, with its verified token and
 * the CORS headers to add to the route's own response; or the guard's answer, to send as is.
 */
export type ProtectResult =
  | { readonly ok: true; readonly auth: AuthInfo; readonly headers: Readonly<Record<string, string>> }
  | {
      readonly ok: false;
      readonly response: Response;
      /**
       * The same answer as its status, headers and body, when the guard made it (a challenge, a
       * refused host or origin): a Node adapter writes it without building the `Response`.
       */
      readonly plain?: PlainResponse;
    };

/** A refusal the guard made itself: the Fetch `Response` is built only when asked for. */
class Refusal {
  readonly ok = false;
  #response: Response | undefined;
  readonly plain: PlainAnswer;
  constructor(plain: PlainAnswer) {
    this.plain = plain;
  }
  get response(): Response {
    this.#response ??= this.plain.toResponse();
    return this.#response;
  }
}

/** What the guard decided for a request: the token's `AuthInfo`, or the answer to send. */
type Outcome = AuthInfo | PlainAnswer | Response;

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * What the guard reads of a request: a Fetch `Request` is one. An adapter may pass a lighter
 * view (for Node, `rawHeaders(req.rawHeaders)` as `headers`) so the hot path builds no `Request`.
 */
export interface GuardRequest {
  readonly method: string;
  /** The absolute URL; only its host is read (the DNS-rebinding check). */
  readonly url: string;
  readonly headers: HeaderReader;
}

/**
 * Reads the request body for the guard, at most `maxBytes` bytes: the bytes or text, or
 * `undefined` when the body is longer (answered 413). It may throw an {@link OAuthError} (its
 * status and error are answered); any other failure is answered 400. Called at most once, and only
 * after the access token passed.
 */
export type BodyReader = (maxBytes: number) => Promise<Uint8Array | string | undefined>;

/** What one call of {@link ResourceGuard.authenticate} requires beyond the guard's defaults. */
export interface AuthenticateOptions {
  /** Scopes this request needs instead of the guard's `requiredScopes`. */
  scopes?: string[];
  /**
   * With MCP-aware requirements (`mcp`), how the guard gets the JSON-RPC body of a POST: a
   * {@link BodyReader} it calls only once the token passed (an adapter reads its runtime's stream
   * there, so nothing is read for a request without a valid token), or the text already read.
   * Without it, a Fetch `Request` is read through a clone, left readable for the MCP server.
   */
  body?: BodyReader | string;
  /**
   * The JSON value a body parser already made of the body (Express's `req.body` after
   * `express.json()`), read instead of `body`.
   */
  parsedBody?: unknown;
}

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const MAX_TOKEN_LENGTH = 8192;
const CORS_ALLOW_HEADERS = "Authorization, Content-Type, MCP-Protocol-Version, Mcp-Session-Id, Mcp-Method, Mcp-Name, Last-Event-ID";
const CORS_EXPOSE_HEADERS = "WWW-Authenticate, MCP-Protocol-Version, Mcp-Session-Id";

/**
 * Guards an MCP server (or any protected resource): authenticates requests by their bearer
 * token, serves the RFC 9728 protected resource metadata, and answers CORS. Made by
 * {@link createResourceGuard}; the framework adapters wrap it.
 *
 * @example
 * ```ts
 * const guard = createResourceGuard({
 *   resource: "https://mcp.example.com/mcp",
 *   authorizationServers: ["https://auth.example.com"],
 *   verifier: jwtTokenVerifier({ issuer: "https://auth.example.com", jwks: new URL("https://auth.example.com/jwks") }),
 *   requiredScopes: ["mcp:tools"],
 * });
 * ```
 */
export interface ResourceGuard {
  /** The canonical resource URL (the `resource` option, canonicalised). */
  readonly resource: string;
  /**
   * Where the protected resource metadata is served: the resource's path suffixed to
   * `/.well-known/oauth-protected-resource` (RFC 9728 §3.1). Only a resource at the origin root
   * is described at the root well-known URL: the one document there cannot speak for several
   * resources sharing the origin, so a guard for `/mcp` leaves it to the app (RS-PRM-4).
   */
  readonly metadataUrl: string;
  /**
   * The RFC 9728 protected resource metadata document.
   *
   * @returns A fresh copy of the document, safe to change.
   */
  metadata(): Record<string, unknown>;
  /**
   * The metadata as a response (CORS `*`: it is public).
   *
   * @returns A 200 JSON response.
   */
  metadataResponse(): Response;
  /**
   * Whether {@link ResourceGuard.handle} serves a request for `path` (as the authorization
   * server's `owns` answers).
   *
   * @param path The request's path.
   * @returns `true` for the metadata path, `false` for any other plain path, `undefined` for a
   *   path that is not plain (dot segments, encoded slashes), which the guard does not judge.
   */
  owns(path: string): boolean | undefined;
  /**
   * Serves what the guard owns: the metadata at its well-known URL ({@link ResourceGuard.metadataUrl}),
   * and its CORS preflight.
   *
   * @param request The request.
   * @returns The response, or `undefined` for any other request (the caller handles it).
   *
   * @example
   * ```ts
   * const served = await guard.handle(request);
   * if (served) return served;
   * ```
   */
  handle(request: Request): Promise<Response | undefined>;
  /**
   * The CORS preflight answer for the protected route.
   *
   * @param request The `OPTIONS` request.
   * @returns 204 with the CORS headers, or 403 for an origin outside `allowedOrigins` or a
   *   `Host` outside `allowedHosts`.
   */
  preflight(request: GuardRequest): Response;
  /**
   * CORS headers to add to the protected route's own responses.
   *
   * @param request The request.
   * @returns The headers, or none when the request has no allowed `Origin`.
   */
  corsHeaders(request: GuardRequest): Record<string, string>;
  /**
   * Whether `authenticate` reads the body of a POST whose token passed (MCP-aware requirements
   * are configured). Otherwise it reads only the URL and headers, and the body is left for the
   * MCP server.
   */
  readonly inspectsBody: boolean;
  /**
   * Authenticates a request. Tokens in the query string are ignored (OAuth 2.1 §5.1). A `Host`
   * outside `allowedHosts` gets 403.
   *
   * The token is checked from the headers first: a request without a valid one gets its 401
   * (naming the route's scopes) with nothing of its body read. Only then, with MCP-aware
   * requirements, is the JSON-RPC body of a POST read (see {@link AuthenticateOptions.body}):
   * 413 past 1 MB, 400 when it is not UTF-8 JSON.
   *
   * @param request The request (a Fetch `Request`, or an adapter's lighter {@link GuardRequest}).
   * @param required What this request needs beyond the guard's defaults.
   * @returns The verified {@link AuthInfo}, or the `Response` to send: 401 with a Bearer
   *   challenge, 403 for missing scopes or a disallowed `Origin` or `Host`, 503 when the
   *   verifier fails (reported to `onError`). Never throws for a bad request.
   *
   * @example
   * ```ts
   * const result = await guard.authenticate(request);
   * if (result instanceof Response) return result;
   * return mcpHandler(request, { authInfo: result });
   * ```
   */
  authenticate(request: GuardRequest, required?: AuthenticateOptions): Promise<AuthenticateResult>;
  /**
   * The whole bearer check of a protected route, for adapters: the CORS preflight for `OPTIONS`
   * ({@link ResourceGuard.preflight}), otherwise {@link ResourceGuard.authenticate} and, when the
   * token passed, the CORS headers ({@link ResourceGuard.corsHeaders}). An exception in any of it
   * is answered by {@link ResourceGuard.serverError}.
   *
   * @param request The request (a Fetch `Request`, or an adapter's lighter {@link GuardRequest}).
   * @param required What this request needs beyond the guard's defaults.
   * @returns `{ ok: true, auth, headers }` to go on to the route, adding `headers` to its response;
   *   or `{ ok: false, response }` to send instead: the preflight, the challenge, or a 500. Never
   *   throws.
   *
   * @example
   * ```ts
   * const result = await guard.protect(request);
   * if (!result.ok) return result.response;
   * const response = await mcpHandler(request, { authInfo: result.auth });
   * for (const [name, value] of Object.entries(result.headers)) response.headers.set(name, value);
   * return response;
   * ```
   */
  protect(request: GuardRequest, required?: AuthenticateOptions): Promise<ProtectResult>;
  /**
   * For adapters: reports a failure of the guard or of the guarded handler to `onError` (by
   * default the message alone to `console.error`) and answers a bare `server_error` 500 with
   * `Cache-Control: no-store`, never a message or stack trace.
   *
   * @param error What was thrown.
   * @param request The request being served (for the CORS headers and `onError`).
   * @returns The 500 response.
   */
  serverError(error: unknown, request: GuardRequest): Response;
}

/**
 * Guards a protected resource: serves its RFC 9728 metadata and turns a request into a verified
 * {@link AuthInfo} or the exact 401/403 challenge an MCP client expects.
 *
 * @param options The resource, the accepted authorization servers, the verifier and the policy.
 * @throws {TypeError} When an option is missing, unknown or malformed; the message names it.
 * @see https://www.rfc-editor.org/rfc/rfc9728
 * @example
 * const guard = createResourceGuard({ resource: "https://mcp.example.com/mcp", authorizationServers: [issuer], verifier: server });
 * const result = await guard.authenticate(request);
 * if (result instanceof Response) return result;
 */
export function createResourceGuard(options: ResourceGuardOptions): ResourceGuard {
  verifyGuardOptions(options);
  const resource = configuredResource(options.resource);
  const resourceURL = new URL(resource);
  const resourcePath = resourceURL.pathname === "/" ? "" : resourceURL.pathname.replace(/\/$/, "");
  const metadataPath = `/.well-known/oauth-protected-resource${resourcePath}`;
  const metadataUrl = `${resourceURL.origin}${metadataPath}`;
  const requiredScopes = options.requiredScopes ?? [];
  const implied = impliedScopes(options.scopeHierarchy ?? {});
  // Maps of own entries only: a method or tool named `constructor` or `__proto__` matches nothing.
  const methodScopes = ownEntries(options.mcp?.methods);
  const toolScopes = ownEntries(options.mcp?.tools);
  const inspectsBody = options.mcp !== undefined;
  const check = options.verifier.checkAccessToken?.bind(options.verifier);
  const checkCached = options.verifier.checkCachedAccessToken?.bind(options.verifier);
  const allowedOrigins = options.allowedOrigins ?? [resourceURL.origin];
  const allowedHosts = resolveAllowedHosts(options.allowedHosts, resourceURL, "allowedHosts");
  /** Each token's scopes with those they imply, kept as long as the verifier keeps its `AuthInfo`. */
  const heldScopes = new WeakMap<readonly string[], Set<string>>();
  const HOST_REFUSED = plainJson(403, { error: "forbidden", error_description: "host not allowed" }, {}, true);
  const ORIGIN_REFUSED = plainJson(403, { error: "forbidden", error_description: "origin not allowed" });
  const hostRefused = () => HOST_REFUSED.toResponse();
  const sessionOwner = createSessionCheck(options.sessionBinding);

  const metadata: Record<string, unknown> = {
    resource,
    authorization_servers: options.authorizationServers ?? [options.verifier.issuer!],
    bearer_methods_supported: ["header"],
  };
  const scopesSupported = (options.scopesSupported ?? requiredScopes).filter((s) => s !== "offline_access");
  if (scopesSupported.length > 0) metadata.scopes_supported = scopesSupported;
  if (options.resourceName) metadata.resource_name = options.resourceName;
  if (options.resourceDocumentation) metadata.resource_documentation = options.resourceDocumentation;
  const metadataBody = JSON.stringify(metadata);

  const isAllowedOrigin = (origin: string) => allowedOrigins === "*" || allowedOrigins.includes(origin);
  /** CORS headers for a request from an allowed browser origin. */
  const corsHeaders = (request: GuardRequest): Record<string, string> => corsFor(request) ?? {};
  /** The CORS headers, or `undefined` for a request without an allowed `Origin`. */
  const corsFor = (request: GuardRequest): Record<string, string> | undefined => {
    const origin = request.headers.get("Origin");
    if (!origin || !isAllowedOrigin(origin)) return undefined;
    return {
      "Access-Control-Allow-Origin": allowedOrigins === "*" ? "*" : origin,
      "Access-Control-Expose-Headers": CORS_EXPOSE_HEADERS,
      ...(allowedOrigins === "*" ? {} : { Vary: "Origin" }),
    };
  };

  /**
   * The challenges for the route's own scopes without CORS, by error and description: made once,
   * so a request without a valid token costs a lookup. Descriptions are the guard's and the
   * verifier's fixed texts; the map stops growing at a bound all the same.
   */
  const plainChallenges = new Map<string, PlainAnswer>();
  const challenge = (request: GuardRequest, error?: "invalid_request" | "invalid_token", description?: string, scopes = requiredScopes): PlainAnswer => {
    const make = (cors?: Record<string, string>) =>
      challengeAnswer({ resourceMetadata: metadataUrl, ...(error ? { error } : {}), ...(description ? { description } : {}), scopes }, cors);
    const cors = corsFor(request);
    if (cors || scopes !== requiredScopes) return make(cors);
    const key = `${error ?? ""}\n${description ?? ""}`;
    let answer = plainChallenges.get(key);
    if (!answer) {
      answer = make();
      if (plainChallenges.size < 256) plainChallenges.set(key, answer);
    }
    return answer;
  };

  /** For a request in an MCP session someone else opened: the 404 of an unknown session (RS-TOK-6). */
  const sessionRefusal = async (request: GuardRequest, info: AuthInfo): Promise<Response | undefined> => {
    const sessionId = sessionOwner ? request.headers.get("Mcp-Session-Id") : null;
    if (sessionId === null) return undefined;
    try {
      const verdict = await sessionOwner!(sessionId, resource, info);
      if (verdict === "owner") return undefined;
      if (verdict === "quota") {
        return jsonResponse(
          { jsonrpc: "2.0", error: { code: -32001, message: "Too many sessions for this user; end some and retry" }, id: null },
          { status: 429, headers: { ...corsHeaders(request), "Retry-After": "60" }, noStore: true },
        );
      }
    } catch (error) {
      // Never fail open: the session's owner could not be checked right now.
      (options.onError ?? reportError)(error, { request });
      return jsonResponse(
        { error: "server_error", error_description: "the session could not be checked right now" },
        { status: 503, headers: { ...corsHeaders(request), "Retry-After": "5" }, noStore: true },
      );
    }
    return jsonResponse(
      { jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null },
      { status: 404, headers: corsHeaders(request), noStore: true },
    );
  };

  /** Passed tokens' results without CORS headers, one per `AuthInfo`: a reused token allocates none. */
  const passed = new WeakMap<AuthInfo, ProtectResult>();
  const settle = (request: GuardRequest, outcome: Outcome): ProtectResult => {
    if (outcome instanceof PlainAnswer) return new Refusal(outcome);
    if (outcome instanceof Response) return { ok: false, response: outcome };
    const cors = corsFor(request);
    if (cors) return { ok: true, auth: outcome, headers: cors };
    let result = passed.get(outcome);
    if (!result) {
      result = Object.freeze({ ok: true, auth: outcome, headers: NO_HEADERS });
      passed.set(outcome, result);
    }
    return result;
  };

  /**
   * The guard's decision. Synchronous as far as it can be: the header checks, and a token the
   * verifier answers for without I/O (`checkCachedAccessToken`: verified moments ago, grant known
   * live) when neither the session binding nor the body need reading; otherwise a promise.
   */
  const decide = (request: GuardRequest, required: AuthenticateOptions): Outcome | Promise<Outcome> => {
    if (!isAllowedHost(request, allowedHosts)) return HOST_REFUSED;
    const origin = request.headers.get("Origin");
    if (origin && !isAllowedOrigin(origin)) return ORIGIN_REFUSED;
    // The token first, from the headers alone: nothing of the body is read for a request without one.
    const scopes = required.scopes ?? requiredScopes;
    const header = request.headers.get("Authorization");
    if (!header) return challenge(request, undefined, undefined, scopes);
    const space = header.indexOf(" ");
    const scheme = space === -1 ? header : header.slice(0, space);
    if (scheme.toLowerCase() !== "bearer") return challenge(request, undefined, undefined, scopes);
    const token = header.slice(space + 1);
    if (token.includes(",")) return challenge(request, "invalid_request", "one Authorization header, one token", scopes);
    if (space === -1 || token.length > MAX_TOKEN_LENGTH) return challenge(request, "invalid_token", "the access token is malformed", scopes);
    let known: AuthInfo | OAuthError | undefined;
    try {
      known = checkCached?.(token, { resource });
    } catch {
      // The full check below answers for it (a 503 when the verifier fails).
      known = undefined;
    }
    // A token that verified is well-formed (a JWT's characters are all b64token's): the syntax
    // check, a scan of the whole token, is for the others, before anything else about them.
    if ((known === undefined || isOAuthError(known)) && !B64TOKEN.test(token)) {
      return challenge(request, "invalid_token", "the access token is malformed", scopes);
    }
    if (isOAuthError(known)) return challenge(request, "invalid_token", known.description, scopes);
    const readsMore = (sessionOwner !== undefined && request.headers.get("Mcp-Session-Id") !== null) || (inspectsBody && request.method === "POST");
    if (known && !readsMore) return scopeVerdict(request, known, scopes);
    return verified(request, required, token, scopes, known);
  };

  /** The rest of the decision, with I/O: the verifier, the session binding, the JSON-RPC body. */
  const verified = async (
    request: GuardRequest,
    required: AuthenticateOptions,
    token: string,
    routeScopes: string[],
    known: AuthInfo | undefined,
  ): Promise<Outcome> => {
    let scopes = routeScopes;
    let info: AuthInfo | OAuthError;
    if (known) info = known;
    else {
      try {
        info = check ? await check(token, { resource }) : await options.verifier.verifyAccessToken(token, { resource });
      } catch (error) {
        if (!isOAuthError(error) || error.code !== "invalid_token") {
          // Never fail open, never a stack trace: the token could not be checked right now.
          (options.onError ?? reportError)(error, { request });
          return jsonResponse(
            { error: "server_error", error_description: "the access token could not be verified right now" },
            { status: 503, headers: { ...corsHeaders(request), "Retry-After": "5" }, noStore: true },
          );
        }
        info = error;
      }
    }
    if (isOAuthError(info)) return challenge(request, "invalid_token", info.description, scopes);
    const foreignSession = await sessionRefusal(request, info);
    if (foreignSession) return foreignSession;
    if (inspectsBody && request.method === "POST") {
      // The requirements depend on the body: what cannot be read whole and parsed is refused, never passed.
      const body = await jsonBodyOf(request, required);
      if (!body.ok) return body.error.toResponse({ headers: corsHeaders(request) });
      const operation = mcpOperation(request, body.value);
      if (operation === "mismatch") return challenge(request, "invalid_request", "Mcp-Method or Mcp-Name does not match the body", scopes);
      scopes = union(
        scopes,
        ...operation.map(({ method, tool }) => [...(methodScopes.get(method) ?? []), ...(tool === undefined ? [] : (toolScopes.get(tool) ?? []))]),
      );
    }
    return scopeVerdict(request, info, scopes);
  };

  /** The token's `AuthInfo` when it holds every scope needed, else the 403 challenge. */
  const scopeVerdict = (request: GuardRequest, info: AuthInfo, scopes: string[]): Outcome => {
    let held = heldScopes.get(info.scopes);
    if (!held) {
      held = new Set(info.scopes.flatMap((s) => [s, ...(implied.get(s) ?? [])]));
      if (Object.isFrozen(info.scopes)) heldScopes.set(info.scopes, held);
    }
    for (const scope of scopes) {
      if (!held.has(scope)) {
        // Every scope the operation needs, in one challenge, plus those the token already has:
        // a client that re-authorizes with this scope alone keeps what it had (step-up grants the union).
        return challengeAnswer(
          {
            resourceMetadata: metadataUrl,
            error: "insufficient_scope",
            description: "the access token lacks a required scope",
            scopes: union(scopes, info.scopes),
          },
          corsFor(request),
        );
      }
    }
    return info;
  };

  const guard: ResourceGuard = {
    resource,
    metadataUrl,
    metadata: () => JSON.parse(metadataBody) as Record<string, unknown>,

    metadataResponse(): Response {
      return new Response(metadataBody, {
        headers: {
          "Content-Type": "application/json",
          "Cache-Control": "public, max-age=3600",
          "Access-Control-Allow-Origin": "*",
        },
      });
    },

    // The root well-known URL is the metadata path of a resource at the origin root, and of no other.
    owns: (path: string): boolean | undefined => (isPlainPath(path) ? path === metadataPath : undefined),

    async handle(request: Request): Promise<Response | undefined> {
      if (pathOf(request.url) !== metadataPath) return undefined;
      if (!isAllowedHost(request, allowedHosts)) return hostRefused();
      if (request.method === "OPTIONS") {
        return new Response(null, {
          status: 204,
          headers: {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "GET, OPTIONS",
            "Access-Control-Allow-Headers": "MCP-Protocol-Version, Content-Type",
            "Access-Control-Max-Age": "86400",
          },
        });
      }
      if (request.method !== "GET" && request.method !== "HEAD") {
        return jsonResponse({ error: "invalid_request", error_description: "use GET" }, { status: 405, headers: { Allow: "GET, HEAD, OPTIONS" } });
      }
      return this.metadataResponse();
    },

    preflight(request: GuardRequest): Response {
      if (!isAllowedHost(request, allowedHosts)) return hostRefused();
      const origin = request.headers.get("Origin");
      if (origin && !isAllowedOrigin(origin)) return jsonResponse({ error: "forbidden", error_description: "origin not allowed" }, { status: 403 });
      return new Response(null, {
        status: 204,
        headers: {
          ...corsHeaders(request),
          "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
          "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
          "Access-Control-Max-Age": "86400",
        },
      });
    },

    corsHeaders,

    inspectsBody,

    async authenticate(request: GuardRequest, required: AuthenticateOptions = {}): Promise<AuthenticateResult> {
      const decided = decide(request, required);
      const outcome = decided instanceof Promise ? await decided : decided;
      return outcome instanceof PlainAnswer ? outcome.toResponse() : outcome;
    },

    protect(request: GuardRequest, required: AuthenticateOptions = {}): Promise<ProtectResult> {
      try {
        if (request.method === "OPTIONS") return Promise.resolve({ ok: false, response: guard.preflight(request) });
        const decided = decide(request, required);
        if (decided instanceof Promise) {
          return decided.then(
            (outcome) => settle(request, outcome),
            (error: unknown) => ({ ok: false, response: guard.serverError(error, request) }),
          );
        }
        return Promise.resolve(settle(request, decided));
      } catch (error) {
        return Promise.resolve({ ok: false, response: guard.serverError(error, request) });
      }
    },

    serverError(error: unknown, request: GuardRequest): Response {
      try {
        if (options.onError) options.onError(error, { request });
        else console.error("[portcullis] request failed", error instanceof Error ? error.message : error);
      } catch {
        // A failing error hook changes nothing about the answer.
      }
      return jsonResponse({ error: "server_error" }, { status: 500, headers: corsHeaders(request), noStore: true });
    },
  };
  return guard;
}

function reportError(error: unknown): void {
  console.error("[portcullis] token verification failed", error instanceof Error ? error.message : error);
}

const union = (...lists: string[][]): string[] => [...new Set(lists.flat())];

/** A record's own entries as a Map (never an inherited key such as `constructor`). */
function ownEntries(record: Record<string, string[]> | undefined): Map<string, string[]> {
  return new Map(record ? Object.entries(record) : []);
}

/** For each scope, every narrower scope it implies, following the hierarchy transitively. */
function impliedScopes(hierarchy: Record<string, string[]>): Map<string, string[]> {
  const direct = ownEntries(hierarchy);
  const closure = new Map<string, string[]>();
  for (const broad of direct.keys()) {
    const seen = new Set<string>();
    const stack = [...(direct.get(broad) ?? [])];
    while (stack.length > 0) {
      const scope = stack.pop()!;
      if (seen.has(scope) || scope === broad) continue;
      seen.add(scope);
      stack.push(...(direct.get(scope) ?? []));
    }
    closure.set(broad, [...seen]);
  }
  return closure;
}

/** Largest JSON-RPC body the guard reads; a longer one is refused with 413. */
export const MAX_MCP_BODY = 1024 * 1024;

const bodyError = (description: string, status = 400) => ({ ok: false as const, error: new OAuthError("invalid_request", description, { status }) });

/**
 * The JSON-RPC body of a POST, through one limit whether or not a length is declared, parsed; or
 * the error to answer when it cannot be read whole (413) or parsed (400).
 */
async function jsonBodyOf(request: GuardRequest, required: AuthenticateOptions): Promise<{ ok: true; value: unknown } | { ok: false; error: OAuthError }> {
  if (required.parsedBody !== undefined) return { ok: true, value: required.parsedBody };
  let raw: Uint8Array | string | undefined;
  if (typeof required.body === "string") {
    raw = required.body;
  } else {
    const declared = request.headers.get("Content-Length");
    if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > MAX_MCP_BODY) return bodyError("request body too large", 413);
    const read = required.body ?? fetchBodyReader(request);
    try {
      raw = await read(MAX_MCP_BODY);
    } catch (error) {
      // An OAuthError (of any bundled copy) says what to answer; anything else is a body that could not be read.
      return isOAuthError(error) ? { ok: false, error } : bodyError("the request body could not be read");
    }
  }
  if (raw === undefined) return bodyError("request body too large", 413);
  let text: string;
  if (typeof raw === "string") {
    // At most 3 bytes of UTF-8 per UTF-16 unit: measure only what could be over the limit.
    if (raw.length * 3 > MAX_MCP_BODY && new TextEncoder().encode(raw).byteLength > MAX_MCP_BODY) return bodyError("request body too large", 413);
    text = raw;
  } else {
    if (raw.byteLength > MAX_MCP_BODY) return bodyError("request body too large", 413);
    try {
      text = decodeStrictUTF8(raw);
    } catch {
      return bodyError("request body is not valid UTF-8");
    }
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return bodyError("request body is not JSON");
  }
}

/** Reads a Fetch `Request`'s body through a clone, leaving it readable; a view without one is a bug in its adapter. */
function fetchBodyReader(request: GuardRequest): BodyReader {
  if (!("clone" in request) || typeof request.clone !== "function") {
    throw new TypeError("Portcullis: this guard reads the JSON-RPC body (mcp scopes); pass `body` to authenticate");
  }
  return (maxBytes) => readAtMost((request as Request).clone().body, maxBytes);
}

const own = (value: object, key: string): unknown => (Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined);

/**
 * The JSON-RPC operations of an MCP POST (one, or several in a batch), or "mismatch" when the
 * `Mcp-Method` / `Mcp-Name` headers disagree with the body. A message without a method (a
 * response to the server) is no operation.
 */
function mcpOperation(request: GuardRequest, body: unknown): { method: string; tool?: string }[] | "mismatch" {
  const operations: { method: string; tool?: string }[] = [];
  for (const message of Array.isArray(body) ? body : [body]) {
    if (typeof message !== "object" || message === null) continue;
    const method = own(message, "method");
    if (typeof method !== "string") continue;
    const params = own(message, "params");
    const name = method === "tools/call" && typeof params === "object" && params !== null ? own(params, "name") : undefined;
    operations.push(typeof name === "string" ? { method, tool: name } : { method });
  }
  const headerMethod = request.headers.get("Mcp-Method");
  const headerName = request.headers.get("Mcp-Name");
  if (headerMethod !== null && (operations.length !== 1 || operations[0]!.method !== headerMethod)) return "mismatch";
  if (headerName !== null && (operations.length !== 1 || operations[0]!.tool !== headerName)) return "mismatch";
  return operations;
}
