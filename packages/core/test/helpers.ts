import * as oauth from "oauth4webapi";
import { expect } from "vitest";
import { createAuthorizationServer, createMemoryStore, createResourceGuard, type AuthorizationServerOptions, type StaticClient } from "../src/index.js";

export const ISSUER = "https://as.test";
export const RESOURCE = "https://mcp.test/mcp";
export const USER = { username: "alice", password: "correct horse battery staple" };

export const CONF_SECRET = "s3cr3t-s3cr3t-s3cr3t";

/** The SPEC-CHECKLIST client fixtures; spread them into `clients` to add more. */
export const TEST_CLIENTS: StaticClient[] = [
  { client_id: "pub", redirect_uris: ["http://127.0.0.1/cb"], client_name: "Public test client", grant_types: ["authorization_code", "refresh_token"] },
  { client_id: "pub2", redirect_uris: ["http://127.0.0.1/cb"], grant_types: ["authorization_code", "refresh_token"] },
  {
    client_id: "conf",
    client_secret: CONF_SECRET,
    redirect_uris: ["https://app.test/cb"],
    grant_types: ["authorization_code", "refresh_token"],
  },
];

/** A server with the SPEC-CHECKLIST fixtures: a public client `pub` and a confidential client `conf`. */
export function createTestServer(overrides: Partial<AuthorizationServerOptions> = {}) {
  const events: { type: string }[] = [];
  const server = createAuthorizationServer({
    issuer: ISSUER,
    resource: RESOURCE,
    scopes: { "mcp:tools": "Use the MCP tools", "files:read": "Read files", "files:write": "Write files" },
    storage: createMemoryStore(),
    login: {
      verifyPassword: async ({ username, password }) =>
        username === USER.username && password === USER.password ? { subject: username, claims: { preferred_username: username } } : null,
    },
    clients: TEST_CLIENTS,
    onEvent: (event) => events.push(event),
    onError: () => {},
    ...overrides,
  });
  const guard = createResourceGuard({
    resource: RESOURCE,
    authorizationServers: [ISSUER],
    verifier: server,
    requiredScopes: ["mcp:tools"],
    resourceName: "Test MCP server",
  });
  const fetch = (input: string | URL | Request, init?: RequestInit) => server.fetch(new Request(input, init));
  return { server, guard, events, fetch };
}

/** oauth4webapi options that route every request into `server.fetch` (no network). */
export function viaServer(fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>) {
  return { [oauth.customFetch]: (url: string, init: RequestInit) => fetch(url, init) } as const;
}

/** Builds an authorization URL with PKCE for a client. */
export async function authorizationUrl(params: Record<string, string | undefined>) {
  const verifier = oauth.generateRandomCodeVerifier();
  const challenge = await oauth.calculatePKCECodeChallenge(verifier);
  const url = new URL(`${ISSUER}/authorize`);
  const all: Record<string, string | undefined> = {
    response_type: "code",
    client_id: "pub",
    redirect_uri: "http://127.0.0.1/cb",
    code_challenge: challenge,
    code_challenge_method: "S256",
    scope: "mcp:tools",
    state: "st-1",
    resource: RESOURCE,
    ...params,
  };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) url.searchParams.set(k, v);
  return { url, verifier, challenge };
}

/** Reads the hidden fields and the browser cookie of the built-in consent page. */
export async function readConsentPage(response: Response) {
  const html = await response.text();
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
  const cookie = response.headers.get("Set-Cookie")?.split(";")[0];
  return { html, requestId: field("request_id")!, csrf: field("csrf_token")!, cookie: cookie! };
}

/** The cookies a response sets, as one `Cookie` header value joined to `jar`. */
export function cookiesOf(response: Response, jar = ""): string {
  const set = response.headers.getSetCookie().map((c) => c.split(";")[0]!);
  const names = new Set(set.map((c) => c.split("=")[0]));
  return [...jar.split("; ").filter((c) => c && !names.has(c.split("=")[0])), ...set.filter((c) => !c.endsWith("="))].join("; ");
}

/**
 * Opens the authorization URL like a browser: the login page, the password posted to it, then
 * the consent page it leads to. Answers the consent page and what its form posts back.
 */
export async function openConsentPage(fetch: Fetch, url: URL, user = USER) {
  const login = await fetch(url);
  if (login.status !== 200) throw new Error(`login page answered ${login.status}: ${login.headers.get("Location") ?? ""}`);
  const first = await readConsentPage(login);
  let jar = cookiesOf(login);
  const posted = await fetch(`${ISSUER}/authorize/login`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: jar },
    body: new URLSearchParams({ request_id: first.requestId, csrf_token: first.csrf, username: user.username, password: user.password }),
    redirect: "manual",
  });
  if (posted.status !== 303) throw new Error(`login answered ${posted.status}`);
  jar = cookiesOf(posted, jar);
  const page = await fetch(posted.headers.get("Location")!, { headers: { Cookie: jar } });
  const read = await readConsentPage(page.clone());
  return { page, html: read.html, requestId: read.requestId, csrf: read.csrf, cookie: jar };
}

/** Opens the page, then submits the login + consent form like a browser would. */
export async function signIn(
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>,
  url: URL,
  form: Record<string, string> = { username: USER.username, password: USER.password, decision: "allow" },
) {
  const page = await fetch(url);
  if (page.status !== 200) throw new Error(`consent page answered ${page.status}: ${page.headers.get("Location") ?? ""}`);
  const { requestId, csrf, cookie } = await readConsentPage(page);
  const response = await fetch(`${ISSUER}/authorize/consent`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie },
    body: new URLSearchParams({ request_id: requestId, csrf_token: csrf, ...form }),
    redirect: "manual",
  });
  return response;
}

/** Runs a whole sign-in for `pub` and answers the token response. */
export async function obtainTokens(
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>,
  params: Record<string, string | undefined> = {},
  clientId = "pub",
) {
  const { url, verifier } = await authorizationUrl({ client_id: clientId, ...params });
  const redirect = await signIn(fetch, url);
  const code = new URL(redirect.headers.get("Location")!).searchParams.get("code")!;
  const response = await fetch(`${ISSUER}/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: clientId, resource: RESOURCE }),
  });
  return { response, body: (await response.clone().json()) as Record<string, string>, code, verifier };
}

export function form(body: Record<string, string>, headers: Record<string, string> = {}): RequestInit {
  return { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(body) };
}

export function basic(id: string, secret: string): string {
  return `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`;
}

export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** A clock for `now` options: starts at the real time once, then moves only when told. */
export function createClock(start = Date.now()) {
  let t = start;
  return {
    now: () => t,
    advance(seconds: number) {
      t += seconds * 1000;
    },
  };
}

/** A test server whose options and memory store share one injected clock. */
export function createClockedServer(overrides: Partial<AuthorizationServerOptions> = {}) {
  const clock = createClock();
  return { ...createTestServer({ now: clock.now, storage: createMemoryStore({ now: clock.now }), ...overrides }), clock };
}

/** The `Location` of a redirect, parsed; fails the test when there is none. */
export function redirectOf(response: Response) {
  const location = response.headers.get("Location");
  expect(location, `expected a redirect, got ${response.status}`).toBeTruthy();
  const url = new URL(location!);
  return { location: location!, url, params: url.searchParams };
}

/** Asserts an "error page": HTML, the status, and no redirect anywhere. */
export async function expectErrorPage(response: Response, status = 400) {
  expect(response.status).toBe(status);
  expect(response.headers.get("Location")).toBeNull();
  expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
  const html = await response.text();
  expect(html).not.toMatch(/[?&]code=/);
  return html;
}

/** Asserts an "error redirect" to `redirectUri` with `error`, the issuer, and `state` when given. */
export function expectErrorRedirect(response: Response, error: string, options: { redirectUri?: string; state?: string | null } = {}) {
  expect(response.status).toBe(302);
  const { url, params } = redirectOf(response);
  expect(`${url.origin}${url.pathname}`).toBe(options.redirectUri ?? "http://127.0.0.1/cb");
  expect(params.get("error")).toBe(error);
  expect(params.get("code")).toBeNull();
  expect(params.get("iss")).toBe(ISSUER);
  if (options.state !== undefined) expect(params.get("state")).toBe(options.state);
  return params;
}

/** Asserts a token-endpoint style JSON error (OAuth 2.1 §3.2.4). */
export async function expectTokenError(response: Response, error: string, status = 400) {
  expect(response.status).toBe(status);
  expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
  expect(response.headers.get("Cache-Control")).toBe("no-store");
  const body = (await response.json()) as Record<string, unknown>;
  expect(body.error).toBe(error);
  expect(body).not.toHaveProperty("access_token");
  return body;
}

/** Signs in through the built-in page and answers the code and verifier of the redirect. */
export async function obtainCode(fetch: Fetch, params: Record<string, string | undefined> = {}) {
  const { url, verifier, challenge } = await authorizationUrl(params);
  const redirect = await signIn(fetch, url);
  expect(redirect.status).toBe(303);
  const { params: query } = redirectOf(redirect);
  return { code: query.get("code")!, verifier, challenge, redirect };
}

/** POSTs a form to the token endpoint. */
export function tokenRequest(fetch: Fetch, body: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(`${ISSUER}/token`, form(body, headers));
}

/** Code + tokens for `conf` (client_secret_basic). */
export async function obtainConfidentialTokens(fetch: Fetch, params: Record<string, string | undefined> = {}) {
  const { code, verifier } = await obtainCode(fetch, { client_id: "conf", redirect_uri: "https://app.test/cb", ...params });
  const response = await tokenRequest(
    fetch,
    { grant_type: "authorization_code", code, code_verifier: verifier },
    { Authorization: basic("conf", CONF_SECRET) },
  );
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, string>;
}

/** A request to the protected resource with a bearer token. */
export function resourceRequest(token?: string, init: { headers?: Record<string, string>; method?: string; url?: string } = {}) {
  const headers: Record<string, string> = { ...(token !== undefined ? { Authorization: `Bearer ${token}` } : {}), ...init.headers };
  return new Request(init.url ?? RESOURCE, { method: init.method ?? "POST", headers });
}

/**
 * A strict parser for one `WWW-Authenticate` challenge (RFC 9110 §11.6.1): a scheme, then
 * comma-separated `name="quoted"` auth-params. Throws on a duplicate or malformed parameter.
 */
export function parseChallenge(header: string | null) {
  expect(header).toBeTruthy();
  const match = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?: (.*))?$/.exec(header!);
  if (!match) throw new Error(`malformed challenge: ${header}`);
  const params: Record<string, string> = {};
  let rest = match[2] ?? "";
  const param = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)="((?:[^"\\]|\\.)*)"\s*(?:,\s*|$)/;
  while (rest.length > 0) {
    const p = param.exec(rest);
    if (!p) throw new Error(`malformed auth-param in: ${header}`);
    const name = p[1]!.toLowerCase();
    if (name in params) throw new Error(`duplicate auth-param ${name} in: ${header}`);
    params[name] = p[2]!.replace(/\\(.)/g, "$1");
    rest = rest.slice(p[0].length);
  }
  return { scheme: match[1]!, params };
}

/** Decodes the header and payload of a JWT without verifying it. */
export function decodeJWT(token: string) {
  const [h, p] = token.split(".");
  const decode = (part: string) => JSON.parse(atob(part.replaceAll("-", "+").replaceAll("_", "/"))) as Record<string, unknown>;
  return { header: decode(h!), payload: decode(p!) };
}
