import * as oauth from "oauth4webapi";
import { createAuthorizationServer, createMemoryStore, createResourceGuard, type AuthorizationServerOptions } from "../src/index.js";

export const ISSUER = "https://as.test";
export const RESOURCE = "https://mcp.test/mcp";
export const USER = { username: "alice", password: "correct horse battery staple" };

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
    clients: [
      { client_id: "pub", redirect_uris: ["http://127.0.0.1/cb"], client_name: "Public test client", grant_types: ["authorization_code", "refresh_token"] },
      { client_id: "pub2", redirect_uris: ["http://127.0.0.1/cb"], grant_types: ["authorization_code", "refresh_token"] },
      {
        client_id: "conf",
        client_secret: "s3cr3t-s3cr3t-s3cr3t",
        redirect_uris: ["https://app.test/cb"],
        grant_types: ["authorization_code", "refresh_token"],
      },
    ],
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
