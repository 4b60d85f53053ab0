// A stateful MCP server (the SDK's Streamable HTTP transport with session ids) behind the guard:
// one user's session id presented with another user's token never reaches the session.
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { createMcpServer } from "@portcullis/example-shared";
import { createAuthorizationServer, createMemoryStore, createResourceGuard, type ResourceGuardOptions } from "@portcullis/core";
import { bearerAuth, oauthRoutes } from "@portcullis/hono";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";

const ISSUER = "http://localhost:9999";
const RESOURCE = `${ISSUER}/mcp`;
const ACCEPT = { Accept: "application/json, text/event-stream", "Content-Type": "application/json", "MCP-Protocol-Version": "2025-06-18" };

function app(sessionBinding?: ResourceGuardOptions["sessionBinding"]) {
  const server = createAuthorizationServer({
    issuer: ISSUER,
    resource: RESOURCE,
    scopes: { "mcp:tools": "Use the tools" },
    storage: createMemoryStore(),
    interactionUrl: "/login",
    clients: [{ client_id: "pub", redirect_uris: ["http://127.0.0.1/cb"], grant_types: ["authorization_code"] }],
  });
  const guard = createResourceGuard({
    resource: RESOURCE,
    authorizationServers: [ISSUER],
    verifier: server,
    requiredScopes: ["mcp:tools"],
    ...(sessionBinding !== undefined ? { sessionBinding } : {}),
  });
  // One stateful MCP server: its transport mints a session id at initialize and serves only it.
  const mcp = createMcpServer();
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: () => crypto.randomUUID(), enableJsonResponse: true });
  const connected = mcp.connect(transport);
  const hono = new Hono();
  hono.use(oauthRoutes(server, guard));
  hono.all("/mcp", bearerAuth(guard), async (c) => {
    await connected;
    return transport.handleRequest(c.req.raw, { authInfo: c.get("auth") });
  });
  return { hono, server };
}

/** Signs `subject` in through the app's own UI (completeAuthorization) and redeems the code. */
async function tokenFor({ hono, server }: ReturnType<typeof app>, subject: string) {
  const verifier = "v".repeat(43);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const challenge = btoa(String.fromCharCode(...digest))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
  const authorize = await hono.request(
    `/authorize?response_type=code&client_id=pub&redirect_uri=http://127.0.0.1/cb&code_challenge=${challenge}&code_challenge_method=S256&scope=mcp:tools`,
  );
  const requestId = new URL(authorize.headers.get("Location")!, ISSUER).searchParams.get("request_id")!;
  const done = await server.completeAuthorization(requestId, { subject });
  const code = new URL(done.headers.get("Location")!).searchParams.get("code")!;
  const response = await hono.request("/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: "pub" }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

const rpc = (hono: Hono, token: string, body: unknown, sessionId?: string) =>
  hono.request(`${ISSUER}/mcp`, {
    method: "POST",
    headers: { ...ACCEPT, Authorization: `Bearer ${token}`, ...(sessionId ? { "Mcp-Session-Id": sessionId } : {}) },
    body: JSON.stringify(body),
  });

/** Alice opens a session on the stateful server; answers its id. */
async function aliceSession(hono: Hono, alice: string) {
  const init = await rpc(hono, alice, {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "test", version: "1" } },
  });
  expect(init.status).toBe(200);
  const sessionId = init.headers.get("Mcp-Session-Id")!;
  expect(sessionId).toBeTruthy();
  expect((await rpc(hono, alice, { jsonrpc: "2.0", method: "notifications/initialized" }, sessionId)).status).toBe(202);
  return sessionId;
}

const whoami = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "whoami", arguments: {} } };

describe("A stateful MCP server's sessions behind the guard (Best Practices §Session Hijacking)", () => {
  it("RS-TOK-6: Alice's session id with Bob's token is a 404 and never Alice's data; Alice's own token still reaches her session", async () => {
    const served = app();
    const [alice, bob] = [await tokenFor(served, "alice"), await tokenFor(served, "bob")];
    const sessionId = await aliceSession(served.hono, alice);
    const mine = await rpc(served.hono, alice, whoami, sessionId);
    expect(mine.status).toBe(200);
    expect(((await mine.json()) as { result: { structuredContent: { subject: string } } }).result.structuredContent.subject).toBe("alice");

    const hijack = await rpc(served.hono, bob, whoami, sessionId);
    expect(hijack.status).toBe(404);
    const text = await hijack.text();
    expect(JSON.parse(text)).toMatchObject({ error: { message: "Session not found" } });
    expect(text).not.toContain("alice");

    expect((await rpc(served.hono, alice, whoami, sessionId)).status).toBe(200);
  });

  it("RS-TOK-6: without the binding (sessionBinding: false) the transport alone would serve Bob in Alice's session", async () => {
    const served = app(false);
    const [alice, bob] = [await tokenFor(served, "alice"), await tokenFor(served, "bob")];
    const sessionId = await aliceSession(served.hono, alice);
    const hijack = await rpc(served.hono, bob, whoami, sessionId);
    expect(hijack.status).toBe(200);
  });
});
