import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { createAuthorizationServer, createMemoryStore, createResourceGuard } from "@portcullis/core";
import { oauthRouter, requireBearerAuth } from "./index.js";

const running: Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/**
 * An Express app on a real port: Portcullis through `oauthRouter`, a guarded `/mcp` and `/admin`,
 * and the app's own routes. `parsersFirst` installs express.json() and express.urlencoded()
 * before the router, as many apps do.
 */
async function start({ parsersFirst = false } = {}) {
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
  const app = express();
  if (parsersFirst) app.use(express.json(), express.urlencoded());
  const twoCookies = {
    handle: async (request: Request) =>
      new URL(request.url).pathname === "/cookies"
        ? new Response("baked", {
            status: 201,
            headers: [
              ["Set-Cookie", "a=1; Path=/"],
              ["Set-Cookie", "b=2; Path=/"],
            ],
          })
        : undefined,
  };
  app.use(oauthRouter(server, guard, twoCookies));
  app.all("/mcp", requireBearerAuth(guard), (req, res) => {
    res.json({ sub: req.auth?.extra?.sub, clientId: req.auth?.clientId, scopes: req.auth?.scopes, resource: req.auth?.resource?.href });
  });
  app.all("/admin", requireBearerAuth(guard, { scopes: ["mcp:admin"] }), (_req, res) => {
    res.send("admin");
  });
  const toolGuard = createResourceGuard({
    resource: `${base}/mcp`,
    authorizationServers: [base],
    verifier: server,
    requiredScopes: ["mcp:tools"],
    mcp: { tools: { admin_echo: ["mcp:admin"] } },
  });
  app.post("/tools", requireBearerAuth(toolGuard), (req, res) => {
    res.json({ body: req.body });
  });
  app.post("/echo", express.json(), (req, res) => {
    res.json({ received: req.body });
  });
  app.get("/", (_req, res) => {
    res.send("app home");
  });
  http.on("request", app);
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
const form = (params: Record<string, string>) => ({
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded" },
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
  const token = await fetch(`${base}/token`, {
    ...form({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: "http://127.0.0.1/cb" }),
    headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: basic },
  });
  expect(token.status).toBe(200);
  const tokens = (await token.json()) as { access_token: string; refresh_token: string };
  return { ...tokens, basic, clientId: client.client_id };
}

describe("Express adapter", () => {
  it("serves authorization server metadata, protected resource metadata and JWKS, and falls through for other paths", async () => {
    const { base } = await start();
    expect(((await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as { issuer: string }).issuer).toBe(base);
    expect(((await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).json()) as { resource: string }).resource).toBe(`${base}/mcp`);
    const jwks = (await (await fetch(`${base}/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(await (await fetch(`${base}/`)).text()).toBe("app home");
  });

  it("leaves the body of a path it does not own unread for the app's own parser", async () => {
    const { base } = await start();
    const response = await fetch(`${base}/echo`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ hello: "world" }) });
    expect(await response.json()).toEqual({ received: { hello: "world" } });
  });

  it("passes every Set-Cookie header and the status through unchanged", async () => {
    const { base } = await start();
    const response = await fetch(`${base}/cookies`);
    expect(response.status).toBe(201);
    expect(response.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2; Path=/"]);
    expect(await response.text()).toBe("baked");
  });

  it("streams a body without Content-Length to the core, which stops at its limit (413) and the app keeps serving", async () => {
    const { base } = await start();
    const body = new Blob([`a=${"x".repeat(1_000_000)}`]).stream();
    const response = await fetch(`${base}/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(await (await fetch(`${base}/`)).text()).toBe("app home");
  });

  for (const parsersFirst of [false, true]) {
    describe(parsersFirst ? "with express.json() and express.urlencoded() mounted before the router" : "without body parsers", () => {
      it("registers, authorizes, issues, introspects, refreshes and revokes through the router", async () => {
        const app = await start({ parsersFirst });
        const { access_token, refresh_token, basic, clientId } = await signIn(app);
        const introspect = (token: string) =>
          fetch(`${app.base}/introspect`, { ...form({ token }), headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: basic } }).then(
            (r) => r.json() as Promise<{ active: boolean; client_id?: string; sub?: string }>,
          );
        expect(await introspect(access_token)).toMatchObject({ active: true, client_id: clientId, sub: "alice" });
        const refreshed = await fetch(`${app.base}/token`, {
          ...form({ grant_type: "refresh_token", refresh_token }),
          headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: basic },
        });
        expect(refreshed.status).toBe(200);
        const rotated = ((await refreshed.json()) as { refresh_token: string }).refresh_token;
        const revoked = await fetch(`${app.base}/revoke`, {
          ...form({ token: rotated }),
          headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: basic },
        });
        expect(revoked.status).toBe(200);
        expect(await introspect(access_token)).toEqual({ active: false });
      });

      it("still refuses a repeated parameter, so a parsed body is not silently reshaped (OAuth 2.1 §3.1)", async () => {
        const { base } = await start({ parsersFirst });
        const response = await fetch(`${base}/token`, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: "grant_type=refresh_token&grant_type=refresh_token&refresh_token=x&client_id=c",
        });
        expect(response.status).toBe(400);
        expect(((await response.json()) as { error: string }).error).toBe("invalid_request");
      });

      it("answers registration errors as JSON from the core", async () => {
        const { base } = await start({ parsersFirst });
        const response = await fetch(`${base}/register`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ redirect_uris: ["not a url"] }),
        });
        expect(response.status).toBe(400);
        expect(((await response.json()) as { error: string }).error).toMatch(/^invalid_(redirect_uri|client_metadata)$/);
      });
    });
  }

  it("answers 401 with the Bearer challenge and CORS headers before the handler runs (RS-401-1)", async () => {
    const { base } = await start();
    const response = await fetch(`${base}/mcp`, { method: "POST", headers: { Origin: base } });
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(`Bearer scope="mcp:tools", resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(base);
    expect(response.headers.get("Access-Control-Expose-Headers")).toContain("WWW-Authenticate");
  });

  it("sets req.auth for the handler, with CORS for an allowed origin", async () => {
    const app = await start();
    const { access_token, clientId } = await signIn(app);
    const response = await fetch(`${app.base}/mcp`, { method: "POST", headers: { Authorization: `Bearer ${access_token}`, Origin: app.base } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sub: "alice", clientId, scopes: ["mcp:tools"], resource: `${app.base}/mcp` });
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(app.base);
    expect(response.headers.get("Access-Control-Expose-Headers")).toContain("WWW-Authenticate");
  });

  it("answers 403 insufficient_scope with CORS headers for a route that needs more (RS-403-1)", async () => {
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

  it("audit #8: a deeply nested body express.json() parsed gets the core's 400, never a 500 from re-serialising it", async () => {
    const { base } = await start({ parsersFirst: true });
    const deep = `${"[".repeat(20_000)}${"]".repeat(20_000)}`;
    const body = `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none","jwks":{"keys":${deep}}}`;
    const response = await fetch(`${base}/register`, { method: "POST", headers: { "Content-Type": "application/json" }, body });
    expect(response.status).toBe(400);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(((await response.json()) as { error: string }).error).toMatch(/^invalid_/);
  });

  for (const parsersFirst of [false, true]) {
    it(`audit #10: ${parsersFirst ? "after express.json()" : "without a body parser"}, a 1.1 MB admin_echo call (JSON or text/plain) with a token lacking mcp:admin is refused with 413, never reaching the route`, async () => {
      const app = await start({ parsersFirst });
      const { access_token } = await signIn(app);
      const padded = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "admin_echo" }, pad: "x".repeat(1_100_000) });
      for (const type of ["application/json", "text/plain"]) {
        const response = await fetch(`${app.base}/tools`, {
          method: "POST",
          headers: { Authorization: `Bearer ${access_token}`, "Content-Type": type },
          body: padded,
        });
        expect(response.status, type).toBe(413);
        expect(await response.text(), type).not.toContain('"body"');
      }
    });
  }

  for (const parsersFirst of [false, true]) {
    it(`reads the JSON-RPC body for MCP-aware scopes${parsersFirst ? " after express.json()" : " and leaves it parsed on req.body"} (RS-403-1)`, async () => {
      const app = await start({ parsersFirst });
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
  }
});
