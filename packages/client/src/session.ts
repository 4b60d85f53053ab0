import * as oauth from "oauth4webapi";
import { discover, type Discovery } from "./discovery.js";
import { PortcullisClientError } from "./errors.js";
import { createFileStore } from "./file-store.js";
import { startLoopbackReceiver } from "./loopback.js";
import { createMemoryStore, sessionKey, STORE_FORMAT_VERSION, type StoredClient, type StoredSession, type TokenStore } from "./store.js";
import { isLoopback, verifyServerURL } from "./url-policy.js";

/** Options shared by every client operation. */
export interface ClientOptions {
  /** Where registrations and tokens live; default: the file store (Node), else memory. */
  store?: TokenStore;
  fetch?: typeof fetch;
  /** `client_name` for dynamic registration; default `"Portcullis CLI"`. */
  clientName?: string;
  /** A Client ID Metadata Document URL (https, with a path): the `client_id` where the server supports them. */
  clientMetadataUrl?: string;
  /** Pre-registered credentials: used as given, before any registration. */
  clientId?: string;
  clientSecret?: string;
  /** For pre-registered clients: `none`, `client_secret_basic`, `client_secret_post` or `private_key_jwt`. */
  tokenEndpointAuthMethod?: string;
  /** For `private_key_jwt`: the private key (and its `kid`) the client signs assertions with. */
  privateKey?: { key: CryptoKey; kid?: string };
}

/** Options of {@link signIn}. */
export interface SignInOptions extends ClientOptions {
  /** Scopes to request; default: the challenge's `scope`, else the resource's `scopes_supported`. */
  scope?: string;
  /** Opens the authorization URL (a browser, or printing it); called once. */
  openUrl: (url: URL) => void | Promise<void>;
  /** How long to wait for the browser; default 5 minutes. */
  timeoutMs?: number;
  /** Discovery already done (for step-up, with the 403 challenge). */
  discovery?: Discovery;
}

/** Refresh this long before expiry. */
export const REFRESH_MARGIN_SECONDS = 60;

/** The store in effect: the given one, else the file store under Node, else memory. */
export function resolveStore(store: TokenStore | undefined): TokenStore {
  if (store) return store;
  const node = (globalThis as { process?: { getBuiltinModule?: unknown } }).process?.getBuiltinModule;
  if (node) return createFileStore();
  memoryFallback ??= createMemoryStore();
  return memoryFallback;
}
let memoryFallback: TokenStore | undefined;

function httpOptions(url: string, fetchFn: typeof fetch | undefined): { [oauth.allowInsecureRequests]?: boolean; [oauth.customFetch]?: typeof fetch } {
  const parsed = new URL(url);
  return {
    ...(parsed.protocol === "http:" && isLoopback(parsed) ? { [oauth.allowInsecureRequests]: true } : {}),
    ...(fetchFn ? { [oauth.customFetch]: fetchFn } : {}),
  };
}

/** The oauth4webapi client authentication for a stored client. */
export function clientAuthentication(
  client: Pick<StoredClient, "client_secret" | "token_endpoint_auth_method">,
  options: ClientOptions = {},
): oauth.ClientAuth {
  switch (client.token_endpoint_auth_method) {
    case "private_key_jwt":
      if (!options.privateKey) throw new PortcullisClientError("invalid_client", "private_key_jwt needs a privateKey");
      return oauth.PrivateKeyJwt(options.privateKey);
    case "client_secret_post":
      return oauth.ClientSecretPost(client.client_secret ?? "");
    case "client_secret_basic":
      return clientSecretBasic(client.client_secret ?? "");
    default:
      return oauth.None();
  }
}

/**
 * `client_secret_basic` (RFC 6749 §2.3.1): the ID and secret form-encoded, as `URLSearchParams`
 * encodes them, then Base64 in a Basic header. (oauth4webapi also escapes characters such as
 * `-` that form encoding leaves alone, which servers that skip the decoding step reject.)
 */
function clientSecretBasic(secret: string): oauth.ClientAuth {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return (_as, client, _body, headers) => {
    const credentials = `${encode(client.client_id)}:${encode(secret)}`;
    const bytes = new TextEncoder().encode(credentials);
    headers.set("authorization", `Basic ${btoa(String.fromCharCode(...bytes))}`);
  };
}

/** The auth method for a client with a secret, from what the server accepts (RFC 8414 default: basic). */
function secretMethod(as: oauth.AuthorizationServer): string {
  const supported = as.token_endpoint_auth_methods_supported;
  if (!supported?.length || supported.includes("client_secret_basic")) return "client_secret_basic";
  return supported.includes("client_secret_post") ? "client_secret_post" : "client_secret_basic";
}

/** Union of space-separated scope lists, in first-seen order. */
export function unionScopes(...lists: (string | undefined)[]): string | undefined {
  const all = [...new Set(lists.flatMap((l) => (l ?? "").split(/\s+/).filter(Boolean)))];
  return all.length ? all.join(" ") : undefined;
}

/** The scope to ask for: explicit, else the challenge's, else the resource's `scopes_supported`. */
export function selectScope(discovery: Discovery, explicit?: string): string | undefined {
  if (explicit) return explicit;
  if (discovery.challenge?.scope) return discovery.challenge.scope;
  const supported = discovery.resourceMetadata?.scopes_supported;
  if (Array.isArray(supported) && supported.every((s) => typeof s === "string") && supported.length) return supported.join(" ");
  return undefined;
}

/** Registers with the authorization server (RFC 7591). */
async function registerClient(discovery: Discovery, redirectUri: string, scope: string | undefined, options: ClientOptions): Promise<StoredClient> {
  const as = discovery.authorizationServer;
  const endpoint = verifyServerURL(as.registration_endpoint, "registration_endpoint");
  const body = {
    client_name: options.clientName ?? "Portcullis CLI",
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
    ...(scope ? { scope } : {}),
  };
  const response = await (options.fetch ?? fetch)(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
    redirect: "manual",
    signal: AbortSignal.timeout(15_000),
  });
  const json = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (!response.ok || typeof json?.client_id !== "string") {
    const error = typeof json?.error === "string" ? json.error : "registration_failed";
    const description = typeof json?.error_description === "string" ? `: ${json.error_description}` : "";
    throw new PortcullisClientError(error, `dynamic client registration at ${endpoint.href} failed (${response.status} ${error}${description})`);
  }
  const secret = typeof json.client_secret === "string" ? json.client_secret : undefined;
  const method = typeof json.token_endpoint_auth_method === "string" ? json.token_endpoint_auth_method : secret ? secretMethod(as) : "none";
  return {
    version: STORE_FORMAT_VERSION,
    issuer: discovery.issuer,
    client_id: json.client_id,
    ...(secret ? { client_secret: secret } : {}),
    token_endpoint_auth_method: method,
    redirect_uris: Array.isArray(json.redirect_uris) ? (json.redirect_uris as string[]) : [redirectUri],
    source: "dynamic",
    ...(typeof json.registration_client_uri === "string" ? { registration_client_uri: json.registration_client_uri } : {}),
    ...(typeof json.registration_access_token === "string" ? { registration_access_token: json.registration_access_token } : {}),
    created_at: Math.floor(Date.now() / 1000),
  };
}

/** The port of a stored loopback redirect URI, to listen on again so the registration stays valid. */
function loopbackPort(client: StoredClient | undefined): number | undefined {
  const uri = client?.redirect_uris.find((u) => u.startsWith("http://127.0.0.1:"));
  if (!uri) return undefined;
  const port = Number(new URL(uri).port);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

/**
 * The client to sign in with, in this order: pre-registered credentials; a Client ID Metadata
 * Document URL where the server supports them; the registration stored for this issuer (keyed by
 * issuer, so a different server never sees it) if it lists `redirectUri`; else a new dynamic
 * registration, stored for next time.
 */
async function clientFor(
  discovery: Discovery,
  redirectUri: string,
  scope: string | undefined,
  store: TokenStore,
  options: ClientOptions,
): Promise<StoredClient> {
  const as = discovery.authorizationServer;
  const base = {
    version: STORE_FORMAT_VERSION,
    issuer: discovery.issuer,
    redirect_uris: [redirectUri],
    created_at: Math.floor(Date.now() / 1000),
  } satisfies Partial<StoredClient>;
  if (options.clientId) {
    return {
      ...base,
      client_id: options.clientId,
      ...(options.clientSecret ? { client_secret: options.clientSecret } : {}),
      token_endpoint_auth_method:
        options.tokenEndpointAuthMethod ?? (options.privateKey ? "private_key_jwt" : options.clientSecret ? secretMethod(as) : "none"),
      source: "preregistered",
    };
  }
  if (options.clientMetadataUrl && as.client_id_metadata_document_supported === true) {
    const url = verifyServerURL(options.clientMetadataUrl, "client metadata URL");
    if (url.protocol !== "https:" || url.pathname === "/") {
      throw new PortcullisClientError("invalid_client_metadata", "a client metadata URL must be https with a path");
    }
    return { ...base, client_id: url.href, token_endpoint_auth_method: "none", source: "metadata-document" };
  }
  const stored = await store.getClient(discovery.issuer);
  if (stored && stored.redirect_uris.includes(redirectUri)) return stored;
  if (!as.registration_endpoint) {
    throw new PortcullisClientError(
      "registration_unsupported",
      `${discovery.issuer} offers neither dynamic registration nor${options.clientMetadataUrl ? "" : " (without a --client-metadata-url)"} client ID metadata documents: use pre-registered credentials`,
    );
  }
  const client = await registerClient(discovery, redirectUri, scope, options);
  await store.saveClient(client);
  return client;
}

function toClient(client: StoredClient): oauth.Client {
  return { client_id: client.client_id, token_endpoint_auth_method: client.token_endpoint_auth_method };
}

function sessionFrom(
  discovery: Discovery,
  client: StoredClient,
  tokens: oauth.TokenEndpointResponse,
  previous?: StoredSession,
  requested?: string,
): StoredSession {
  const now = Math.floor(Date.now() / 1000);
  const refresh = tokens.refresh_token ?? previous?.refresh_token;
  // RFC 6749 §5.1: no `scope` in the response means the requested scope was granted.
  const scope = tokens.scope ?? previous?.scope ?? requested;
  return {
    version: STORE_FORMAT_VERSION,
    mcp_url: sessionKey(discovery.mcpUrl),
    resource: discovery.resource,
    issuer: discovery.issuer,
    authorization_server: discovery.authorizationServer,
    client_id: client.client_id,
    access_token: tokens.access_token,
    token_type: tokens.token_type,
    ...(refresh ? { refresh_token: refresh } : {}),
    ...(typeof tokens.expires_in === "number" ? { expires_at: now + tokens.expires_in } : {}),
    ...(scope ? { scope } : {}),
    updated_at: now,
  };
}

/** Converts oauth4webapi's error for an OAuth error response into a client error named by its code. */
function oauthFailure(error: unknown, what: string): PortcullisClientError {
  if (error instanceof PortcullisClientError) return error;
  if (error instanceof oauth.ResponseBodyError || error instanceof oauth.AuthorizationResponseError) {
    const description = error.error_description ? `: ${error.error_description}` : "";
    return new PortcullisClientError(error.error, `${what} failed: ${error.error}${description}`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new PortcullisClientError("request_failed", `${what} failed: ${message}`, { cause: error });
}

/**
 * Signs in to an MCP server through the browser: discovery, client identity, PKCE S256 with
 * `state` and `resource`, a loopback redirect, checks of `state` and `iss` (RFC 9207) before the
 * code is redeemed, then stores the tokens. Node only (the loopback listener).
 */
export async function signIn(mcpUrl: string | URL, options: SignInOptions): Promise<StoredSession> {
  const store = resolveStore(options.store);
  const discovery = options.discovery ?? (await discover(mcpUrl, options.fetch ? { fetch: options.fetch } : {}));
  const as = discovery.authorizationServer;
  // A client that keeps a refresh token asks for offline_access where the server lists it (SEP-2207).
  const offline = as.scopes_supported?.includes("offline_access") ? "offline_access" : undefined;
  const scope = unionScopes(selectScope(discovery, options.scope), offline);
  // Listen on the port of the stored registration, so that its redirect URI still matches.
  const previous = options.clientId || options.clientMetadataUrl ? undefined : await store.getClient(discovery.issuer);
  const receiver = await startLoopbackReceiver(loopbackPort(previous));
  try {
    const registration = await clientFor(discovery, receiver.redirectUri, scope, store, options);
    const client = toClient(registration);
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const url = verifyServerURL(as.authorization_endpoint, "authorization_endpoint");
    const params = url.searchParams;
    params.set("response_type", "code");
    params.set("client_id", client.client_id);
    params.set("redirect_uri", receiver.redirectUri);
    params.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
    params.set("code_challenge_method", "S256");
    params.set("state", state);
    params.set("resource", discovery.resource);
    if (scope) params.set("scope", scope);
    if (scope?.split(" ").includes("offline_access")) params.set("prompt", "consent");
    const callback = receiver.waitForCallback(options.timeoutMs ?? 5 * 60_000);
    // The opener may wait for the browser (a test driving one), which waits for our answer: race them.
    const opening = Promise.resolve().then(() => options.openUrl(url));
    opening.catch(() => undefined);
    const returned = await Promise.race([callback, opening.then(() => callback)]);
    let checked: URLSearchParams;
    try {
      checked = oauth.validateAuthResponse(as, client, returned, state);
    } catch (error) {
      if (error instanceof oauth.AuthorizationResponseError) {
        receiver.finish({ ok: false, message: `The server answered ${error.error}.` });
        throw oauthFailure(error, "authorization");
      }
      // A wrong state or issuer: nothing the response says is trusted, and its code is not redeemed.
      const reason = error instanceof Error ? error.message : String(error);
      receiver.finish({ ok: false, message: "The authorization response failed its checks." });
      throw new PortcullisClientError("invalid_authorization_response", `authorization response rejected: ${reason}`);
    }
    receiver.finish({ ok: true });
    let tokens: oauth.TokenEndpointResponse;
    try {
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        client,
        clientAuthentication(registration, options),
        checked,
        receiver.redirectUri,
        verifier,
        {
          additionalParameters: { resource: discovery.resource },
          ...httpOptions(as.token_endpoint!, options.fetch),
        },
      );
      tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
    } catch (error) {
      throw oauthFailure(error, "token request");
    }
    const session = sessionFrom(discovery, registration, tokens, undefined, scope);
    await store.saveSession(session);
    return session;
  } finally {
    await receiver.close();
  }
}

/** Whether a stored access token is good for at least `REFRESH_MARGIN_SECONDS` more. */
export function isFresh(session: StoredSession, now = Date.now() / 1000): boolean {
  return session.expires_at === undefined || session.expires_at - now > REFRESH_MARGIN_SECONDS;
}

/** Options of {@link getAccessToken}. */
export interface TokenOptions extends ClientOptions {
  /** Refresh even if the token looks valid (after a 401), unless another caller already replaced `staleToken`. */
  forceRefresh?: boolean;
  staleToken?: string;
}

/**
 * A valid access token for an MCP URL from the store: the stored one while it has more than 60 s
 * left, else a refreshed one. The refresh runs under the store's lock and re-reads the session
 * inside it, so of many processes only the first refreshes and the rest use its result; the
 * rotated refresh token is stored before the lock is released.
 */
export async function getAccessToken(mcpUrl: string | URL, options: TokenOptions = {}): Promise<StoredSession> {
  const store = resolveStore(options.store);
  const key = sessionKey(mcpUrl);
  const initial = await store.getSession(key);
  if (!initial) throw new PortcullisClientError("not_signed_in", `not signed in to ${key}: run \`portcullis login ${key}\``);
  const stale = (s: StoredSession) =>
    !isFresh(s) || (options.forceRefresh === true && (options.staleToken === undefined || s.access_token === options.staleToken));
  if (!stale(initial)) return initial;
  return store.lock(`session:${key}`, async () => {
    const current = await store.getSession(key);
    if (!current) throw new PortcullisClientError("not_signed_in", `not signed in to ${key}: run \`portcullis login ${key}\``);
    if (!stale(current)) return current;
    if (!current.refresh_token)
      throw new PortcullisClientError("expired", `the access token for ${key} has expired and there is no refresh token: run \`portcullis login ${key}\``);
    const as = current.authorization_server;
    const client = await clientRecord(current, store, options);
    let tokens: oauth.TokenEndpointResponse;
    try {
      const response = await oauth.refreshTokenGrantRequest(as, toClient(client), clientAuthentication(client, options), current.refresh_token, {
        additionalParameters: { resource: current.resource },
        ...httpOptions(as.token_endpoint!, options.fetch),
      });
      tokens = await oauth.processRefreshTokenResponse(as, toClient(client), response);
    } catch (error) {
      const failure = oauthFailure(error, "refresh");
      if (failure.code === "invalid_grant") {
        await store.deleteSession(key);
        throw new PortcullisClientError("invalid_grant", `the sign-in to ${key} is no longer valid: run \`portcullis login ${key}\``, { cause: error });
      }
      throw failure;
    }
    const discovery = { mcpUrl: current.mcp_url, resource: current.resource, issuer: current.issuer, authorizationServer: as } as Discovery;
    const session = sessionFrom(discovery, client, tokens, current);
    await store.saveSession(session);
    return session;
  });
}

/** The client a session was issued to: its stored registration, or the given credentials. */
async function clientRecord(session: StoredSession, store: TokenStore, options: ClientOptions): Promise<StoredClient> {
  if (options.clientId === session.client_id) {
    return {
      version: STORE_FORMAT_VERSION,
      issuer: session.issuer,
      client_id: session.client_id,
      ...(options.clientSecret ? { client_secret: options.clientSecret } : {}),
      token_endpoint_auth_method:
        options.tokenEndpointAuthMethod ??
        (options.privateKey ? "private_key_jwt" : options.clientSecret ? secretMethod(session.authorization_server) : "none"),
      redirect_uris: [],
      source: "preregistered",
      created_at: 0,
    };
  }
  const stored = await store.getClient(session.issuer);
  if (stored?.client_id === session.client_id) return stored;
  // A metadata-document client or a registration since replaced: a public client.
  return {
    version: STORE_FORMAT_VERSION,
    issuer: session.issuer,
    client_id: session.client_id,
    token_endpoint_auth_method: "none",
    redirect_uris: [],
    source: "metadata-document",
    created_at: 0,
  };
}

/**
 * Signs out: revokes the refresh token and the access token where the server offers revocation
 * (RFC 7009), then deletes the stored tokens. Answers whether anything was stored and whether
 * the server confirmed revocation.
 */
export async function signOut(mcpUrl: string | URL, options: ClientOptions = {}): Promise<{ signedIn: boolean; revoked: boolean }> {
  const store = resolveStore(options.store);
  const key = sessionKey(mcpUrl);
  return store.lock(`session:${key}`, async () => {
    const session = await store.getSession(key);
    if (!session) return { signedIn: false, revoked: false };
    const as = session.authorization_server;
    let revoked = false;
    if (as.revocation_endpoint) {
      const client = await clientRecord(session, store, options);
      revoked = true;
      for (const token of [session.refresh_token, session.access_token]) {
        if (!token) continue;
        try {
          const response = await oauth.revocationRequest(
            as,
            toClient(client),
            clientAuthentication(client, options),
            token,
            httpOptions(as.revocation_endpoint, options.fetch),
          );
          await oauth.processRevocationResponse(response);
        } catch {
          revoked = false;
        }
      }
    }
    await store.deleteSession(key);
    return { signedIn: true, revoked };
  });
}

/**
 * A machine client's token (`client_credentials`, RFC 6749 §4.4), authenticated with a secret or
 * `private_key_jwt`, with `resource`; stored like a signed-in session.
 */
export async function signInWithClientCredentials(mcpUrl: string | URL, options: ClientOptions & { scope?: string; clientId: string }): Promise<StoredSession> {
  const store = resolveStore(options.store);
  const discovery = await discover(mcpUrl, options.fetch ? { fetch: options.fetch } : {});
  const as = discovery.authorizationServer;
  const client = await clientFor(discovery, "", undefined, store, options);
  const scope = selectScope(discovery, options.scope);
  let tokens: oauth.TokenEndpointResponse;
  try {
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      toClient(client),
      clientAuthentication(client, options),
      { resource: discovery.resource, ...(scope ? { scope } : {}) },
      httpOptions(as.token_endpoint!, options.fetch),
    );
    tokens = await oauth.processClientCredentialsResponse(as, toClient(client), response);
  } catch (error) {
    throw oauthFailure(error, "client credentials grant");
  }
  const session = sessionFrom(discovery, client, tokens, undefined, scope);
  await store.saveSession(session);
  return session;
}
