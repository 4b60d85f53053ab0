import { describe, expect, it } from "vitest";
import { createClockedServer, createTestServer, ISSUER, obtainTokens, parseChallenge, resourceRequest, RESOURCE } from "../../test/helpers.js";
import { createResourceGuard } from "./guard.js";

const PRM = "https://mcp.test/.well-known/oauth-protected-resource/mcp";
const ROOT_PRM = "https://mcp.test/.well-known/oauth-protected-resource";
const SCOPE_CHARS = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

async function challengeOf(result: unknown, status: number) {
  expect(result).toBeInstanceOf(Response);
  const response = result as Response;
  expect(response.status).toBe(status);
  expect(response.headers.get("Cache-Control")).toBe("no-store");
  return parseChallenge(response.headers.get("WWW-Authenticate"));
}

async function prm(url = PRM, guard = createTestServer().guard) {
  const response = (await guard.handle(new Request(url)))!;
  return { response, body: (await response.clone().json()) as Record<string, unknown> };
}

describe("Protected resource metadata (RFC 9728)", () => {
  it("serves the document at the path-suffixed well-known URL as JSON (RS-PRM-1, RS-PRM-7)", async () => {
    const { response } = await prm();
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
  });

  it("names the resource exactly: lower-case, no trailing slash, no fragment (RS-PRM-2)", async () => {
    const { body } = await prm();
    expect(body.resource).toBe(RESOURCE);
    const guard = createResourceGuard({ resource: "HTTPS://MCP.TEST/mcp", authorizationServers: [ISSUER], verifier: createTestServer().server });
    expect(guard.metadata().resource).toBe(RESOURCE);
  });

  it("lists authorization servers whose metadata issuer equals the entry (RS-PRM-3)", async () => {
    const t = createTestServer();
    const { body } = await prm(PRM, t.guard);
    expect(body.authorization_servers).toEqual([ISSUER]);
    for (const issuer of body.authorization_servers as string[]) {
      const metadata = (await (await t.fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as { issuer: string };
      expect(metadata.issuer).toBe(issuer);
    }
  });

  it("never lists offline_access in scopes_supported (RS-PRM-5)", async () => {
    const guard = createResourceGuard({
      resource: RESOURCE,
      authorizationServers: [ISSUER],
      verifier: createTestServer().server,
      scopesSupported: ["mcp:tools", "offline_access"],
    });
    const { body } = await prm(PRM, guard);
    expect(body.scopes_supported).toEqual(["mcp:tools"]);
  });

  it('declares bearer_methods_supported ["header"] (RS-PRM-6)', async () => {
    expect((await prm()).body.bearer_methods_supported).toEqual(["header"]);
  });

  it("leaves out members without a value (RS-PRM-7)", async () => {
    const guard = createResourceGuard({ resource: RESOURCE, authorizationServers: [ISSUER], verifier: createTestServer().server });
    const { body } = await prm(PRM, guard);
    expect(body).not.toHaveProperty("scopes_supported");
    expect(body).not.toHaveProperty("resource_name");
    for (const value of Object.values(body)) {
      expect(value).not.toBeNull();
      if (Array.isArray(value)) expect(value.length).toBeGreaterThan(0);
    }
  });

  it("includes resource_name as a string (RS-PRM-8)", async () => {
    expect((await prm()).body.resource_name).toBe("Test MCP server");
  });

  it("RS-PRM-4: leaves the root well-known URL alone for a resource with a path (it describes the origin root)", async () => {
    const { guard } = createTestServer();
    expect(guard.owns("/.well-known/oauth-protected-resource")).toBe(false);
    expect(await guard.handle(new Request(ROOT_PRM))).toBeUndefined();
  });

  it("answers CORS: ACAO * on GET, and a 204 preflight allowing MCP-Protocol-Version (X-CORS-1)", async () => {
    const { guard } = createTestServer();
    const get = (await guard.handle(new Request(PRM, { headers: { Origin: "https://app.test" } })))!;
    expect(get.headers.get("Access-Control-Allow-Origin")).toBe("*");
    const preflight = (await guard.handle(
      new Request(PRM, {
        method: "OPTIONS",
        headers: { Origin: "https://app.test", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "mcp-protocol-version" },
      }),
    ))!;
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(preflight.headers.get("Access-Control-Allow-Methods")).toContain("GET");
    expect(preflight.headers.get("Access-Control-Allow-Headers")?.toLowerCase()).toContain("mcp-protocol-version");
  });

  it("answers POST with 405, and leaves other paths (traversal included) to the app (B41)", async () => {
    const { guard } = createTestServer();
    expect((await guard.handle(new Request(PRM, { method: "POST" })))!.status).toBe(405);
    for (const path of ["/.well-known/oauth-protected-resource/other", "/.well-known/oauth-protected-resource/mcp/%2e%2e/%2e%2e/etc/passwd", "/mcp"]) {
      expect(await guard.handle(new Request(`https://mcp.test${path}`))).toBeUndefined();
    }
  });
});

describe("401 challenge (RFC 6750 §3, RFC 9728 §5.1)", () => {
  it("answers no credentials with 401 and a Bearer challenge naming resource_metadata, without error (RS-401-1)", async () => {
    const { guard } = createTestServer();
    const { scheme, params } = await challengeOf(await guard.authenticate(resourceRequest()), 401);
    expect(scheme).toBe("Bearer");
    expect(params.resource_metadata).toBe(PRM);
    expect(new URL(params.resource_metadata!).protocol).toBe("https:");
    expect(params).not.toHaveProperty("error");
  });

  it("carries the required scopes in the challenge, in RFC 6749 characters (RS-401-2)", async () => {
    const { guard } = createTestServer();
    const { params } = await challengeOf(await guard.authenticate(resourceRequest()), 401);
    expect(params.scope).toBe("mcp:tools");
    for (const scope of params.scope!.split(" ")) expect(scope).toMatch(SCOPE_CHARS);
  });

  it("answers an expired token with 401 error=invalid_token and resource_metadata (RS-401-3)", async () => {
    const t = createClockedServer();
    const { body } = await obtainTokens(t.fetch);
    expect(await t.guard.authenticate(resourceRequest(body.access_token))).not.toBeInstanceOf(Response);
    t.clock.advance(3600 + 31);
    const { params } = await challengeOf(await t.guard.authenticate(resourceRequest(body.access_token)), 401);
    expect(params.error).toBe("invalid_token");
    expect(params.resource_metadata).toBe(PRM);
  });

  it("answers a garbage token with 401 invalid_token (RS-401-3)", async () => {
    const { guard } = createTestServer();
    const { params } = await challengeOf(await guard.authenticate(resourceRequest("abc.def.ghi")), 401);
    expect(params.error).toBe("invalid_token");
  });

  it("answers a token outside b64token's characters with 401 invalid_token, malformed, before any verification (RS-401-3)", async () => {
    const t = createClockedServer();
    const { body } = await obtainTokens(t.fetch);
    const issued = body.access_token!;
    // Verified once, then reused: the cached verdict answers (no syntax scan needed for it).
    expect(await t.guard.authenticate(resourceRequest(issued))).not.toBeInstanceOf(Response);
    expect(await t.guard.authenticate(resourceRequest(issued))).not.toBeInstanceOf(Response);
    for (const token of [`${issued}!`, `${issued.slice(0, 20)} ${issued.slice(20)}`, "a=b", "é"]) {
      const { params } = await challengeOf(await t.guard.authenticate(resourceRequest(token)), 401);
      expect(params.error, token).toBe("invalid_token");
      expect(params.error_description, token).toBe("the access token is malformed");
    }
  });

  it("treats the scheme case-insensitively: bEaReR works (RS-401-4)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    const info = await t.guard.authenticate(resourceRequest(undefined, { headers: { Authorization: `bEaReR ${body.access_token}` } }));
    expect(info).toMatchObject({ clientId: "pub", scopes: ["mcp:tools"], resource: new URL(RESOURCE) });
  });

  it("treats another scheme as no credentials: 401 without error (RS-401-5)", async () => {
    const { guard } = createTestServer();
    const { params } = await challengeOf(await guard.authenticate(resourceRequest(undefined, { headers: { Authorization: "Basic dXNlcjpwYXNz" } })), 401);
    expect(params).not.toHaveProperty("error");
    expect(params.resource_metadata).toBe(PRM);
  });

  it("has no session fallback: a request without the header after a good one is 401 (RS-401-6)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    expect(await t.guard.authenticate(resourceRequest(body.access_token))).not.toBeInstanceOf(Response);
    await challengeOf(await t.guard.authenticate(resourceRequest()), 401);
  });

  it("ignores a token in the query string (RS-401-7)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    const { params } = await challengeOf(await t.guard.authenticate(resourceRequest(undefined, { url: `${RESOURCE}?access_token=${body.access_token}` })), 401);
    expect(params).not.toHaveProperty("error");
  });

  it("supports no form-body token: access_token in the body alone is no credential, 401 without error, and the body is left unread (RS-401-8)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    const request = new Request(RESOURCE, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ access_token: body.access_token! }),
    });
    const { params } = await challengeOf(await t.guard.authenticate(request), 401);
    expect(params).not.toHaveProperty("error");
    expect(request.bodyUsed).toBe(false);
  });

  it("writes each attribute once as a quoted string, parseable by a strict parser (RS-401-9)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch, { scope: "files:read" });
    const results = [
      await t.guard.authenticate(resourceRequest()),
      await t.guard.authenticate(resourceRequest("bad")),
      await t.guard.authenticate(resourceRequest(body.access_token)),
      await t.guard.authenticate(resourceRequest(undefined, { headers: { Authorization: "Bearer a, Bearer b" } })),
    ];
    for (const result of results) {
      const header = (result as Response).headers.get("WWW-Authenticate")!;
      expect(header).toMatch(/^Bearer /);
      expect(() => parseChallenge(header)).not.toThrow();
    }
  });

  it.each([
    ["Bearer", "no token"],
    ["Bearer  x", "two spaces"],
    ["Bearer x y", "two tokens"],
    [`Bearer ${"a".repeat(64 * 1024)}`, "a 64 KB token"],
    ['Bearer a"b', "a quote"],
  ])("answers %j (%s) with 401 invalid_token, no crash (B35)", async (header) => {
    const { guard } = createTestServer();
    const { params } = await challengeOf(await guard.authenticate(resourceRequest(undefined, { headers: { Authorization: header } })), 401);
    expect(params.error).toBe("invalid_token");
  });

  it("answers two Authorization headers with 400 invalid_request (B36)", async () => {
    const { guard } = createTestServer();
    const headers = new Headers();
    headers.append("Authorization", "Bearer abc");
    headers.append("Authorization", "Bearer def");
    const { params } = await challengeOf(await guard.authenticate(new Request(RESOURCE, { method: "POST", headers })), 400);
    expect(params.error).toBe("invalid_request");
  });
});

describe("403 insufficient_scope (RFC 6750 §3.1, MCP step-up)", () => {
  it("answers a valid token lacking a scope with 403, every required scope and resource_metadata (RS-403-1, RS-403-2)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch, { scope: "files:read" });
    const result = await t.guard.authenticate(resourceRequest(body.access_token), { scopes: ["files:read", "files:write"] });
    const { params } = await challengeOf(result, 403);
    expect(params.error).toBe("insufficient_scope");
    expect(params.scope!.split(" ")).toEqual(expect.arrayContaining(["files:read", "files:write"]));
    expect(params.resource_metadata).toBe(PRM);
    expect(await (result as Response).json()).toMatchObject({ error: "insufficient_scope" });
  });

  it("accepts the token once it carries the required scopes (RS-403-5)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch, { scope: "files:read files:write" });
    expect(await t.guard.authenticate(resourceRequest(body.access_token), { scopes: ["files:write"] })).toMatchObject({
      scopes: ["files:read", "files:write"],
    });
  });

  it("never puts offline_access in a 401 or 403 challenge (RS-403-4)", async () => {
    const t = createTestServer();
    const guard = createResourceGuard({
      resource: RESOURCE,
      authorizationServers: [ISSUER],
      verifier: t.server,
      requiredScopes: ["mcp:tools", "offline_access"],
    });
    const { body } = await obtainTokens(t.fetch, { scope: "files:read offline_access" });
    const unauthenticated = await challengeOf(await guard.authenticate(resourceRequest()), 401);
    expect(unauthenticated.params.scope).toBe("mcp:tools");
    // The 403 names what the operation needs plus what the token holds (step-up grants the union), never offline_access.
    const forbidden = await challengeOf(await guard.authenticate(resourceRequest(body.access_token)), 403);
    expect(forbidden.params.scope).toBe("mcp:tools files:read");
  });
});

describe("Origin validation and CORS (MCP Streamable HTTP §Security)", () => {
  it("answers a disallowed Origin with 403 before any token check, with no ACAO (RS-TOK-7, X-CORS-5)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    for (const token of [undefined, body.access_token]) {
      const result = (await t.guard.authenticate(resourceRequest(token, { headers: { Origin: "https://evil.test" } }))) as Response;
      expect(result.status).toBe(403);
      expect(result.headers.get("Access-Control-Allow-Origin")).toBeNull();
      expect(result.headers.get("WWW-Authenticate")).toBeNull();
    }
    const preflight = t.guard.preflight(new Request(RESOURCE, { method: "OPTIONS", headers: { Origin: "https://evil.test" } }));
    expect(preflight.status).toBe(403);
  });

  it("lets a request without Origin (a non-browser client) through (RS-TOK-7)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    expect(await t.guard.authenticate(resourceRequest(body.access_token))).not.toBeInstanceOf(Response);
  });

  it("exposes WWW-Authenticate to an allowed Origin on 401 and 403 (X-CORS-4)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch, { scope: "files:read" });
    for (const token of [undefined, body.access_token]) {
      const result = (await t.guard.authenticate(resourceRequest(token, { headers: { Origin: "https://mcp.test" } }))) as Response;
      expect([401, 403]).toContain(result.status);
      expect(result.headers.get("Access-Control-Allow-Origin")).toBe("https://mcp.test");
      expect(result.headers.get("Access-Control-Expose-Headers")).toContain("WWW-Authenticate");
      expect(result.headers.get("Vary")).toBe("Origin");
    }
  });

  it("allows Authorization, Content-Type, MCP-Protocol-Version, Mcp-Method and Mcp-Name in the preflight (X-CORS-4)", async () => {
    const { guard } = createTestServer();
    const preflight = guard.preflight(
      new Request(RESOURCE, { method: "OPTIONS", headers: { Origin: "https://mcp.test", "Access-Control-Request-Method": "POST" } }),
    );
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe("https://mcp.test");
    const allowed = preflight.headers.get("Access-Control-Allow-Headers")!.toLowerCase().split(/,\s*/);
    for (const header of ["authorization", "content-type", "mcp-protocol-version", "mcp-method", "mcp-name"]) expect(allowed).toContain(header);
  });

  it("follows the allowedOrigins list for both CORS and the 403, with * allowing every origin", async () => {
    const t = createTestServer();
    const listed = createResourceGuard({ resource: RESOURCE, authorizationServers: [ISSUER], verifier: t.server, allowedOrigins: ["https://app.test"] });
    expect(((await listed.authenticate(resourceRequest(undefined, { headers: { Origin: "https://app.test" } }))) as Response).status).toBe(401);
    expect(((await listed.authenticate(resourceRequest(undefined, { headers: { Origin: "https://mcp.test" } }))) as Response).status).toBe(403);
    const any = createResourceGuard({ resource: RESOURCE, authorizationServers: [ISSUER], verifier: t.server, allowedOrigins: "*" });
    const response = (await any.authenticate(resourceRequest(undefined, { headers: { Origin: "https://whoever.test" } }))) as Response;
    expect(response.status).toBe(401);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
  });
});

describe("Guard configuration", () => {
  it("refuses a resource with a fragment, or no authorization server, with a TypeError", () => {
    const verifier = createTestServer().server;
    expect(() => createResourceGuard({ resource: `${RESOURCE}#x`, authorizationServers: [ISSUER], verifier })).toThrow(TypeError);
    expect(() => createResourceGuard({ resource: RESOURCE, authorizationServers: [], verifier })).toThrow(TypeError);
  });
});
