import { describe, expect, it } from "vitest";
import {
  authorizationUrl,
  createTestServer,
  expectErrorPage,
  expectErrorRedirect,
  ISSUER,
  openConsentPage,
  readConsentPage,
  redirectOf,
  RESOURCE,
  signIn,
  TEST_CLIENTS,
} from "../../test/helpers.js";

/** A valid authorization URL for `pub` with one parameter appended a second time. */
async function withRepeated(name: string, value: string, base: Record<string, string | undefined> = {}) {
  const { url } = await authorizationUrl(base);
  url.searchParams.append(name, value);
  return url;
}

describe("Authorization endpoint: valid requests (OAuth 2.1 §4.1.1)", () => {
  it("answers a valid GET with the sign-in page, not a code, when nobody is signed in (AS-AUTHZ-1, AS-AUTHZ-23)", async () => {
    const t = createTestServer();
    const { url } = await authorizationUrl({});
    const response = await t.fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get("Location")).toBeNull();
    const { html, requestId, csrf } = await readConsentPage(response);
    expect(html).toContain('name="password"');
    expect(requestId).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(html).not.toMatch(/[?&]code=/);
  });

  it("accepts the request as a form POST too (AS-AUTHZ-1)", async () => {
    const t = createTestServer();
    const { url } = await authorizationUrl({});
    const response = await t.fetch(`${ISSUER}/authorize`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: url.search.slice(1),
    });
    expect(response.status).toBe(200);
    expect((await readConsentPage(response)).requestId).toBeTruthy();
  });

  it("sets a browser-binding cookie that is HttpOnly, SameSite=Lax, Secure and __Host- prefixed", async () => {
    const t = createTestServer();
    const response = await t.fetch((await authorizationUrl({})).url);
    const cookie = response.headers.get("Set-Cookie")!;
    expect(cookie).toMatch(/^__Host-portcullis-browser=[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; Path=\//);
  });

  it("delivers the code to the only registered redirect URI when redirect_uri is omitted (AS-AUTHZ-7)", async () => {
    const t = createTestServer();
    const response = await signIn(t.fetch, (await authorizationUrl({ redirect_uri: undefined })).url);
    const { url, params } = redirectOf(response);
    expect(`${url.origin}${url.pathname}`).toBe("http://127.0.0.1/cb");
    expect(params.get("code")).toBeTruthy();
  });

  it("echoes state byte for byte and adds iss to the code response (AS-AUTHZ-11, AS-AUTHZ-12)", async () => {
    const t = createTestServer();
    const state = "a b+😀&x=%2F";
    const { url } = await authorizationUrl({ state });
    expect(url.search).toContain("state=a+b%2B%F0%9F%98%80%26x%3D%252F");
    const { params } = redirectOf(await signIn(t.fetch, url));
    expect(params.get("state")).toBe(state);
    expect(params.getAll("iss")).toEqual([ISSUER]);
    expect(params.get("code")).toBeTruthy();
  });

  it("adds no state when none was sent, also for an empty state= (AS-AUTHZ-11, AS-AUTHZ-14)", async () => {
    const t = createTestServer();
    for (const state of [undefined, ""]) {
      const { params } = redirectOf(await signIn(t.fetch, (await authorizationUrl({ state })).url));
      expect(params.has("state")).toBe(false);
      expect(params.get("code")).toBeTruthy();
    }
  });

  it("ignores unknown parameters (AS-AUTHZ-14)", async () => {
    const t = createTestServer();
    const response = await t.fetch((await authorizationUrl({ foo: "bar", prompt: "consent" })).url);
    expect(response.status).toBe(200);
  });

  it("keeps the query of a registered redirect URI when adding parameters (AS-AUTHZ-22)", async () => {
    const t = createTestServer({ clients: [...TEST_CLIENTS, { client_id: "tenant", redirect_uris: ["https://app.test/cb?tenant=7"] }] });
    const response = await signIn(t.fetch, (await authorizationUrl({ client_id: "tenant", redirect_uri: "https://app.test/cb?tenant=7" })).url);
    const location = response.headers.get("Location")!;
    expect(location.startsWith("https://app.test/cb?tenant=7&")).toBe(true);
    expect(location.split("?")).toHaveLength(2);
    expect(new URL(location).searchParams.get("code")).toBeTruthy();
  });

  it("keeps a registered query byte for byte, without re-encoding it (AS-AUTHZ-22)", async () => {
    const registered = "https://app.test/cb?next=%2Fhome%20page&x=a,b";
    const t = createTestServer({ clients: [...TEST_CLIENTS, { client_id: "tenant", redirect_uris: [registered] }] });
    const response = await signIn(t.fetch, (await authorizationUrl({ client_id: "tenant", redirect_uri: registered })).url);
    expect(response.headers.get("Location")!.startsWith(`${registered}&`)).toBe(true);
  });

  it("accepts resource percent-encoded in the query and binds it (AS-AUTHZ-13)", async () => {
    const t = createTestServer();
    const { url } = await authorizationUrl({ resource: RESOURCE });
    expect(url.search).toContain("resource=https%3A%2F%2Fmcp.test%2Fmcp");
    const { page } = await openConsentPage(t.fetch, url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(RESOURCE);
  });

  it("treats an empty resource= as absent and uses the single configured resource (B12)", async () => {
    const t = createTestServer();
    const response = await t.fetch((await authorizationUrl({ resource: "" })).url);
    expect(response.status).toBe(200);
  });
});

describe("Authorization endpoint: errors shown as a page (OAuth 2.1 §4.1.2.1)", () => {
  it("shows an error page, never a redirect, for an unknown or missing client_id (AS-AUTHZ-2)", async () => {
    const t = createTestServer();
    await expectErrorPage(await t.fetch((await authorizationUrl({ client_id: "nope" })).url));
    await expectErrorPage(await t.fetch((await authorizationUrl({ client_id: undefined })).url));
  });

  it("shows an error page when a client with several redirect URIs omits redirect_uri (AS-AUTHZ-7)", async () => {
    const t = createTestServer({
      clients: [...TEST_CLIENTS, { client_id: "multi", redirect_uris: ["https://app.test/a", "https://app.test/b"] }],
    });
    await expectErrorPage(await t.fetch((await authorizationUrl({ client_id: "multi", redirect_uri: undefined })).url));
  });

  it("shows an error page for a repeated client_id (B6)", async () => {
    const t = createTestServer();
    const html = await expectErrorPage(await t.fetch(await withRepeated("client_id", "pub2")));
    expect(html).toContain("parameter repeated: client_id");
  });

  it("shows an error page for a repeated redirect_uri, even with the same value (AS-AUTHZ-14)", async () => {
    const t = createTestServer();
    await expectErrorPage(await t.fetch(await withRepeated("redirect_uri", "http://127.0.0.1/cb")));
  });

  it("refuses a state longer than its documented 4096-character limit with an error page, never truncating it (B10)", async () => {
    const t = createTestServer();
    // 64 KB does not fit the 8 KB URL limit (414); 4097 characters fit it and pass the state limit (400).
    await expectErrorPage(await t.fetch((await authorizationUrl({ state: "s".repeat(64 * 1024) })).url), 414);
    await expectErrorPage(await t.fetch((await authorizationUrl({ state: "s".repeat(4097) })).url));
    const { params } = redirectOf(await signIn(t.fetch, (await authorizationUrl({ state: "s".repeat(4096) })).url));
    expect(params.get("state")).toBe("s".repeat(4096));
  });

  it("shows an error page for malformed percent-encoding (B43)", async () => {
    const t = createTestServer();
    const { url } = await authorizationUrl({});
    for (const bad of ["%zz", "%C3"]) {
      await expectErrorPage(await t.fetch(`${url.href}&scope=${bad}`));
    }
  });

  it("has no CORS on the authorization endpoint: OPTIONS and a GET with Origin get no ACAO (AS-AUTHZ-15, X-CORS-3)", async () => {
    const t = createTestServer();
    const { url } = await authorizationUrl({});
    const preflight = await t.fetch(url, { method: "OPTIONS", headers: { Origin: "https://app.test", "Access-Control-Request-Method": "GET" } });
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBeNull();
    expect(preflight.status).toBe(405);
    const get = await t.fetch(url, { headers: { Origin: "https://app.test" } });
    expect(get.status).toBe(200);
    expect(get.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});

describe("Authorization endpoint: errors redirected to the client (OAuth 2.1 §4.1.2.1)", () => {
  it("redirects invalid_request with state and iss when code_challenge is missing (AS-AUTHZ-8)", async () => {
    const t = createTestServer();
    expectErrorRedirect(await t.fetch((await authorizationUrl({ code_challenge: undefined })).url), "invalid_request", { state: "st-1" });
  });

  it("accepts only S256: plain, an omitted method and lower-case s256 are invalid_request (AS-AUTHZ-9)", async () => {
    const t = createTestServer();
    for (const method of ["plain", undefined, "s256"]) {
      const params = expectErrorRedirect(await t.fetch((await authorizationUrl({ code_challenge_method: method })).url), "invalid_request", {
        state: "st-1",
      });
      expect(params.get("error_description")).toContain("transform algorithm not supported");
    }
  });

  it("requires a 43-character base64url code_challenge (AS-AUTHZ-10, B8)", async () => {
    const t = createTestServer();
    const bad = ["A".repeat(42), "A".repeat(129), "A".repeat(128), `${"A".repeat(42)}+`, `${"A".repeat(42)}/`, `${"A".repeat(42)}=`, `${"A".repeat(41)}é`];
    for (const challenge of bad) {
      expectErrorRedirect(await t.fetch((await authorizationUrl({ code_challenge: challenge })).url), "invalid_request", { state: "st-1" });
    }
  });

  it("redirects invalid_request for a repeated code_challenge (B7) or scope (AS-AUTHZ-14)", async () => {
    const t = createTestServer();
    expectErrorRedirect(await t.fetch(await withRepeated("code_challenge", "B".repeat(43))), "invalid_request", { state: "st-1" });
    expectErrorRedirect(await t.fetch(await withRepeated("scope", "files:read")), "invalid_request", { state: "st-1" });
  });

  it("redirects unsupported_response_type for token, code id_token and CODE (B9)", async () => {
    const t = createTestServer();
    for (const type of ["token", "code id_token", "CODE"]) {
      expectErrorRedirect(await t.fetch((await authorizationUrl({ response_type: type })).url), "unsupported_response_type", { state: "st-1" });
    }
  });

  it("redirects invalid_request when response_type is missing", async () => {
    const t = createTestServer();
    expectErrorRedirect(await t.fetch((await authorizationUrl({ response_type: undefined })).url), "invalid_request", { state: "st-1" });
  });

  it("redirects invalid_scope for an unknown scope (AS-AUTHZ-20)", async () => {
    const t = createTestServer();
    expectErrorRedirect(await t.fetch((await authorizationUrl({ scope: "unknown:zzz" })).url), "invalid_scope", { state: "st-1" });
  });

  it('redirects invalid_scope for a scope with ", \\, NUL or a newline (B11)', async () => {
    const t = createTestServer();
    for (const scope of ['mcp:"tools', "mcp\\tools", "mcp:tools\u0000", "mcp:tools\nfiles:read"]) {
      expectErrorRedirect(await t.fetch((await authorizationUrl({ scope })).url), "invalid_scope", { state: "st-1" });
    }
  });

  it("redirects invalid_target for a malformed, fragment-carrying, unknown or non-http resource (AS-AUTHZ-13, B12)", async () => {
    const t = createTestServer();
    for (const resource of ["mcp.test", `${RESOURCE}#x`, "https://unknown.test", "javascript:alert(1)", "urn:x", `${RESOURCE}/`]) {
      expectErrorRedirect(await t.fetch((await authorizationUrl({ resource })).url), "invalid_target", { state: "st-1" });
    }
  });

  it("refuses a second resource, which would widen the audience, with invalid_target (AS-AUTHZ-13)", async () => {
    const t = createTestServer();
    expectErrorRedirect(await t.fetch(await withRepeated("resource", "https://other.test/mcp")), "invalid_target", { state: "st-1" });
  });

  it("redirects errors without state when the request had none (AS-AUTHZ-11)", async () => {
    const t = createTestServer();
    const params = expectErrorRedirect(await t.fetch((await authorizationUrl({ state: undefined, scope: "nope" })).url), "invalid_scope");
    expect(params.has("state")).toBe(false);
  });

  it("redirects invalid_scope for a scope outside the client's registered scope (AS-AUTHZ-20)", async () => {
    const t = createTestServer({ clients: [...TEST_CLIENTS, { client_id: "lim", redirect_uris: ["http://127.0.0.1/cb"], scope: "files:read" }] });
    expectErrorRedirect(await t.fetch((await authorizationUrl({ client_id: "lim", scope: "files:write" })).url), "invalid_scope", { state: "st-1" });
    expect((await t.fetch((await authorizationUrl({ client_id: "lim", scope: "files:read" })).url)).status).toBe(200);
  });
});

describe("prompt=none and registered queries (AS-AUTHZ-23, AS-AUTHZ-22)", () => {
  it("answers prompt=none without a session with an error redirect login_required, and never shows a page", async () => {
    const { createTestServer: make, authorizationUrl: build } = await import("../../test/helpers.js");
    const t = make();
    const { url } = await build({ prompt: "none" });
    const response = await t.fetch(url);
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get("Location")!);
    expect(location.searchParams.get("error")).toBe("login_required");
    expect(location.searchParams.get("state")).toBe("st-1");
    expect(location.searchParams.get("iss")).toBe("https://as.test");
  });

  it("answers prompt=none for a signed-in user with consent_required, since consent is always asked", async () => {
    const { createTestServer: make, authorizationUrl: build } = await import("../../test/helpers.js");
    const t = make({ login: { currentUser: async () => ({ subject: "alice" }) } });
    const { url } = await build({ prompt: "none" });
    const location = new URL((await t.fetch(url)).headers.get("Location")!);
    expect(location.searchParams.get("error")).toBe("consent_required");
  });

  it("refuses to register a redirect URI whose query already carries code, state or iss", async () => {
    const { createTestServer: make } = await import("../../test/helpers.js");
    const t = make();
    for (const uri of ["https://app.test/cb?iss=x", "https://app.test/cb?state=1", "https://app.test/cb?code=1"]) {
      const response = await t.fetch("https://as.test/register", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ redirect_uris: [uri], token_endpoint_auth_method: "none" }),
      });
      expect(((await response.json()) as { error: string }).error).toBe("invalid_redirect_uri");
    }
  });
});
