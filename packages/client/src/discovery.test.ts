import { describe, expect, it } from "vitest";
import { parseBearerChallenge } from "./challenge.js";
import { authorizationServerMetadataUrls, discover, resourceMetadataUrls } from "./discovery.js";

/** A fetch answering from a table of URL → JSON (404 otherwise), recording every URL asked for. */
function fakeFetch(routes: Record<string, unknown>, challenge?: string) {
  const seen: string[] = [];
  const fn = (async (input: RequestInfo | URL) => {
    const url = input instanceof Request ? input.url : String(input);
    seen.push(url);
    if (url === "https://mcp.test/mcp") return new Response(null, { status: 401, headers: challenge ? { "WWW-Authenticate": challenge } : {} });
    const body = routes[url];
    return body === undefined ? new Response("no", { status: 404 }) : Response.json(body);
  }) as typeof fetch;
  return { fn, seen };
}

const AS = {
  issuer: "https://as.test",
  authorization_endpoint: "https://as.test/authorize",
  token_endpoint: "https://as.test/token",
  response_types_supported: ["code"],
  code_challenge_methods_supported: ["S256"],
};
const PRM = { resource: "https://mcp.test/mcp", authorization_servers: ["https://as.test"] };

describe("discovery", () => {
  it("RFC 9728 well-known URLs: path-inserted, then the root", () => {
    expect(resourceMetadataUrls(new URL("https://mcp.test/a/mcp/")).map(String)).toEqual([
      "https://mcp.test/.well-known/oauth-protected-resource/a/mcp",
      "https://mcp.test/.well-known/oauth-protected-resource",
    ]);
    expect(resourceMetadataUrls(new URL("https://mcp.test/")).map(String)).toEqual(["https://mcp.test/.well-known/oauth-protected-resource"]);
  });

  it("authorization server metadata URLs in the MCP order, with path insertion", () => {
    expect(authorizationServerMetadataUrls(new URL("https://as.test/tenant1")).map(String)).toEqual([
      "https://as.test/.well-known/oauth-authorization-server/tenant1",
      "https://as.test/.well-known/openid-configuration/tenant1",
      "https://as.test/tenant1/.well-known/openid-configuration",
    ]);
    expect(authorizationServerMetadataUrls(new URL("https://as.test")).map(String)).toEqual([
      "https://as.test/.well-known/oauth-authorization-server",
      "https://as.test/.well-known/openid-configuration",
    ]);
  });

  it("uses the challenge's resource_metadata alone, with no well-known fallback", async () => {
    const { fn, seen } = fakeFetch(
      { "https://mcp.test/prm": PRM, "https://as.test/.well-known/oauth-authorization-server": AS },
      'Bearer resource_metadata="https://mcp.test/prm", scope="a b"',
    );
    const found = await discover("https://mcp.test/mcp", { fetch: fn });
    expect(found).toMatchObject({
      issuer: "https://as.test",
      resource: "https://mcp.test/mcp",
      resourceMetadataUrl: "https://mcp.test/prm",
      challenge: { scope: "a b" },
    });
    expect(seen.some((u) => u.includes("oauth-protected-resource"))).toBe(false);
  });

  it("falls back to the 2025-03-26 defaults at the MCP origin when there is no metadata at all", async () => {
    const { fn } = fakeFetch({});
    const found = await discover("https://mcp.test/mcp", { fetch: fn });
    expect(found.issuer).toBe("https://mcp.test");
    expect(found.authorizationServer).toMatchObject({
      authorization_endpoint: "https://mcp.test/authorize",
      token_endpoint: "https://mcp.test/token",
      registration_endpoint: "https://mcp.test/register",
    });
  });

  it("C-1: a resource that names another server aborts", async () => {
    const { fn, seen } = fakeFetch({
      "https://mcp.test/.well-known/oauth-protected-resource/mcp": { ...PRM, resource: "https://evil.test/mcp" },
      "https://as.test/.well-known/oauth-authorization-server": AS,
    });
    await expect(discover("https://mcp.test/mcp", { fetch: fn })).rejects.toMatchObject({ code: "resource_mismatch" });
    expect(seen.some((u) => u.startsWith("https://as.test"))).toBe(false);
  });

  it("C-2: an issuer differing from the named one, even by a trailing slash, aborts", async () => {
    const { fn } = fakeFetch({
      "https://mcp.test/.well-known/oauth-protected-resource/mcp": PRM,
      "https://as.test/.well-known/oauth-authorization-server": { ...AS, issuer: "https://as.test/" },
    });
    await expect(discover("https://mcp.test/mcp", { fetch: fn })).rejects.toMatchObject({ code: "issuer_mismatch" });
  });

  it("C-3: refuses an authorization server without code_challenge_methods_supported, or without S256", async () => {
    const { code_challenge_methods_supported: _, ...noPkce } = AS;
    for (const as of [noPkce, { ...AS, code_challenge_methods_supported: ["plain"] }]) {
      const { fn } = fakeFetch({
        "https://mcp.test/.well-known/oauth-protected-resource/mcp": PRM,
        "https://as.test/.well-known/oauth-authorization-server": as,
      });
      await expect(discover("https://mcp.test/mcp", { fetch: fn })).rejects.toMatchObject({ code: "pkce_unsupported" });
    }
  });

  it("C-7: refuses javascript:, data:, file: and plain-http authorization endpoints", async () => {
    for (const endpoint of ["javascript:alert(1)", "data:text/html,hi", "file:///etc/passwd", "http://as.test/authorize"]) {
      const { fn } = fakeFetch({
        "https://mcp.test/.well-known/oauth-protected-resource/mcp": PRM,
        "https://as.test/.well-known/oauth-authorization-server": { ...AS, authorization_endpoint: endpoint },
      });
      await expect(discover("https://mcp.test/mcp", { fetch: fn })).rejects.toMatchObject({ code: expect.stringMatching(/insecure_url|invalid_metadata/) });
    }
  });

  it("C-8: never fetches a link-local resource_metadata or authorization server (cloud metadata SSRF)", async () => {
    const { fn, seen } = fakeFetch({}, 'Bearer resource_metadata="http://169.254.169.254/latest/meta-data"');
    await expect(discover("https://mcp.test/mcp", { fetch: fn })).rejects.toMatchObject({ code: expect.stringMatching(/forbidden_url|insecure_url/) });
    expect(seen.some((u) => u.includes("169.254"))).toBe(false);
    const second = fakeFetch({ "https://mcp.test/.well-known/oauth-protected-resource/mcp": { ...PRM, authorization_servers: ["https://169.254.169.254"] } });
    await expect(discover("https://mcp.test/mcp", { fetch: second.fn })).rejects.toMatchObject({ code: "forbidden_url" });
    expect(second.seen.some((u) => u.includes("169.254"))).toBe(false);
  });

  it("parses Bearer challenges with quoted and token values among other schemes", () => {
    expect(parseBearerChallenge('Basic realm="x", Bearer error="insufficient_scope", scope="a b", resource_metadata=https://m.test/prm')).toEqual({
      error: "insufficient_scope",
      scope: "a b",
      resourceMetadata: "https://m.test/prm",
    });
    expect(parseBearerChallenge('Basic realm="x"')).toBeUndefined();
    expect(parseBearerChallenge('Bearer realm="a \\"quoted\\" realm", error=invalid_token')).toEqual({ error: "invalid_token" });
  });
});
