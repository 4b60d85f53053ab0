import { describe, expect, it } from "vitest";
import { createTestServer, ISSUER, obtainTokens, parseChallenge, resourceRequest, RESOURCE } from "../../test/helpers.js";
import type { TokenVerifier } from "../types.js";
import { createResourceGuard, type ProtectResult } from "./guard.js";

const ORIGIN = "https://mcp.test";

function refused(result: ProtectResult): Response {
  expect(result.ok).toBe(false);
  return (result as { response: Response }).response;
}

describe("guard.protect: the whole bearer check an adapter runs", () => {
  it("answers OPTIONS with the preflight, checking no token (X-CORS-4)", async () => {
    const { guard } = createTestServer();
    const response = refused(await guard.protect(resourceRequest(undefined, { method: "OPTIONS", headers: { Origin: ORIGIN } })));
    expect(response.status).toBe(204);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(ORIGIN);
    expect(response.headers.get("Access-Control-Allow-Headers")).toContain("Authorization");
  });

  it("answers a request without a token with the 401 challenge, CORS headers included (RS-401-1)", async () => {
    const { guard } = createTestServer();
    const response = refused(await guard.protect(resourceRequest(undefined, { headers: { Origin: ORIGIN } })));
    expect(response.status).toBe(401);
    expect(parseChallenge(response.headers.get("WWW-Authenticate")).scheme).toBe("Bearer");
    expect(response.headers.get("Access-Control-Expose-Headers")).toContain("WWW-Authenticate");
  });

  it("answers a disallowed Origin with 403, both for the preflight and the request (X-CORS-5)", async () => {
    const { guard } = createTestServer();
    for (const method of ["OPTIONS", "POST"]) {
      const response = refused(await guard.protect(resourceRequest(undefined, { method, headers: { Origin: "https://evil.test" } })));
      expect(response.status, method).toBe(403);
      expect(response.headers.get("Access-Control-Allow-Origin"), method).toBeNull();
    }
  });

  it("passes a valid token on with its AuthInfo and the CORS headers for the route's response", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    const result = await t.guard.protect(resourceRequest(body.access_token, { headers: { Origin: ORIGIN } }));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.auth.scopes).toContain("mcp:tools");
    expect(String(result.auth.resource)).toBe(RESOURCE);
    expect(result.headers).toEqual(t.guard.corsHeaders(resourceRequest(undefined, { headers: { Origin: ORIGIN } })));
    expect(result.headers["Access-Control-Allow-Origin"]).toBe(ORIGIN);
    const without = await t.guard.protect(resourceRequest(body.access_token));
    expect(without.ok && without.headers).toEqual({});
  });

  it("takes the route's scopes: a token lacking one gets the 403 step-up challenge (RS-403-1)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    const response = refused(await t.guard.protect(resourceRequest(body.access_token), { scopes: ["files:write"] }));
    expect(response.status).toBe(403);
    expect(parseChallenge(response.headers.get("WWW-Authenticate")).params.error).toBe("insufficient_scope");
  });

  it("audit #13: turns an exception of the guard into a bare server_error 500 reported to onError, never a throw", async () => {
    const reported: unknown[] = [];
    // A verifier answering without scopes makes the guard itself throw.
    const verifier: TokenVerifier = { verifyAccessToken: async () => ({ token: "t", clientId: "c" }) as never };
    const guard = createResourceGuard({
      resource: RESOURCE,
      authorizationServers: [ISSUER],
      verifier,
      requiredScopes: ["mcp:tools"],
      onError: (error) => reported.push(error),
    });
    const response = refused(await guard.protect(resourceRequest("abc", { headers: { Origin: ORIGIN } })));
    expect(response.status).toBe(500);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(ORIGIN);
    expect(await response.json()).toEqual({ error: "server_error" });
    expect(reported).toHaveLength(1);
  });

  it("answers a body reader's failure with 400 and a body past the limit with 413, as authenticate does", async () => {
    const t = createTestServer();
    const guard = createResourceGuard({
      resource: RESOURCE,
      authorizationServers: [ISSUER],
      verifier: t.server,
      requiredScopes: ["mcp:tools"],
      mcp: { tools: { admin: ["mcp:admin"] } },
    });
    const { body } = await obtainTokens(t.fetch);
    const failing = refused(await guard.protect(resourceRequest(body.access_token), { body: async () => Promise.reject(new Error("socket closed")) }));
    expect(failing.status).toBe(400);
    const tooLong = refused(await guard.protect(resourceRequest(body.access_token), { body: async () => undefined }));
    expect(tooLong.status).toBe(413);
  });
});
