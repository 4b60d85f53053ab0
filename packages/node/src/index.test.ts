import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createAuthorizationServer, createMemoryStore, createResourceGuard } from "@portcullis/core";
import { getAuth, toNodeListener, withBearerAuth } from "./index.js";

const nodeGlobals = [globalThis.Request, globalThis.Response];
const running: Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function readText(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text;
}

/**
 * A plain node:http server on a real port: Portcullis through `toNodeListener`, a guarded `/mcp`
 * and `/admin`, and the app's own paths in the fallback listener (or none at all).
 */
async function start({ fallback = true } = {}) {
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  running.push(http);
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const server = createAuthorizationServer({
    issuer: base,
    resource: `${base}/mcp`,
    scopes: { "mcp:tools": "Use the tools", "mcp:admin": "Administer" },
    storage: createMemoryStore(),
    interactionUrl: "/login",
  });
  const guard = createResourceGuard({ resource: `${base}/mcp`, authorizationServers: [base], verifier: server, requiredScopes: ["mcp:tools"] });
  const mcp = withBearerAuth(guard, async (req, res) => {
    const body = await readText(req);
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify({ sub: req.auth.extra?.sub, clientId: req.auth.clientId, scopes: getAuth(req)?.scopes, body }));
  });
  const admin = withBearerAuth(guard, (_req, res) => res.end("admin"), { scopes: ["mcp:admin"] });
  const toolGuard = createResourceGuard({
    resource: `${base}/mcp`,
    authorizationServers: [base],
    verifier: server,
    requiredScopes: ["mcp:tools"],
    mcp: { tools: { admin_echo: ["mcp:admin"] } },
  });
  const tools = withBearerAuth(toolGuard, (req, res) => res.end(JSON.stringify({ body: req.body })));
  const broken = withBearerAuth(guard, () => {
    throw new Error("listener failed at /secret/path");
  });
  const app = async (req: IncomingMessage, res: ServerResponse) => {
    const { pathname } = new URL(req.url ?? "/", base);
    if (pathname === "/mcp") return mcp(req, res);
    if (pathname === "/admin") return admin(req, res);
    if (pathname === "/tools") return tools(req, res);
    if (pathname === "/broken") return broken(req, res);
    if (pathname === "/echo") return res.end(`echo: ${await readText(req)}`);
    if (pathname === "/app-broken") throw new Error("app failed at /secret/path");
    res.end(`app home; auth=${String(getAuth(req))}`);
  };
  http.on("request", fallback ? toNodeListener(server, guard, app) : toNodeListener(server, guard));
  return { base, server };
}

/** A request with exactly these header lines (`fetch` would merge repeated ones). */
function rawRequest(url: string, headers: string[], method = "POST"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const base64url = (bytes: ArrayBuffer) => Buffer.from(bytes).toString("base64url");
const formInit = (params: Record<string, string>, authorization?: string) => ({
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded", ...(authorization ? { Authorization: authorization } : {}) },
  body: new URLSearchParams(params),
});

/** Registers a confidential client through /register, signs `alice` in through the app's own UI, redeems the code. */
async function signIn({ base, server }: Awaited<ReturnType<typeof start>>, scope = "mcp:tools") {
  const registered = await fetch(`${base}/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      redirect_uris: ["http://127.0.0.1/cb"],
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: ["authorization_code", "refresh_token"],
    }),
  });
  expect(registered.status).toBe(201);
  const client = (await registered.json()) as { client_id: string; client_secret: string };
  const basic = `Basic ${btoa(`${client.client_id}:${client.client_secret}`)}`;
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)).buffer);
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: "http://127.0.0.1/cb",
    code_challenge: challenge,
    code_challenge_method: "S256",
    scope,
  });
  const authorize = await fetch(`${base}/authorize?${query}`, { redirect: "manual" });
  expect(authorize.status).toBe(302);
  const requestId = new URL(authorize.headers.get("Location")!, base).searchParams.get("request_id")!;
  const done = await server.completeAuthorization(requestId, { subject: "alice" });
  const code = new URL(done.headers.get("Location")!).searchParams.get("code")!;
  const token = await fetch(
    `${base}/token`,
    formInit({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: "http://127.0.0.1/cb" }, basic),
  );
  expect(token.status).toBe(200);
  const tokens = (await token.json()) as { access_token: string; refresh_token: string };
  return { ...tokens, basic, clientId: client.client_id };
}

describe("Node http adapter", () => {
  it("serves authorization server metadata, protected resource metadata and JWKS, and hands other paths to the fallback", async () => {
    const { base } = await start();
    expect(((await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as { issuer: string }).issuer).toBe(base);
    expect(((await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).json()) as { resource: string }).resource).toBe(`${base}/mcp`);
    const jwks = (await (await fetch(`${base}/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(await (await fetch(`${base}/`)).text()).toBe("app home; auth=undefined");
  });

  it("leaves the body of a path it does not own unread for the fallback", async () => {
    const { base } = await start();
    expect(await (await fetch(`${base}/echo`, { method: "POST", body: "a=1&b=2" })).text()).toBe("echo: a=1&b=2");
  });

  it("answers the core's 404 for other paths when there is no fallback", async () => {
    const { base } = await start({ fallback: false });
    const response = await fetch(`${base}/elsewhere`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: "not_found" });
  });

  it("registers, authorizes, issues, introspects, refreshes and revokes through the listener", async () => {
    const app = await start();
    const { access_token, refresh_token, basic, clientId } = await signIn(app);
    const introspect = (token: string) =>
      fetch(`${app.base}/introspect`, formInit({ token }, basic)).then((r) => r.json() as Promise<{ active: boolean; client_id?: string; sub?: string }>);
    expect(await introspect(access_token)).toMatchObject({ active: true, client_id: clientId, sub: "alice" });
    const refreshed = await fetch(`${app.base}/token`, formInit({ grant_type: "refresh_token", refresh_token }, basic));
    expect(refreshed.status).toBe(200);
    const rotated = ((await refreshed.json()) as { refresh_token: string }).refresh_token;
    expect((await fetch(`${app.base}/revoke`, formInit({ token: rotated }, basic))).status).toBe(200);
    expect(await introspect(access_token)).toEqual({ active: false });
  });

  it("answers 401 with the Bearer challenge and CORS headers before the listener runs (RS-401-1)", async () => {
    const { base } = await start();
    const response = await fetch(`${base}/mcp`, { method: "POST", headers: { Origin: base } });
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(`Bearer scope="mcp:tools", resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(base);
    expect(response.headers.get("Access-Control-Expose-Headers")).toContain("WWW-Authenticate");
  });

  it("exposes the AuthInfo as req.auth and getAuth(req), leaves the body to the listener, and adds CORS for an allowed origin", async () => {
    const app = await start();
    const { access_token, clientId } = await signIn(app);
    const response = await fetch(`${app.base}/mcp`, {
      method: "POST",
      headers: { Authorization: `Bearer ${access_token}`, Origin: app.base },
      body: '{"jsonrpc":"2.0"}',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sub: "alice", clientId, scopes: ["mcp:tools"], body: '{"jsonrpc":"2.0"}' });
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(app.base);
    expect(response.headers.get("Access-Control-Expose-Headers")).toContain("WWW-Authenticate");
  });

  it("answers 403 insufficient_scope with CORS headers for a listener that needs more (RS-403-1)", async () => {
    const app = await start();
    const { access_token } = await signIn(app);
    const response = await fetch(`${app.base}/admin`, { headers: { Authorization: `Bearer ${access_token}`, Origin: app.base } });
    expect(response.status).toBe(403);
    expect(response.headers.get("WWW-Authenticate")).toContain('error="insufficient_scope"');
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(app.base);
    expect(response.headers.get("Access-Control-Expose-Headers")).toContain("WWW-Authenticate");
  });

  it("answers the CORS preflight without a token, and 403 for a foreign origin (X-CORS-4, RS-TOK-7)", async () => {
    const { base } = await start();
    const ok = await fetch(`${base}/mcp`, { method: "OPTIONS", headers: { Origin: base, "Access-Control-Request-Method": "POST" } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get("Access-Control-Allow-Headers")).toContain("Authorization");
    const evil = await fetch(`${base}/mcp`, { method: "POST", headers: { Origin: "https://evil.test" } });
    expect(evil.status).toBe(403);
    expect(evil.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("reads the headers as sent: two Authorization headers are refused, a foreign Host gets 403 (RS-TOK-7, DNS rebinding)", async () => {
    const app = await start();
    const { access_token } = await signIn(app);
    const host = new URL(app.base).host;
    const twice = await rawRequest(`${app.base}/mcp`, ["Host", host, "Authorization", `Bearer ${access_token}`, "Authorization", `Bearer ${access_token}`]);
    expect(twice.status).toBe(400);
    expect(JSON.parse(twice.body)).toMatchObject({ error: "invalid_request" });
    const rebound = await rawRequest(`${app.base}/mcp`, ["Host", "attacker.example", "Authorization", `Bearer ${access_token}`]);
    expect(rebound.status).toBe(403);
    expect((await rawRequest(`${app.base}/mcp`, ["Host", host, "Authorization", `Bearer ${access_token}`])).status).toBe(200);
  });

  it("reads the JSON-RPC body for MCP-aware scopes and hands it on parsed as req.body (RS-403-1)", async () => {
    const app = await start();
    const { access_token } = await signIn(app);
    const call = (name: string) =>
      fetch(`${app.base}/tools`, {
        method: "POST",
        headers: { Authorization: `Bearer ${access_token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name } }),
      });
    const forbidden = await call("admin_echo");
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get("WWW-Authenticate")).toContain(`scope="mcp:tools mcp:admin"`);
    const allowed = await call("whoami");
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toEqual({ body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami" } } });
  });

  it("answers a listener's exception with a bare 500, never its message or stack", async () => {
    const app = await start();
    const { access_token } = await signIn(app);
    for (const response of [
      await fetch(`${app.base}/broken`, { headers: { Authorization: `Bearer ${access_token}` } }),
      await fetch(`${app.base}/app-broken`),
    ]) {
      expect(response.status).toBe(500);
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      const text = await response.text();
      expect(text).not.toContain("secret");
      expect(JSON.parse(text)).toEqual({ error: "server_error" });
    }
  });

  it("leaves Node's global Request and Response alone", async () => {
    const { base } = await start();
    await fetch(`${base}/.well-known/oauth-authorization-server`);
    expect(globalThis.Request).toBe(nodeGlobals[0]);
    expect(globalThis.Response).toBe(nodeGlobals[1]);
  });
});

describe("Node http adapter: connection facts for the core (issue 6)", () => {
  it("passes the socket address, so per-address rate limits apply, and X-Forwarded-For is not believed", async () => {
    const http = createServer();
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    running.push(http);
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const events: { type: string; ip?: string }[] = [];
    const server = createAuthorizationServer({
      issuer: base,
      resource: `${base}/mcp`,
      scopes: { "mcp:tools": "Use the tools" },
      storage: createMemoryStore(),
      interactionUrl: "/login",
      rateLimit: { perIp: { token: 1 } },
      onEvent: (event) => events.push(event),
      onError: () => {},
    });
    http.on("request", toNodeListener(server));
    const attempt = (xff: string) =>
      fetch(`${base}/token`, {
        ...formInit({ grant_type: "refresh_token", refresh_token: "x", client_id: "nobody" }),
        headers: { ...formInit({}).headers, "X-Forwarded-For": xff },
      });
    expect((await attempt("198.51.100.1")).status).toBe(401);
    const limited = await attempt("198.51.100.2");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("Retry-After")).toBeTruthy();
    expect(events).toContainEqual(expect.objectContaining({ type: "rate_limited", ip: "127.0.0.1" }));
  });
});
