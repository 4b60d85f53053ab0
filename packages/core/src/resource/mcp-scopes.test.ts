import { describe, expect, it } from "vitest";
import { createResourceGuard, rawHeaders } from "../index.js";
import { createTestServer, ISSUER, obtainTokens, RESOURCE } from "../../test/helpers.js";

function guardWith(t: ReturnType<typeof createTestServer>, extra: Parameters<typeof createResourceGuard>[0] extends infer O ? Partial<O> : never) {
  return createResourceGuard({ resource: RESOURCE, authorizationServers: [ISSUER], verifier: t.server, requiredScopes: ["mcp:tools"], ...extra });
}

const call = (token: string | undefined, body: unknown, headers: Record<string, string> = {}) =>
  new Request(RESOURCE, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify(body),
  });

const toolCall = (name: string, id = 1) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: {} } });

function challengeScope(response: Response): string | undefined {
  return /scope="([^"]*)"/.exec(response.headers.get("WWW-Authenticate") ?? "")?.[1];
}

describe("Scope hierarchy (MCP 2026-07-28 Step-Up Authorization, RS-403-3)", () => {
  it("lets a broader scope satisfy a narrower requirement, transitively", async () => {
    const t = createTestServer();
    const guard = guardWith(t, { scopeHierarchy: { "files:write": ["files:read"], "mcp:tools": ["files:write"] } });
    const { body } = await obtainTokens(t.fetch, { scope: "mcp:tools" });
    const result = await guard.authenticate(call(body.access_token, {}), { scopes: ["files:read"] });
    expect(result).not.toBeInstanceOf(Response);
  });

  it("does not let a narrower scope satisfy a broader one", async () => {
    const t = createTestServer();
    const guard = guardWith(t, { scopeHierarchy: { "files:write": ["files:read"] } });
    const { body } = await obtainTokens(t.fetch, { scope: "mcp:tools files:read" });
    const result = (await guard.authenticate(call(body.access_token, {}), { scopes: ["files:write"] })) as Response;
    expect(result.status).toBe(403);
  });
});

describe("MCP-aware scope requirements (tools and JSON-RPC methods)", () => {
  const mcp = { tools: { admin_echo: ["files:write"] }, methods: { "resources/read": ["files:read"] } };

  it("answers 403 before dispatch for a tool the token may not call, naming every needed scope once (RS-403-1, RS-403-2)", async () => {
    const t = createTestServer();
    const guard = guardWith(t, { mcp });
    const { body } = await obtainTokens(t.fetch, { scope: "mcp:tools" });
    const forbidden = (await guard.authenticate(call(body.access_token, toolCall("admin_echo")))) as Response;
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get("WWW-Authenticate")).toContain('error="insufficient_scope"');
    expect(challengeScope(forbidden)).toBe("mcp:tools files:write");
    expect(await guard.authenticate(call(body.access_token, toolCall("whoami")))).not.toBeInstanceOf(Response);
  });

  it("lets the same call through after step-up with the union of scopes (RS-403-5)", async () => {
    const t = createTestServer();
    const guard = guardWith(t, { mcp });
    const { body } = await obtainTokens(t.fetch, { scope: "mcp:tools files:write" });
    expect(await guard.authenticate(call(body.access_token, toolCall("admin_echo")))).toMatchObject({ scopes: ["mcp:tools", "files:write"] });
  });

  it("answers a call without a token from the headers alone: the 401 names the configured scopes, the step-up comes with the 403", async () => {
    const t = createTestServer();
    const guard = guardWith(t, { mcp });
    const response = (await guard.authenticate(call(undefined, toolCall("admin_echo")))) as Response;
    expect(response.status).toBe(401);
    expect(challengeScope(response)).toBe("mcp:tools");
  });

  it("takes the union over a JSON-RPC batch, and maps methods as well as tools", async () => {
    const t = createTestServer();
    const guard = guardWith(t, { mcp });
    const { body } = await obtainTokens(t.fetch, { scope: "mcp:tools" });
    const batch = [toolCall("whoami", 1), { jsonrpc: "2.0", id: 2, method: "resources/read", params: { uri: "x" } }];
    const response = (await guard.authenticate(call(body.access_token, batch))) as Response;
    expect(response.status).toBe(403);
    expect(challengeScope(response)).toBe("mcp:tools files:read");
  });

  it("refuses Mcp-Method / Mcp-Name headers that disagree with the body (MCP 2026-07-28)", async () => {
    const t = createTestServer();
    const guard = guardWith(t, { mcp });
    const { body } = await obtainTokens(t.fetch, { scope: "mcp:tools" });
    const lying = (await guard.authenticate(call(body.access_token, toolCall("admin_echo"), { "Mcp-Method": "tools/call", "Mcp-Name": "whoami" }))) as Response;
    expect(lying.status).toBe(400);
    expect(lying.headers.get("WWW-Authenticate")).toContain('error="invalid_request"');
    const honest = await guard.authenticate(call(body.access_token, toolCall("whoami"), { "Mcp-Method": "tools/call", "Mcp-Name": "whoami" }));
    expect(honest).not.toBeInstanceOf(Response);
  });

  it("leaves the body readable for the MCP server after the check", async () => {
    const t = createTestServer();
    const guard = guardWith(t, { mcp });
    const { body } = await obtainTokens(t.fetch, { scope: "mcp:tools" });
    const request = call(body.access_token, toolCall("whoami"));
    await guard.authenticate(request);
    expect(await request.json()).toEqual(toolCall("whoami"));
  });
});

describe("MCP-aware requirements on a request view an adapter built (no Fetch Request)", () => {
  const mcp = { tools: { admin_echo: ["files:write"] } };
  const view = (token: string, headers: Record<string, string> = {}) => {
    const raw = ["Host", new URL(RESOURCE).host, "Authorization", `Bearer ${token}`, ...Object.entries(headers).flat()];
    return { method: "POST", url: RESOURCE, headers: rawHeaders(raw) };
  };

  it("reads the JSON-RPC body the adapter passes: 403 for the tool the token may not call, the AuthInfo otherwise", async () => {
    const t = createTestServer();
    const guard = guardWith(t, { mcp });
    const { body } = await obtainTokens(t.fetch, { scope: "mcp:tools" });
    const forbidden = (await guard.authenticate(view(body.access_token!), { body: JSON.stringify(toolCall("admin_echo")) })) as Response;
    expect(forbidden.status).toBe(403);
    expect(challengeScope(forbidden)).toBe("mcp:tools files:write");
    const allowed = await guard.authenticate(view(body.access_token!), { body: JSON.stringify(toolCall("whoami")) });
    expect(allowed).not.toBeInstanceOf(Response);
    const mismatch = (await guard.authenticate(view(body.access_token!, { "Mcp-Name": "whoami" }), {
      body: JSON.stringify(toolCall("admin_echo")),
    })) as Response;
    expect(mismatch.status).toBe(400);
  });

  it("refuses to guess when an adapter passes neither a Request nor the body: a TypeError, never a pass", async () => {
    const t = createTestServer();
    const guard = guardWith(t, { mcp });
    const { body } = await obtainTokens(t.fetch, { scope: "mcp:tools" });
    await expect(guard.authenticate(view(body.access_token!))).rejects.toThrow(TypeError);
  });
});
