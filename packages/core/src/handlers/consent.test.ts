import { describe, expect, it } from "vitest";
import {
  authorizationUrl,
  createClockedServer,
  createTestServer,
  expectErrorPage,
  expectErrorRedirect,
  form,
  ISSUER,
  openConsentPage,
  readConsentPage,
  redirectOf,
  RESOURCE,
  signIn,
  tokenRequest,
  USER,
  type Fetch,
} from "../../test/helpers.js";

const CONSENT = `${ISSUER}/authorize/consent`;

/** Opens the login page and answers what a browser would post back. */
async function openPage(fetch: Fetch, params: Record<string, string | undefined> = {}) {
  const page = await fetch((await authorizationUrl(params)).url);
  expect(page.status).toBe(200);
  return { page, ...(await readConsentPage(page)) };
}

/** Signs in on the login page and answers the consent page it leads to. */
async function openConsent(fetch: Fetch, params: Record<string, string | undefined> = {}) {
  const opened = await openConsentPage(fetch, (await authorizationUrl(params)).url);
  expect(opened.page.status).toBe(200);
  return opened;
}

function post(fetch: Fetch, fields: Record<string, string>, cookie?: string) {
  return fetch(CONSENT, form(fields, cookie ? { Cookie: cookie } : {}));
}

const LOGIN = { username: USER.username, password: USER.password, decision: "allow" };

describe("Consent page (RFC 9700 §4.16; MCP security best practices)", () => {
  it("forbids framing with frame-ancestors 'none' and X-Frame-Options DENY, and is not cached (AS-AUTHZ-17)", async () => {
    const t = createTestServer();
    const { page } = await openPage(t.fetch);
    expect(page.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
    expect(page.headers.get("X-Frame-Options")).toBe("DENY");
    expect(page.headers.get("Cache-Control")).toBe("no-store");
  });

  it("shows the client name, the redirect host and a localhost warning for a loopback-only client (AS-AUTHZ-18)", async () => {
    const t = createTestServer();
    const { html } = await openConsent(t.fetch);
    expect(html).toContain("Public test client");
    expect(html).toContain("127.0.0.1");
    expect(html).toContain('data-warning="localhost"');
    expect(html).toContain(RESOURCE);
  });

  it("shows no localhost warning for a client with an https redirect (AS-AUTHZ-18)", async () => {
    const t = createTestServer();
    const { html } = await openConsent(t.fetch, { client_id: "conf", redirect_uri: "https://app.test/cb" });
    expect(html).toContain("app.test");
    expect(html).not.toContain('data-warning="localhost"');
  });

  it("HTML-escapes a registered client_name carrying a script (B32)", async () => {
    const t = createTestServer();
    const registered = await t.fetch(`${ISSUER}/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        redirect_uris: ["http://127.0.0.1/cb"],
        token_endpoint_auth_method: "none",
        client_name: '<script>alert(1)</script>"><img src=x>',
      }),
    });
    expect(registered.status).toBe(201);
    const { client_id } = (await registered.json()) as { client_id: string };
    const { html } = await openPage(t.fetch, { client_id });
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<img src=x>");
    expect(html).toContain("&#60;script&#62;alert(1)&#60;/script&#62;");
  });

  it("answers the consent POST with 303, never 307, carrying code, state and iss (AS-AUTHZ-16, AS-AUTHZ-12)", async () => {
    const t = createTestServer();
    const response = await signIn(t.fetch, (await authorizationUrl({})).url);
    expect(response.status).toBe(303);
    const { params } = redirectOf(response);
    expect(params.get("code")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get("state")).toBe("st-1");
    expect(params.get("iss")).toBe(ISSUER);
  });

  it("redirects access_denied with state and iss when the user denies, with 303 (AS-AUTHZ-19, AS-AUTHZ-12)", async () => {
    const t = createTestServer();
    const response = await signIn(t.fetch, (await authorizationUrl({})).url, { decision: "deny" });
    expect(response.status).toBe(303);
    const { params } = redirectOf(response);
    expect(params.get("error")).toBe("access_denied");
    expect(params.get("state")).toBe("st-1");
    expect(params.get("iss")).toBe(ISSUER);
    expect(params.get("code")).toBeNull();
  });

  it("answers a wrong password with a 401 page and no code, then accepts the right password (AS-AUTHZ-23)", async () => {
    const t = createTestServer();
    const { requestId, csrf, cookie } = await openPage(t.fetch);
    const wrong = await post(t.fetch, { request_id: requestId, csrf_token: csrf, username: USER.username, password: "wrong", decision: "allow" }, cookie);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("Location")).toBeNull();
    const html = await wrong.text();
    expect(html).toContain("The username or password is incorrect.");
    expect(html).toContain(`value="${USER.username}"`);
    expect(t.events.some((e) => e.type === "login.failed")).toBe(true);
    expect(t.events.some((e) => e.type === "code.issued")).toBe(false);
    const right = await post(t.fetch, { request_id: requestId, csrf_token: csrf, ...LOGIN }, cookie);
    expect(right.status).toBe(303);
    expect(redirectOf(right).params.get("code")).toBeTruthy();
  });

  it("HTML-escapes the echoed username and a repeated field's name", async () => {
    const t = createTestServer();
    const { requestId, csrf, cookie } = await openPage(t.fetch);
    const wrong = await post(
      t.fetch,
      { request_id: requestId, csrf_token: csrf, username: '"><script>x()</script>', password: "p", decision: "allow" },
      cookie,
    );
    const html = await wrong.text();
    expect(html).not.toContain("<script>");
    expect(html).toContain("&#34;&#62;&#60;script&#62;");
    const body = `${new URLSearchParams({ request_id: requestId, csrf_token: csrf })}&%3Cscript%3E=1&%3Cscript%3E=2`;
    const repeated = await expectErrorPage(
      await t.fetch(CONSENT, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie }, body }),
    );
    expect(repeated).not.toContain("<script>");
  });

  it("asks for Allow or Deny when the decision is missing, without issuing a code", async () => {
    const t = createTestServer();
    const { requestId, csrf, cookie } = await openPage(t.fetch);
    await expectErrorPage(await post(t.fetch, { request_id: requestId, csrf_token: csrf, username: USER.username, password: USER.password }, cookie));
  });

  it("skips the password for a user already signed in to the app (currentUser), still asking consent", async () => {
    const t = createTestServer({
      login: { currentUser: async (request) => (request.headers.get("Cookie")?.includes("app=1") ? { subject: "bob", displayName: "Bob" } : null) },
    });
    const page = await t.fetch((await authorizationUrl({})).url, { headers: { Cookie: "app=1" } });
    const { html, requestId, csrf, cookie } = await readConsentPage(page);
    expect(html).toContain("Signed in as <strong>Bob</strong>");
    expect(html).not.toContain('name="password"');
    const response = await post(t.fetch, { request_id: requestId, csrf_token: csrf, decision: "allow" }, `${cookie}; app=1`);
    expect(response.status).toBe(303);
    // Without the app session the same form needs a sign-in: no code.
    const again = await openPage(t.fetch);
    const anonymous = await post(t.fetch, { request_id: again.requestId, csrf_token: again.csrf, decision: "allow" }, again.cookie);
    expect(anonymous.status).toBe(401);
  });
});

describe("Consent form protection (CSRF and browser binding)", () => {
  it("refuses a missing or wrong csrf_token with a 403 page and no code", async () => {
    const t = createTestServer();
    const { requestId, csrf, cookie } = await openPage(t.fetch);
    await expectErrorPage(await post(t.fetch, { request_id: requestId, ...LOGIN }, cookie), 403);
    await expectErrorPage(
      await post(t.fetch, { request_id: requestId, csrf_token: `${csrf.slice(0, -1)}${csrf.endsWith("A") ? "B" : "A"}`, ...LOGIN }, cookie),
      403,
    );
    // Deny is protected too: a forged form cannot end someone else's request.
    await expectErrorPage(await post(t.fetch, { request_id: requestId, csrf_token: "x", decision: "deny" }, cookie), 403);
    // The request survived the forgeries.
    expect((await post(t.fetch, { request_id: requestId, csrf_token: csrf, ...LOGIN }, cookie)).status).toBe(303);
  });

  it("refuses a form posted with another browser's cookie, or none, with a 403 page", async () => {
    const t = createTestServer();
    const victim = await openPage(t.fetch);
    const attacker = await openPage(t.fetch);
    expect(attacker.cookie).not.toBe(victim.cookie);
    await expectErrorPage(await post(t.fetch, { request_id: victim.requestId, csrf_token: victim.csrf, ...LOGIN }, attacker.cookie), 403);
    await expectErrorPage(await post(t.fetch, { request_id: victim.requestId, csrf_token: victim.csrf, ...LOGIN }), 403);
  });

  it("reuses the browser cookie it already set instead of issuing a new one", async () => {
    const t = createTestServer();
    const first = await openPage(t.fetch);
    const second = await t.fetch((await authorizationUrl({})).url, { headers: { Cookie: first.cookie } });
    expect(second.headers.get("Set-Cookie")).toBeNull();
    const { requestId, csrf } = await readConsentPage(second);
    expect((await post(t.fetch, { request_id: requestId, csrf_token: csrf, ...LOGIN }, first.cookie)).status).toBe(303);
  });

  it("shows an error page for a request_id that was already used", async () => {
    const t = createTestServer();
    const { requestId, csrf, cookie } = await openPage(t.fetch);
    expect((await post(t.fetch, { request_id: requestId, csrf_token: csrf, ...LOGIN }, cookie)).status).toBe(303);
    const html = await expectErrorPage(await post(t.fetch, { request_id: requestId, csrf_token: csrf, ...LOGIN }, cookie));
    expect(html).toContain("expired or was already used");
  });

  it("shows an error page for an unknown, oversized or expired request_id (authorizationRequestTtlSeconds)", async () => {
    const t = createClockedServer();
    const { requestId, csrf, cookie } = await openPage(t.fetch);
    await expectErrorPage(await post(t.fetch, { request_id: "nope", csrf_token: csrf, ...LOGIN }, cookie));
    await expectErrorPage(await post(t.fetch, { request_id: "x".repeat(10_000), csrf_token: csrf, ...LOGIN }, cookie));
    t.clock.advance(601);
    await expectErrorPage(await post(t.fetch, { request_id: requestId, csrf_token: csrf, ...LOGIN }, cookie));
  });

  it("refuses repeated form fields and non-form bodies with an error page", async () => {
    const t = createTestServer();
    const { requestId, csrf, cookie } = await openPage(t.fetch);
    const body = `${new URLSearchParams({ request_id: requestId, csrf_token: csrf, ...LOGIN })}&decision=deny`;
    await expectErrorPage(await t.fetch(CONSENT, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie }, body }));
    await expectErrorPage(await t.fetch(CONSENT, { method: "POST", headers: { "Content-Type": "application/json", Cookie: cookie }, body: "{}" }));
  });
});

describe("The app's own sign-in UI (interactionUrl, completeAuthorization, denyAuthorization)", () => {
  const appServer = () => createTestServer({ interactionUrl: "/login", login: undefined });

  async function start(t: ReturnType<typeof appServer>, params: Record<string, string | undefined> = {}) {
    const { url, verifier } = await authorizationUrl(params);
    const response = await t.fetch(url);
    expect(response.status).toBe(302);
    const { url: login } = redirectOf(response);
    expect(`${login.origin}${login.pathname}`).toBe(`${ISSUER}/login`);
    return { requestId: login.searchParams.get("request_id")!, verifier };
  }

  it("redirects a valid request to the app's page with a request_id it can describe (AS-AUTHZ-1)", async () => {
    const t = appServer();
    const { requestId } = await start(t);
    expect(await t.server.getAuthorizationRequest(requestId)).toEqual({
      requestId,
      clientId: "pub",
      clientName: "Public test client",
      redirectUri: "http://127.0.0.1/cb",
      scopes: ["mcp:tools"],
      resource: RESOURCE,
    });
    expect(await t.server.getAuthorizationRequest("nope")).toBeUndefined();
  });

  it("still validates before handing over: an invalid request never reaches the app (AS-AUTHZ-2, AS-AUTHZ-8)", async () => {
    const t = appServer();
    await expectErrorPage(await t.fetch((await authorizationUrl({ client_id: "nope" })).url));
    expectErrorRedirect(await t.fetch((await authorizationUrl({ code_challenge: undefined })).url), "invalid_request", { state: "st-1" });
  });

  it("completeAuthorization redirects with code, state and iss, and the code redeems once (AS-AUTHZ-12, AS-CODE-2)", async () => {
    const t = appServer();
    const { requestId, verifier } = await start(t);
    const response = await t.server.completeAuthorization(requestId, { subject: "bob" });
    expect(response.status).toBe(302);
    const { params } = redirectOf(response);
    expect(params.get("state")).toBe("st-1");
    expect(params.get("iss")).toBe(ISSUER);
    const token = await tokenRequest(t.fetch, { grant_type: "authorization_code", code: params.get("code")!, code_verifier: verifier, client_id: "pub" });
    expect(token.status).toBe(200);
    // The request is spent: a second completion is an error page.
    await expectErrorPage(await t.server.completeAuthorization(requestId, { subject: "bob" }));
  });

  it("grants fewer scopes when the app says so, and the token response shows the narrower scope (AS-AUTHZ-20)", async () => {
    const t = appServer();
    const { requestId, verifier } = await start(t, { scope: "mcp:tools files:read" });
    const { params } = redirectOf(await t.server.completeAuthorization(requestId, { subject: "bob" }, { scopes: ["files:read", "files:write"] }));
    const token = await tokenRequest(t.fetch, { grant_type: "authorization_code", code: params.get("code")!, code_verifier: verifier, client_id: "pub" });
    expect(((await token.json()) as { scope: string }).scope).toBe("files:read");
  });

  it("denyAuthorization redirects access_denied with state and iss, once (AS-AUTHZ-19)", async () => {
    const t = appServer();
    const { requestId } = await start(t);
    const response = await t.server.denyAuthorization(requestId);
    expectErrorRedirect(response, "access_denied", { state: "st-1" });
    await expectErrorPage(await t.server.denyAuthorization(requestId));
    await expectErrorPage(await t.server.completeAuthorization(requestId, { subject: "bob" }));
  });

  it("refuses completeAuthorization for a user without a subject with a TypeError", async () => {
    const t = appServer();
    const { requestId } = await start(t);
    await expect(t.server.completeAuthorization(requestId, { subject: "" })).rejects.toThrow(TypeError);
    // The request was not spent by the misuse.
    expect((await t.server.completeAuthorization(requestId, { subject: "bob" })).status).toBe(302);
  });
});
