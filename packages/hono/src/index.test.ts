import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { createAuthorizationServer, createMemoryStore, createResourceGuard } from "@portcullis/core";
import { bearerAuth, oauthRoutes } from "./index.js";

const ISSUER = "http://localhost:9999";
const RESOURCE = `${ISSUER}/mcp`;

function app() {
  const server = createAuthorizationServer({
    issuer: ISSUER,
    resource: RESOURCE,
    scopes: { "mcp:tools": "Use the tools", "mcp:admin": "Administer" },
    storage: createMemoryStore(),
    interactionUrl: "/login",
    clients: [{ client_id: "pub", redirect_uris: ["http://127.0.0.1/cb"], grant_types: ["authorization_code", "refresh_token"] }],
  });
  const guard = createResourceGuard({ resource: RESOURCE, authorizationServers: [ISSUER], verifier: server, requiredScopes: ["mcp:tools"] });
  const hono = new Hono();
  hono.use(oauthRoutes(server, guard));
  hono.all("/mcp", bearerAuth(guard), (c) => c.json({ sub: c.get("auth").extra?.sub, scopes: c.get("auth").scopes }));
  hono.all("/admin", bearerAuth(guard, { scopes: ["mcp:admin"] }), (c) => c.text("admin"));
  hono.get("/", (c) => c.text("app home"));
  return { hono, server };
}

/** Signs in `alice` through the app's own UI (completeAuthorization) and redeems the code. */
async function token(hono: Hono, server: ReturnType<typeof app>["server"], scope = "mcp:tools") {
  const verifier = "v".repeat(43);
  const challenge = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)))))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
  const authorize = await hono.request(
    `/authorize?response_type=code&client_id=pub&redirect_uri=http://127.0.0.1/cb&code_challenge=${challenge}&code_challenge_method=S256&scope=${scope}`,
  );
  const requestId = new URL(authorize.headers.get("Location")!, ISSUER).searchParams.get("request_id")!;
  const done = await server.completeAuthorization(requestId, { subject: "alice" });
  const code = new URL(done.headers.get("Location")!).searchParams.get("code")!;
  const response = await hono.request("/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: "pub" }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

describe("Hono adapter", () => {
  it("serves authorization server and protected resource metadata, and falls through for other paths", async () => {
    const { hono } = app();
    expect(((await (await hono.request("/.well-known/oauth-authorization-server")).json()) as { issuer: string }).issuer).toBe(ISSUER);
    expect(((await (await hono.request("/.well-known/oauth-protected-resource/mcp")).json()) as { resource: string }).resource).toBe(RESOURCE);
    expect(await (await hono.request("/")).text()).toBe("app home");
  });

  it("answers 401 with the Bearer challenge before the handler runs (RS-401-1)", async () => {
    const { hono } = app();
    const response = await hono.request("/mcp", { method: "POST" });
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe(`Bearer scope="mcp:tools", resource_metadata="${ISSUER}/.well-known/oauth-protected-resource/mcp"`);
  });

  it("hands the verified AuthInfo to the handler as c.get('auth'), with CORS for an allowed origin", async () => {
    const { hono, server } = app();
    const accessToken = await token(hono, server);
    const response = await hono.request("/mcp", { method: "POST", headers: { Authorization: `Bearer ${accessToken}`, Origin: "http://localhost:9999" } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sub: "alice", scopes: ["mcp:tools"] });
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("http://localhost:9999");
    expect(response.headers.get("Access-Control-Expose-Headers")).toContain("WWW-Authenticate");
  });

  it("answers 403 insufficient_scope for a route that needs more (RS-403-1)", async () => {
    const { hono, server } = app();
    const accessToken = await token(hono, server);
    const response = await hono.request("/admin", { headers: { Authorization: `Bearer ${accessToken}` } });
    expect(response.status).toBe(403);
    // Every scope the route needs, plus those the token holds: re-authorizing with it grants the union.
    expect(response.headers.get("WWW-Authenticate")).toContain(
      'error="insufficient_scope", error_description="the access token lacks a required scope", scope="mcp:admin mcp:tools"',
    );
  });

  it("answers the CORS preflight on a guarded route without a token, and 403 for a foreign origin (X-CORS-4, RS-TOK-7)", async () => {
    const { hono } = app();
    const ok = await hono.request("/mcp", { method: "OPTIONS", headers: { Origin: "http://localhost:9999", "Access-Control-Request-Method": "POST" } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get("Access-Control-Allow-Headers")).toContain("Authorization");
    const evil = await hono.request("/mcp", { method: "POST", headers: { Origin: "https://evil.test" } });
    expect(evil.status).toBe(403);
    expect(evil.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});

describe("Hono adapter: the guard's body read", () => {
  it("reads the JSON-RPC body a middleware before it already read through c.req, instead of failing on a spent stream", async () => {
    const { server } = app();
    const guard = createResourceGuard({
      resource: RESOURCE,
      authorizationServers: [ISSUER],
      verifier: server,
      requiredScopes: ["mcp:tools"],
      mcp: { tools: { admin_echo: ["mcp:admin"] } },
    });
    const hono = new Hono();
    hono.use(oauthRoutes(server, guard));
    hono.use(async (c, next) => {
      if (c.req.method === "POST") await c.req.json();
      await next();
    });
    hono.post("/mcp", bearerAuth(guard), async (c) => c.json({ body: await c.req.json() }));
    const accessToken = await token(hono, server);
    const call = (name: string) =>
      hono.request("/mcp", {
        method: "POST",
        headers: { Authorization: `Bearer ${accessToken}`, "Content-Type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name } }),
      });
    expect((await call("admin_echo")).status).toBe(403);
    const allowed = await call("whoami");
    expect(allowed.status).toBe(200);
    expect(((await allowed.json()) as { body: { params: { name: string } } }).body.params.name).toBe("whoami");
  });
});

describe("Hono adapter on @hono/node-server", () => {
  const running: Server[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });

  /** A request with exactly these header lines (`fetch` would merge repeated ones). */
  const rawRequest = (url: string, headers: string[]) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(url, { method: "POST", headers }, (res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
      });
      req.on("error", reject);
      req.end();
    });

  it("reads the raw headers as sent: two Authorization headers are refused, a foreign Host gets 403 (RS-TOK-7, DNS rebinding)", async () => {
    const { hono, server } = app();
    const access = await token(hono, server);
    const http = createServer(getRequestListener(hono.fetch, { overrideGlobalObjects: false }));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    running.push(http);
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
    // The app's resource is http://localhost:9999/mcp: loopback names are allowed on any port.
    const ok = await rawRequest(url, ["Host", "localhost:9999", "Authorization", `Bearer ${access}`]);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ sub: "alice", scopes: ["mcp:tools"] });
    const twice = await rawRequest(url, ["Host", "localhost:9999", "Authorization", `Bearer ${access}`, "authorization", `Bearer ${access}`]);
    expect(twice.status).toBe(400);
    expect(JSON.parse(twice.body)).toMatchObject({ error: "invalid_request" });
    expect((await rawRequest(url, ["Host", "attacker.example", "Authorization", `Bearer ${access}`])).status).toBe(403);
    expect((await rawRequest(url, ["Host", "localhost:9999"])).status).toBe(401);
  });

  it("serves token and registration bodies read from the Node stream, chunked ones too, and refuses an oversized one (413)", async () => {
    const { hono } = app();
    const http = createServer(getRequestListener(hono.fetch, { overrideGlobalObjects: false }));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    running.push(http);
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const registration = JSON.stringify({ redirect_uris: ["http://127.0.0.1/cb"], token_endpoint_auth_method: "none" });
    const registered = await fetch(`${base}/register`, { method: "POST", headers: { "Content-Type": "application/json" }, body: registration });
    expect(registered.status).toBe(201);
    // Without Content-Length (chunked), the core reads the stream itself.
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(registration.slice(0, 10)));
        controller.enqueue(new TextEncoder().encode(registration.slice(10)));
        controller.close();
      },
    });
    const streamed = await fetch(`${base}/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: chunked,
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(201);
    const refused = await fetch(`${base}/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: "nope", client_id: "pub" }),
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: "invalid_grant" });
    const oversized = await fetch(`${base}/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: `a=${"x".repeat(70_000)}`,
    });
    expect(oversized.status).toBe(413);
  });

  it("leaves the body to the core's stream read when a middleware before it already read the request", async () => {
    const { server } = app();
    const seen: string[] = [];
    const hono = new Hono();
    hono.use(async (c, next) => {
      if (c.req.method === "POST") seen.push(await c.req.raw.clone().text());
      await next();
    });
    hono.use(oauthRoutes(server));
    const http = createServer(getRequestListener(hono.fetch, { overrideGlobalObjects: false }));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    running.push(http);
    const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: "nope", client_id: "pub" });
    const response = await fetch(`http://127.0.0.1:${(http.address() as AddressInfo).port}/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: form,
    });
    expect(seen).toEqual([form.toString()]);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_grant" });
  });
});
