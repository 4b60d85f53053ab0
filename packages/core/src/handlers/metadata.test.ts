import { describe, expect, it } from "vitest";
import { createTestServer, ISSUER, RESOURCE } from "../../test/helpers.js";

const OAUTH_METADATA = `${ISSUER}/.well-known/oauth-authorization-server`;
const OIDC_METADATA = `${ISSUER}/.well-known/openid-configuration`;

async function getMetadata(url = OAUTH_METADATA) {
  const t = createTestServer();
  const response = await t.fetch(url);
  return { t, response, body: (await response.clone().json()) as Record<string, unknown> };
}

describe("Authorization server metadata (RFC 8414)", () => {
  it("serves the metadata document as JSON at the well-known URL (AS-MD-1)", async () => {
    const { response, body } = await getMetadata();
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(typeof body).toBe("object");
    expect(Array.isArray(body)).toBe(false);
  });

  it("has issuer, authorization and token endpoints and response type code, all absolute https URLs without fragment (AS-MD-2, AS-MD-12)", async () => {
    const { body } = await getMetadata();
    expect(body.response_types_supported).toContain("code");
    for (const name of ["authorization_endpoint", "token_endpoint", "registration_endpoint", "revocation_endpoint", "introspection_endpoint", "jwks_uri"]) {
      const url = new URL(body[name] as string);
      expect(url.protocol, name).toBe("https:");
      expect(url.hash, name).toBe("");
      expect(url.origin, name).toBe(ISSUER);
    }
  });

  it("advertises exactly S256 as PKCE method (AS-MD-3)", async () => {
    const { body } = await getMetadata();
    expect(body.code_challenge_methods_supported).toEqual(["S256"]);
  });

  it("names the issuer byte for byte, with no trailing slash added (AS-MD-4)", async () => {
    const { body } = await getMetadata();
    expect(body.issuer).toBe(ISSUER);
  });

  it("also serves OIDC discovery, which carries code_challenge_methods_supported and the same issuer (AS-MD-6)", async () => {
    const { response, body } = await getMetadata(OIDC_METADATA);
    expect(response.status).toBe(200);
    expect(body.issuer).toBe(ISSUER);
    expect(body.code_challenge_methods_supported).toEqual(["S256"]);
  });

  it("leaves out members without a value: no [] and no null (AS-MD-7)", async () => {
    for (const url of [OAUTH_METADATA, OIDC_METADATA]) {
      const { body } = await getMetadata(url);
      for (const [name, value] of Object.entries(body)) {
        expect(value, name).not.toBeNull();
        if (Array.isArray(value)) expect(value.length, name).toBeGreaterThan(0);
      }
    }
  });

  it("lists its grant types, every client auth method including none, and its scopes (AS-MD-8)", async () => {
    const { body } = await getMetadata();
    expect(body.grant_types_supported).toEqual(expect.arrayContaining(["authorization_code", "refresh_token"]));
    expect(body.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(["none", "client_secret_basic", "client_secret_post"]));
    expect(body.scopes_supported).toEqual(expect.arrayContaining(["mcp:tools", "files:read", "files:write"]));
  });

  it("advertises authorization_response_iss_parameter_supported, and authorization redirects carry iss (AS-MD-10)", async () => {
    const { t, body } = await getMetadata();
    expect(body.authorization_response_iss_parameter_supported).toBe(true);
    const response = await t.fetch(`${ISSUER}/authorize?client_id=pub&redirect_uri=${encodeURIComponent("http://127.0.0.1/cb")}&response_type=token`);
    expect(new URL(response.headers.get("Location")!).searchParams.get("iss")).toBe(body.issuer);
  });

  it("advertises revocation and introspection endpoints that answer POST, with their auth methods (AS-MD-11)", async () => {
    const { t, body } = await getMetadata();
    expect(body.revocation_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(["none", "client_secret_basic"]));
    expect(body.introspection_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(["client_secret_basic"]));
    for (const name of ["revocation_endpoint", "introspection_endpoint", "token_endpoint", "registration_endpoint"]) {
      const response = await t.fetch(body[name] as string, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "" });
      expect(response.status, name).not.toBe(404);
      expect(response.status, name).toBeLessThan(500);
    }
  });

  it("drops registration_endpoint, and /register answers 404, when dynamic registration is off (AS-MD-9)", async () => {
    const t = createTestServer({ dynamicRegistration: false });
    const body = (await (await t.fetch(OAUTH_METADATA)).json()) as Record<string, unknown>;
    expect(body).not.toHaveProperty("registration_endpoint");
    const response = await t.fetch(`${ISSUER}/register`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(response.status).toBe(404);
  });

  it("answers POST to the well-known URL with 405 and an Allow header, never 5xx (AS-MD-13)", async () => {
    const t = createTestServer();
    for (const url of [OAUTH_METADATA, OIDC_METADATA]) {
      const response = await t.fetch(url, { method: "POST", body: "x" });
      expect(response.status).toBe(405);
      expect(response.headers.get("Allow")).toContain("GET");
    }
  });

  it("answers HEAD on the metadata (AS-MD-13)", async () => {
    const t = createTestServer();
    const response = await t.fetch(OAUTH_METADATA, { method: "HEAD" });
    expect(response.status).toBe(200);
  });
});

describe("MCP 2025-03-26 compatibility: a co-hosted issuer with a path served at the origin root", () => {
  const TENANT = "https://mcp.test/tenant1";
  const ROOT_METADATA = "https://mcp.test/.well-known/oauth-authorization-server";
  const register = {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ redirect_uris: ["http://127.0.0.1/cb"], token_endpoint_auth_method: "none" }),
  };

  it("serves the metadata at the origin root with the same issuer, and aliases /authorize, /token and /register there (AS-MD-14)", async () => {
    const { server, fetch } = createTestServer({ issuer: TENANT, serveAtOriginRoot: true });
    const root = await fetch(ROOT_METADATA);
    expect(root.status).toBe(200);
    const body = (await root.json()) as Record<string, unknown>;
    expect(body.issuer).toBe(TENANT);
    expect(body).toEqual(server.metadata());
    const authorize = await fetch(
      `https://mcp.test/authorize?response_type=code&client_id=pub&code_challenge=${"a".repeat(43)}&code_challenge_method=S256&resource=${encodeURIComponent(RESOURCE)}`,
    );
    expect(authorize.status).toBe(200); // the sign-in page, as at the issuer's own /authorize
    const token = await fetch("https://mcp.test/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "grant_type=authorization_code&code=nope&client_id=pub",
    });
    expect(token.status).toBe(400); // the token endpoint's OAuth error, not a 404
    expect(((await token.json()) as { error: string }).error).toBe("invalid_request");
    expect((await fetch("https://mcp.test/register", register)).status).toBe(201);
  });

  it("serves nothing at the origin root unless asked (AS-MD-14)", async () => {
    const { fetch } = createTestServer({ issuer: TENANT });
    expect((await fetch(ROOT_METADATA)).status).toBe(404);
    expect((await fetch("https://mcp.test/register", register)).status).toBe(404);
    expect((await fetch(`${TENANT}/.well-known/oauth-authorization-server`)).status).toBe(404);
    expect((await fetch(`https://mcp.test/.well-known/oauth-authorization-server/tenant1`)).status).toBe(200);
  });
});

describe("Transport security", () => {
  it("refuses a plain-http issuer on a non-loopback host at construction by default, allowing only loopback for development (X-TLS-1)", () => {
    for (const issuer of ["http://as.test", "http://203.0.113.5:8080", "http://[2001:db8::1]"]) {
      expect(() => createTestServer({ issuer }), issuer).toThrow(TypeError);
    }
    for (const issuer of ["http://localhost:8787", "http://127.0.0.1:8787", "http://[::1]:8787"]) {
      const { server } = createTestServer({ issuer });
      expect(server.metadata().token_endpoint).toBe(`${issuer}/token`);
    }
    // The opt-out is explicit, never a default.
    expect(createTestServer({ issuer: "http://as.test", allowInsecureHttp: true }).server.issuer).toBe("http://as.test");
  });
});

describe("Metadata CORS (OAuth 2.1 §3.2)", () => {
  it("answers a cross-origin GET with Access-Control-Allow-Origin * and no credentials (X-CORS-1)", async () => {
    const t = createTestServer();
    const response = await t.fetch(OAUTH_METADATA, { headers: { Origin: "https://app.test" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(response.headers.get("Access-Control-Allow-Credentials")).toBeNull();
  });

  it("answers the preflight with 204, allowing GET and MCP-Protocol-Version (X-CORS-1)", async () => {
    const t = createTestServer();
    for (const url of [OAUTH_METADATA, OIDC_METADATA, `${ISSUER}/jwks.json`]) {
      const response = await t.fetch(url, {
        method: "OPTIONS",
        headers: { Origin: "https://app.test", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "mcp-protocol-version" },
      });
      expect(response.status).toBe(204);
      expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
      expect(response.headers.get("Access-Control-Allow-Methods")).toContain("GET");
      expect(response.headers.get("Access-Control-Allow-Headers")?.toLowerCase()).toContain("mcp-protocol-version");
    }
  });

  it("sends no CORS headers to a same-origin (Origin-less) request", async () => {
    const t = createTestServer();
    const response = await t.fetch(OAUTH_METADATA);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});

describe("JWKS (RFC 7517, RFC 9068 §4)", () => {
  it("serves public keys only: no private members (AS-JWT-1)", async () => {
    const t = createTestServer();
    const { body } = await getMetadata();
    const response = await t.fetch(body.jwks_uri as string);
    expect(response.status).toBe(200);
    const jwks = (await response.json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      for (const member of ["d", "p", "q", "dp", "dq", "qi", "k"]) expect(key).not.toHaveProperty(member);
      expect(key.kid).toBeTypeOf("string");
      expect(key.use).toBe("sig");
    }
  });
});
