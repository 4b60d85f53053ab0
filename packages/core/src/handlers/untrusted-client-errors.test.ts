import { describe, expect, it } from "vitest";
import { authorizationUrl, createTestServer, expectErrorRedirect, ISSUER, openConsentPage, redirectOf, signIn } from "../../test/helpers.js";

const REDIRECT = "http://127.0.0.1/cb";
const INITIAL_ACCESS_TOKEN = "operator-issued-initial-token";

/** Registers a public client over RFC 7591, openly or with an initial access token. */
async function register(t: ReturnType<typeof createTestServer>, metadata: Record<string, unknown> = {}, initialAccessToken?: string) {
  const response = await t.fetch(`${ISSUER}/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(initialAccessToken ? { Authorization: `Bearer ${initialAccessToken}` } : {}) },
    body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", client_name: "Registered app", ...metadata }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { client_id: string }).client_id;
}

/** Asserts the interstitial page and answers the error redirect its link leads to. */
async function expectInterstitial(response: Response) {
  expect(response.status).toBe(200);
  expect(response.headers.get("Location")).toBeNull();
  expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
  expect(response.headers.get("Cache-Control")).toBe("no-store");
  expect(response.headers.get("X-Frame-Options")).toBe("DENY");
  expect(response.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
  const html = await response.text();
  expect(html).not.toMatch(/<script|http-equiv/i);
  const href = /<a class="button" data-continue href="([^"]*)"/.exec(html)?.[1];
  expect(href).toBeDefined();
  const link = new URL(href!.replaceAll("&#38;", "&"));
  return { html, link, params: link.searchParams };
}

describe("Errors for untrusted clients go through a page, not an automatic redirect (AS-AUTHZ-21)", () => {
  it("AS-AUTHZ-21: an openly registered client's invalid_scope is a 200 page naming the client and host, with a link carrying the error", async () => {
    const t = createTestServer();
    const clientId = await register(t);
    const { url } = await authorizationUrl({ client_id: clientId, scope: "unknown:zzz", state: "st-9" });
    const { html, link, params } = await expectInterstitial(await t.fetch(url));
    expect(html).toContain("Registered app");
    expect(html).toContain(clientId);
    expect(html).toContain("<code data-redirect-host>127.0.0.1</code>");
    expect(`${link.origin}${link.pathname}`).toBe(REDIRECT);
    expect(params.get("error")).toBe("invalid_scope");
    expect(params.get("state")).toBe("st-9");
    expect(params.get("iss")).toBe(ISSUER);
    expect(params.get("code")).toBeNull();
  });

  it("AS-AUTHZ-21: covers every error decided after the redirect URI check (missing PKCE, response_type, resource)", async () => {
    const t = createTestServer();
    const clientId = await register(t);
    const cases: [Record<string, string | undefined>, string][] = [
      [{ code_challenge: undefined, code_challenge_method: undefined }, "invalid_request"],
      [{ response_type: "token" }, "unsupported_response_type"],
      [{ resource: "https://other.test/mcp" }, "invalid_target"],
    ];
    for (const [params, error] of cases) {
      const { url } = await authorizationUrl({ client_id: clientId, ...params });
      const { params: sent } = await expectInterstitial(await t.fetch(url));
      expect(sent.get("error"), error).toBe(error);
    }
  });

  it("AS-AUTHZ-21, AS-AUTHZ-23: prompt=none errors go straight back to a loopback redirect, and through the page to any other untrusted one", async () => {
    const t = createTestServer();
    const native = await register(t);
    const silent = await t.fetch((await authorizationUrl({ client_id: native, prompt: "none", state: "st-n" })).url);
    expect(silent.status).toBe(302);
    const back = new URL(silent.headers.get("Location")!);
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
    expect(back.searchParams.get("error")).toBe("login_required");
    expect(back.searchParams.get("state")).toBe("st-n");
    expect(back.searchParams.get("iss")).toBe(ISSUER);

    const web = await register(t, { redirect_uris: ["https://app.example/cb"] });
    const { url } = await authorizationUrl({ client_id: web, redirect_uri: "https://app.example/cb", prompt: "none" });
    const { params } = await expectInterstitial(await t.fetch(url));
    expect(params.get("error")).toBe("login_required");
  });

  it("AS-AUTHZ-21: escapes what the client chose (its name, the state) on the page", async () => {
    const t = createTestServer();
    const clientId = await register(t, { client_name: `<img src=x onerror=alert(1)>"'` });
    const { url } = await authorizationUrl({ client_id: clientId, scope: "unknown:zzz", state: `"><script>alert(2)</script>` });
    const { html, params } = await expectInterstitial(await t.fetch(url));
    expect(html).not.toContain("<img");
    expect(html).toContain("&#60;img src=x onerror=alert(1)&#62;&#34;&#39;");
    expect(params.get("state")).toBe(`"><script>alert(2)</script>`);
  });

  it("AS-AUTHZ-21: a client ID metadata document client gets the page too", async () => {
    const doc = "https://client.test/cimd.json";
    const t = createTestServer({
      clientMetadataDocuments: {
        fetch: async () => Response.json({ client_id: doc, client_name: "Document app", redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" }),
        resolveHost: async () => ["203.0.114.10"],
      },
    });
    const { url } = await authorizationUrl({ client_id: doc, scope: "unknown:zzz" });
    const { html, params } = await expectInterstitial(await t.fetch(url));
    expect(html).toContain("Document app");
    expect(params.get("error")).toBe("invalid_scope");
  });

  it("AS-AUTHZ-21: configured clients and clients registered with an initial access token keep the automatic redirect", async () => {
    const t = createTestServer({ dynamicRegistration: { initialAccessToken: INITIAL_ACCESS_TOKEN } });
    expectErrorRedirect(await t.fetch((await authorizationUrl({ client_id: "pub", scope: "unknown:zzz" })).url), "invalid_scope");
    const vetted = await register(t, {}, INITIAL_ACCESS_TOKEN);
    expectErrorRedirect(await t.fetch((await authorizationUrl({ client_id: vetted, scope: "unknown:zzz" })).url), "invalid_scope");
  });

  it('AS-AUTHZ-21: untrustedClientErrors: "redirect" sends an open registration\'s errors straight back', async () => {
    const t = createTestServer({ untrustedClientErrors: "redirect" });
    const clientId = await register(t);
    expectErrorRedirect(await t.fetch((await authorizationUrl({ client_id: clientId, scope: "unknown:zzz" })).url), "invalid_scope");
  });

  it("AS-AUTHZ-21: the user's own Deny still redirects with access_denied (the consent page named where it returns)", async () => {
    const t = createTestServer();
    const clientId = await register(t);
    const { html } = await openConsentPage(t.fetch, (await authorizationUrl({ client_id: clientId })).url);
    expect(html).toContain("<dt>Returns to</dt><dd><code data-redirect-host>127.0.0.1</code></dd>");
    const denied = await signIn(t.fetch, (await authorizationUrl({ client_id: clientId })).url, { decision: "deny" });
    expect(denied.status).toBe(303);
    const { url, params } = redirectOf(denied);
    expect(`${url.origin}${url.pathname}`).toBe(REDIRECT);
    expect(params.get("error")).toBe("access_denied");
  });

  it("rejects an unknown untrustedClientErrors value at construction", () => {
    expect(() => createTestServer({ untrustedClientErrors: "page" as never })).toThrow(/untrustedClientErrors/);
  });
});
