import { describe, expect, it } from "vitest";
import { createClockedServer, createTestServer, expectTokenError, ISSUER, type Fetch } from "../../test/helpers.js";

const REGISTER = `${ISSUER}/register`;

function register(fetch: Fetch, body: unknown, headers: Record<string, string> = {}) {
  return fetch(REGISTER, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

const NATIVE = {
  redirect_uris: ["http://127.0.0.1/cb"],
  token_endpoint_auth_method: "none",
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
  client_name: "t",
  application_type: "native",
};

describe("Dynamic client registration (RFC 7591 §3)", () => {
  it("registers a public native client: 201, no-store, values echoed, client_id_issued_at, and no secret (AS-DCR-1)", async () => {
    const t = createClockedServer();
    const response = await register(t.fetch, NATIVE);
    expect(response.status).toBe(201);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject(NATIVE);
    expect(body.client_id).toBeTypeOf("string");
    expect(body.client_id_issued_at).toBe(Math.floor(t.clock.now() / 1000));
    expect(body).not.toHaveProperty("client_secret");
    expect(body).not.toHaveProperty("client_secret_expires_at");
    expect(t.events).toContainEqual({ type: "client.registered", clientId: body.client_id });
  });

  it("gives each client an id of its registration time and 128 random bits: ids sort in the order they were made, and two in one millisecond differ", async () => {
    const t = createClockedServer();
    const idOf = async () => ((await (await register(t.fetch, NATIVE)).json()) as { client_id: string }).client_id;
    const sameInstant = [await idOf(), await idOf()];
    t.clock.advance(1);
    const later = await idOf();
    t.clock.advance(86_400 * 400);
    const muchLater = await idOf();
    const ids = [...sameInstant, later, muchLater];
    for (const id of ids) expect(id).toMatch(/^[0-9a-z]{9}[A-Za-z0-9_-]{22}$/);
    expect(sameInstant[0]!.slice(0, 9)).toBe(sameInstant[1]!.slice(0, 9));
    expect(sameInstant[0]).not.toBe(sameInstant[1]);
    expect(sameInstant[0]!.slice(9)).not.toBe(sameInstant[1]!.slice(9));
    expect(sameInstant[0]! < later && sameInstant[1]! < later && later < muchLater).toBe(true);
    expect(muchLater.slice(0, 9)).toBe(t.clock.now().toString(36).padStart(9, "0"));
  });

  it("registers a client that can then start an authorization request", async () => {
    const t = createTestServer();
    const { client_id } = (await (await register(t.fetch, NATIVE)).json()) as { client_id: string };
    const url = new URL(`${ISSUER}/authorize`);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id,
      redirect_uri: "http://127.0.0.1:4000/cb",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
    }).toString();
    expect((await t.fetch(url)).status).toBe(200);
  });

  it("defaults token_endpoint_auth_method to client_secret_basic and issues a secret that never expires (AS-DCR-3)", async () => {
    const t = createTestServer();
    const { token_endpoint_auth_method: _, ...withoutMethod } = NATIVE;
    const body = (await (await register(t.fetch, withoutMethod)).json()) as Record<string, unknown>;
    expect(body.token_endpoint_auth_method).toBe("client_secret_basic");
    expect(body.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.client_secret_expires_at).toBe(0);
  });

  it("ignores a client-supplied secret: a public client never gets one (B30)", async () => {
    const t = createTestServer();
    const response = await register(t.fetch, { ...NATIVE, client_secret: "x", client_secret_expires_at: 5 });
    expect(response.status).toBe(201);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).not.toHaveProperty("client_secret");
    expect(body).not.toHaveProperty("client_secret_expires_at");
  });

  it.each([
    ["http on a non-loopback host", "http://evil.test/cb"],
    ["a fragment", "https://a.test/cb#x"],
    ["javascript:", "javascript:alert(1)"],
    ["a relative URI", "/cb"],
    ["userinfo", "https://u@a.test/cb"],
    ["a private-use scheme without a dot", "myapp:/cb"],
    ["whitespace", "https://a.test/c b"],
  ])("refuses a redirect URI with %s: 400 invalid_redirect_uri (AS-DCR-2, AS-AUTHZ-6)", async (_, uri) => {
    const t = createTestServer();
    await expectTokenError(await register(t.fetch, { ...NATIVE, redirect_uris: [uri] }), "invalid_redirect_uri");
  });

  it("refuses missing, empty, string-valued and oversized redirect_uris (AS-DCR-2, B29)", async () => {
    const t = createTestServer();
    const { redirect_uris: _, ...without } = NATIVE;
    await expectTokenError(await register(t.fetch, without), "invalid_redirect_uri");
    await expectTokenError(await register(t.fetch, { ...NATIVE, redirect_uris: [] }), "invalid_redirect_uri");
    await expectTokenError(await register(t.fetch, { ...NATIVE, redirect_uris: "http://127.0.0.1/cb" }), "invalid_redirect_uri");
    await expectTokenError(await register(t.fetch, { ...NATIVE, redirect_uris: [42] }), "invalid_redirect_uri");
    const many = Array.from({ length: 1000 }, (_, i) => `http://127.0.0.1/cb${i}`);
    await expectTokenError(await register(t.fetch, { ...NATIVE, redirect_uris: many }), "invalid_redirect_uri");
    await expectTokenError(await register(t.fetch, { ...NATIVE, redirect_uris: [`https://a.test/${"x".repeat(5000)}`] }), "invalid_redirect_uri");
    const huge = await register(t.fetch, { ...NATIVE, redirect_uris: [`https://a.test/${"x".repeat(100 * 1024)}`] });
    await expectTokenError(huge, "invalid_request", 413);
  });

  it("refuses unsupported grant and response types with invalid_client_metadata (AS-DCR-4)", async () => {
    const t = createTestServer();
    for (const grant_types of [["implicit"], ["password"], ["authorization_code", "urn:x"], ["refresh_token"]]) {
      await expectTokenError(await register(t.fetch, { ...NATIVE, grant_types }), "invalid_client_metadata");
    }
    await expectTokenError(await register(t.fetch, { ...NATIVE, response_types: ["token"] }), "invalid_client_metadata");
  });

  it("refuses an unknown token_endpoint_auth_method, or a scope this server does not offer", async () => {
    const t = createTestServer();
    await expectTokenError(await register(t.fetch, { ...NATIVE, token_endpoint_auth_method: "tls_client_auth_x" }), "invalid_client_metadata");
    await expectTokenError(await register(t.fetch, { ...NATIVE, scope: "mcp:tools admin" }), "invalid_client_metadata");
    expect((await register(t.fetch, { ...NATIVE, scope: "mcp:tools offline_access" })).status).toBe(201);
  });

  it("answers non-objects, malformed JSON and a non-JSON media type with 400 invalid_client_metadata, never 500 (AS-DCR-6)", async () => {
    const t = createTestServer();
    for (const body of ["[]", '"x"', "{", "null", "1", ""]) {
      await expectTokenError(await register(t.fetch, body), "invalid_client_metadata");
    }
    await expectTokenError(await register(t.fetch, JSON.stringify(NATIVE), { "Content-Type": "application/x-www-form-urlencoded" }), "invalid_client_metadata");
  });

  it("refuses a 1 MB body with 413 (AS-DCR-6)", async () => {
    const t = createTestServer();
    await expectTokenError(await register(t.fetch, { ...NATIVE, client_name: "x".repeat(1024 * 1024) }), "invalid_request", 413);
  });

  it("never generates a client_id that starts with https:// (AS-DCR-7)", async () => {
    const t = createTestServer();
    const ids = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const { client_id } = (await (await register(t.fetch, NATIVE)).json()) as { client_id: string };
      expect(client_id).not.toMatch(/^https:\/\//);
      ids.add(client_id);
    }
    expect(ids.size).toBe(100);
  });

  it("refuses jwks with jwks_uri, and jwks with client_secret methods (AS-DCR-9)", async () => {
    const t = createTestServer();
    const jwks = { keys: [{ kty: "EC", crv: "P-256", x: "x", y: "y" }] };
    await expectTokenError(await register(t.fetch, { ...NATIVE, jwks, jwks_uri: "https://a.test/jwks" }), "invalid_client_metadata");
    const { token_endpoint_auth_method: _, ...confidential } = NATIVE;
    await expectTokenError(await register(t.fetch, { ...confidential, jwks }), "invalid_client_metadata");
  });

  it("requires https for URL-valued metadata: javascript: or http logo_uri, client_uri, policy_uri, tos_uri are refused (AS-DCR-9, B32)", async () => {
    const t = createTestServer();
    for (const field of ["logo_uri", "client_uri", "policy_uri", "tos_uri"]) {
      for (const value of ["javascript:alert(1)", "http://a.test/x", "data:text/html,x"]) {
        await expectTokenError(await register(t.fetch, { ...NATIVE, [field]: value }), "invalid_client_metadata");
      }
    }
    const ok = (await (await register(t.fetch, { ...NATIVE, logo_uri: "https://a.test/logo.png" })).json()) as Record<string, unknown>;
    expect(ok.logo_uri).toBe("https://a.test/logo.png");
  });

  it("answers GET with 405 and a CORS preflight with 204 (X-CORS-2)", async () => {
    const t = createTestServer();
    expect((await t.fetch(REGISTER)).status).toBe(405);
    const preflight = await t.fetch(REGISTER, { method: "OPTIONS", headers: { Origin: "https://app.test", "Access-Control-Request-Method": "POST" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe("*");
    const created = await register(t.fetch, NATIVE, { Origin: "https://app.test" });
    expect(created.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(created.headers.get("Access-Control-Allow-Credentials")).toBeNull();
  });
});
