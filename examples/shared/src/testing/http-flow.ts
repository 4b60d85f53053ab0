import { createHash, randomBytes } from "node:crypto";

export const E2E_USER = { username: "e2e-user", password: "e2e-password-123" };

const b64url = (bytes: Buffer) => bytes.toString("base64url");

/** A public client registered over HTTP, as an MCP client would register itself. */
export async function registerClient(base: string, redirectUri = "http://127.0.0.1:1/callback") {
  const response = await fetch(`${base}/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      client_name: "http flow",
    }),
  });
  if (response.status !== 201) throw new Error(`registration answered ${response.status}: ${await response.text()}`);
  return { clientId: ((await response.json()) as { client_id: string }).client_id, redirectUri };
}

/**
 * An authorization request of `client` at the example: PKCE S256, scope `mcp:tools`, the MCP
 * endpoint as the resource, and `params` on top. Answers the URL and the PKCE verifier.
 */
export function authorizationUrl(base: string, client: { clientId: string; redirectUri: string }, params: Record<string, string> = {}) {
  const verifier = b64url(randomBytes(32));
  const url = new URL(`${base}/authorize`);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    code_challenge: b64url(createHash("sha256").update(verifier).digest()),
    code_challenge_method: "S256",
    scope: "mcp:tools",
    resource: `${base}/mcp`,
    ...params,
  }).toString();
  return { url, verifier };
}

/**
 * Signs the demo user in without a browser: opens the authorization URL, posts the login page's
 * form, then allows on the consent page, keeping the cookies. Answers the authorization code and
 * PKCE verifier.
 */
export async function authorize(base: string, client: { clientId: string; redirectUri: string }, user = E2E_USER) {
  const { url, verifier } = authorizationUrl(base, client, { state: "s" });
  // The login page, then the consent page it leads to: each form with its own CSRF token.
  const page = await fetch(url, { redirect: "manual" });
  const login = await page.text();
  const field = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
  let cookie = cookiesOf(page);
  const signedIn = await fetch(`${base}/authorize/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie },
    body: new URLSearchParams({ request_id: field(login, "request_id"), csrf_token: field(login, "csrf_token"), ...user }),
  });
  cookie = cookiesOf(signedIn, cookie);
  const next = signedIn.headers.get("Location");
  if (signedIn.status !== 303 || !next) throw new Error(`login answered ${signedIn.status}: ${await signedIn.text()}`);
  // A client the user allowed before comes straight back with its code.
  const decided = new URL(next).pathname.endsWith("/authorize/consent") ? await decide(base, next, cookie) : signedIn;
  const location = decided.headers.get("Location");
  const code = location ? new URL(location).searchParams.get("code") : null;
  if (!code) throw new Error(`no code (${decided.status}): ${location ?? (await decided.text())}`);
  return { code, verifier };
}

/** Opens the consent page at `url` and allows. */
async function decide(base: string, url: string, cookie: string): Promise<Response> {
  const html = await (await fetch(url, { headers: { Cookie: cookie } })).text();
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
  return fetch(`${base}/authorize/consent`, {
    method: "POST",
    redirect: "manual",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie },
    body: new URLSearchParams({ request_id: field("request_id"), csrf_token: field("csrf_token"), decision: "allow" }),
  });
}

/** The cookies a response sets, added to a `Cookie` header value (a deleted one dropped). */
export function cookiesOf(response: Response, jar = ""): string {
  const set = response.headers.getSetCookie().map((c) => c.split(";")[0]!);
  const names = new Set(set.map((c) => c.split("=")[0]));
  return [...jar.split("; ").filter((c) => c && !names.has(c.split("=")[0])), ...set.filter((c) => !c.endsWith("="))].join("; ");
}

/** POSTs a form to the token endpoint and answers the status and JSON body. */
export async function tokenRequest(base: string, params: Record<string, string>) {
  const response = await fetch(`${base}/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

/** Signs `user` in for `client` (through {@link authorize}) and redeems the code: the token endpoint's status and body. */
export async function signInForTokens(base: string, client: { clientId: string; redirectUri: string }, extra: Record<string, string> = {}) {
  const { code, verifier } = await authorize(base, client);
  return tokenRequest(base, {
    grant_type: "authorization_code",
    code,
    code_verifier: verifier,
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    ...extra,
  });
}

/** Calls `tools/call whoami` on the MCP endpoint with a bearer token; answers the HTTP status and result. */
export async function callWhoami(base: string, accessToken: string) {
  const response = await fetch(`${base}/mcp`, {
    method: "POST",
    headers: { Authorization: `Bearer ${accessToken}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as { result?: { structuredContent?: Record<string, unknown> } }) : undefined };
}
