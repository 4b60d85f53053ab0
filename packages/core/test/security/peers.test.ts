import { describe, expect, it } from "vitest";
import {
  openConsentPage,
  authorizationUrl,
  basic,
  CONF_SECRET,
  createClockedServer,
  createTestServer,
  decodeJWT,
  expectErrorPage,
  expectTokenError,
  ISSUER,
  obtainCode,
  obtainTokens,
  readConsentPage,
  redirectOf,
  resourceRequest,
  signIn,
  tokenRequest,
  TEST_CLIENTS,
  USER,
} from "../helpers.js";
import { createMemoryStore } from "../../src/storage/memory.js";

/**
 * One regression test per bug class our peers shipped (PEERS.md §4), titled with the advisory or
 * change it regresses. Classes covered elsewhere: #7 and #11 (src/grants/refresh-retry.test.ts,
 * src/testing/concurrency.ts), #8 (src/clients/cimd.test.ts), #16 (src/http/dns-rebinding.test.ts),
 * #18 (src/http/request-limits.test.ts), #22 (src/testing/concurrency.ts, B21), #23
 * (src/http/rate-limit.test.ts). Not applicable: #20 (no proxy mode), #26 (no upstream IdP client).
 */
describe("Peer regressions (PEERS.md §4)", () => {
  it("CVE-2025-4143 (#1): /authorize checks redirect_uri against the registration itself: case, slash, query and port variants get a local 400", async () => {
    const t = createTestServer();
    for (const redirect of [
      "https://app.test/CB",
      "https://APP.test/cb/",
      "https://app.test/cb/",
      "https://app.test/cb?x=1",
      "https://app.test:8443/cb",
      "https://evil.test/cb",
    ]) {
      const { url } = await authorizationUrl({ client_id: "conf", redirect_uri: redirect });
      await expectErrorPage(await t.fetch(url));
    }
  });

  it("CVE-2025-4144 (#2): no PKCE downgrade: a verifier for a challenge-less code, or no verifier for a challenged one, is refused", async () => {
    const t = createTestServer();
    const { code } = await obtainCode(t.fetch);
    await expectTokenError(await tokenRequest(t.fetch, { grant_type: "authorization_code", code, client_id: "pub" }), "invalid_request");
    const { url } = await authorizationUrl({ code_challenge: undefined, code_challenge_method: undefined });
    const refused = redirectOf(await t.fetch(url));
    expect(refused.params.get("error")).toBe("invalid_request");
    expect(refused.params.get("code")).toBeNull();
  });

  it("cloudflare/workers-oauth-provider#92 (#3): a tampered or replayed request on the completion path never redirects", async () => {
    const t = createTestServer();
    const { url } = await authorizationUrl({});
    const page = await readConsentPage(await t.fetch(url));
    for (const requestId of [`${page.requestId}x`, "../authorize?redirect_uri=https://evil.test", ""]) {
      const response = await t.fetch(`${ISSUER}/authorize/consent`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: page.cookie },
        body: new URLSearchParams({ request_id: requestId, csrf_token: page.csrf, username: USER.username, password: USER.password, decision: "allow" }),
      });
      expect(response.headers.get("Location")).toBeNull();
    }
    expect(await t.server.completeAuthorization("no-such-request", { subject: "alice" }).then((r) => r.headers.get("Location"))).toBeNull();
  });

  it("cloudflare/workers-oauth-provider#80, #87, #98 and better-auth#9838 (#4, #10): javascript:, data: and vbscript: redirect URIs are refused in every variant; cursor:// style schemes are not", async () => {
    const t = createTestServer();
    const register = (uri: string) =>
      t.fetch(`${ISSUER}/register`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ redirect_uris: [uri], token_endpoint_auth_method: "none" }),
      });
    for (const uri of [
      "javascript:alert(1)",
      "JaVaScRiPt:alert(1)",
      " javascript:alert(1)",
      "java\tscript:alert(1)",
      "javascript\u0000:alert(1)",
      "data:text/html,x",
      "vbscript:msgbox(1)",
      "DATA:text/html,x",
    ]) {
      expect((await register(uri)).status, JSON.stringify(uri)).toBe(400);
    }
    expect((await register("com.cursor.app://oauth/callback")).status).toBe(201);
  });

  it("cloudflare/workers-oauth-provider#52 (#5): a wrong code does not touch the grant, and client B cannot revoke client A's token", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    await expectTokenError(
      await tokenRequest(t.fetch, { grant_type: "authorization_code", code: "wrong", code_verifier: "a".repeat(43), client_id: "pub" }),
      "invalid_grant",
    );
    const revoke = await t.fetch(`${ISSUER}/revoke`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: basic("conf", CONF_SECRET) },
      body: new URLSearchParams({ token: body.access_token! }),
    });
    expect(revoke.status).toBe(200);
    expect(await t.guard.authenticate(resourceRequest(body.access_token!))).not.toBeInstanceOf(Response);
  });

  it("cloudflare/workers-oauth-provider#253, #275, #277 and better-auth#10637 (#6, #9): by default a public client without PKCE, plain or S512 is refused", async () => {
    const t = createTestServer();
    for (const method of ["plain", "S512", undefined]) {
      const { url } = await authorizationUrl({ code_challenge_method: method });
      expect(redirectOf(await t.fetch(url)).params.get("error"), String(method)).toBe("invalid_request");
    }
  });

  it("cloudflare/workers-oauth-provider#216, #233 (#7): a refresh token one second before its expiry still works, and after it is invalid_grant, never 500", async () => {
    const t = createClockedServer({ refreshTokenTtlSeconds: 3600 });
    const { body } = await obtainTokens(t.fetch);
    t.clock.advance(3599);
    expect((await tokenRequest(t.fetch, { grant_type: "refresh_token", refresh_token: body.refresh_token!, client_id: "pub" })).status).toBe(200);
    const late = await obtainTokens(t.fetch);
    t.clock.advance(3601);
    await expectTokenError(
      await tokenRequest(t.fetch, { grant_type: "refresh_token", refresh_token: late.body.refresh_token!, client_id: "pub" }),
      "invalid_grant",
    );
  });

  it("anomalyco/openauth#299, #305 (#12): https:evil.com and scheme-relative redirects are refused, and X-Forwarded-Host changes nothing", async () => {
    const t = createTestServer();
    for (const redirect of ["https:evil.test/cb", "//evil.test/cb", "https:/app.test/cb", "/cb"]) {
      const { url } = await authorizationUrl({ client_id: "conf", redirect_uri: redirect });
      await expectErrorPage(await t.fetch(url));
    }
    const metadata = await (
      await t.fetch(`${ISSUER}/.well-known/oauth-authorization-server`, { headers: { "X-Forwarded-Host": "evil.test", "X-Forwarded-Proto": "http" } })
    ).json();
    expect(JSON.stringify(metadata)).not.toContain("evil.test");
  });

  it("panva/node-oidc-provider 48cc79c, da993300 (#14): raw-string matching: an empty fragment, userinfo, https loopback ports and IPv6 variants are refused", async () => {
    const t = createTestServer({
      clients: [
        ...TEST_CLIENTS,
        { client_id: "v6", redirect_uris: ["http://[::1]/cb"] },
        { client_id: "tls", redirect_uris: ["https://127.0.0.1/cb"], application_type: "native" },
      ],
    });
    const refused: [string, string][] = [
      ["pub", "http://127.0.0.1:1234/cb#"],
      ["pub", "http://user@127.0.0.1/cb"],
      ["pub", "http://127.0.0.1:1234@evil.test/cb"],
      ["tls", "https://127.0.0.1:8443/cb"],
      ["v6", "http://[0:0:0:0:0:0:0:1]/cb"],
      ["pub", "http://127.000.0.1:5/cb"],
      ["pub", "http://127.0.0.1.:5/cb"],
      ["v6", "http://[::1%25eth0]/cb"],
    ];
    for (const [clientId, redirect] of refused) {
      const { url } = await authorizationUrl({ client_id: clientId, redirect_uri: redirect });
      await expectErrorPage(await t.fetch(url));
    }
    const { url } = await authorizationUrl({ client_id: "v6", redirect_uri: "http://[::1]:4711/cb" });
    expect((await t.fetch(url)).status).toBe(200);
  });

  it("panva/node-oidc-provider f1672336 (#15): a private_key_jwt jti is refused on another instance sharing the store", async () => {
    const { exportJWK, generateKeyPair, SignJWT } = await import("jose");
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const storage = createMemoryStore();
    const clients = [
      {
        client_id: "machine",
        grant_types: ["client_credentials"],
        token_endpoint_auth_method: "private_key_jwt" as const,
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: "k" }] },
      },
    ];
    const [a, b] = [createTestServer({ storage, clients }), createTestServer({ storage, clients })];
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES256", kid: "k" })
      .setIssuer("machine")
      .setSubject("machine")
      .setAudience(ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(privateKey);
    const body = {
      grant_type: "client_credentials",
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: assertion,
    };
    expect((await tokenRequest(a!.fetch, body)).status).toBe(200);
    await expectTokenError(await tokenRequest(b!.fetch, body), "invalid_client", 401);
  });

  it("CVE-2026-25536 (#17): parallel requests with different tokens each see their own AuthInfo", async () => {
    const t = createTestServer();
    const alice = (await obtainTokens(t.fetch)).body.access_token!;
    const bob = (await obtainTokens(t.fetch, {}, "pub2")).body.access_token!;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => t.guard.authenticate(resourceRequest(i % 2 ? bob : alice))));
    results.forEach((result, i) => {
      expect(result).not.toBeInstanceOf(Response);
      expect((result as { clientId: string; token: string }).clientId).toBe(i % 2 ? "pub2" : "pub");
      expect((result as { token: string }).token).toBe(i % 2 ? bob : alice);
    });
  });

  it("windmill-labs/windmill GHSA-q9xg-f2v2-695g (#19): the consent page carries no script and cannot navigate anywhere but the validated redirect", async () => {
    const t = createTestServer();
    const login = await t.fetch((await authorizationUrl({})).url);
    expect(login.headers.get("Content-Security-Policy")).toMatch(/default-src 'none'.*form-action 'self';/);
    expect(await login.text()).not.toMatch(/<script|javascript:|http-equiv="refresh"/i);
    const { page: response } = await openConsentPage(t.fetch, (await authorizationUrl({})).url);
    const csp = response.headers.get("Content-Security-Policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/script-src/);
    expect(csp).toMatch(/form-action 'self' http:\/\/127\.0\.0\.1(;|\s)/);
    const html = await response.text();
    expect(html).not.toMatch(/<script|javascript:|http-equiv="refresh"/i);
  });

  it("HelpCode-ai/anythingmcp#417, jimprosser/obsidian-web-mcp#30 (#21): no silent approval: a signed-in user still sees consent naming the client and its redirect host", async () => {
    const t = createTestServer({ login: { currentUser: async () => ({ subject: "alice" }) } });
    const registered = (await (
      await t.fetch(`${ISSUER}/register`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ redirect_uris: ["https://client.example/cb"], token_endpoint_auth_method: "none", client_name: "Gооgle" }),
      })
    ).json()) as { client_id: string };
    const response = await t.fetch((await authorizationUrl({ client_id: registered.client_id, redirect_uri: "https://client.example/cb" })).url);
    expect(response.status).toBe(200);
    expect(response.headers.get("Location")).toBeNull();
    const html = await response.text();
    expect(html).toContain("client.example");
    expect(html).toContain("Gооgle");
    expect(html).toContain('value="allow"');
  });

  it("vercel/mcp-handler auth-wrapper (#24): the bearer gate fails closed: no token, or an empty one, is a 401 challenge", async () => {
    const t = createTestServer();
    for (const header of [undefined, "Bearer", "Bearer "]) {
      const result = await t.guard.authenticate(resourceRequest(undefined, { headers: header ? { Authorization: header } : {} }));
      expect((result as Response).status).toBe(401);
    }
  });

  it("FastMCP jwtIssuer (#25): app claims cannot override reserved claims, and a refresh token is never accepted as an access token", async () => {
    const t = createTestServer({
      login: {
        verifyPassword: async () => ({
          subject: "alice",
          claims: { aud: "https://evil.test", iss: "https://evil.test", exp: 9_999_999_999, sub: "root", client_id: "x", scope: "admin", role: "user" },
        }),
      },
    });
    const { body } = await obtainTokens(t.fetch);
    const { header, payload } = decodeJWT(body.access_token!);
    expect(header.typ).toBe("at+jwt");
    expect(payload).toMatchObject({ aud: "https://mcp.test/mcp", iss: ISSUER, sub: "alice", client_id: "pub", scope: "mcp:tools", role: "user" });
    expect(payload.exp).toBeLessThan(9_999_999_999);
    expect(((await t.guard.authenticate(resourceRequest(body.refresh_token!))) as Response).status).toBe(401);
  });

  it("CVE-2025-61928 class (#27): the client configuration endpoint needs its registration access token", async () => {
    const t = createTestServer();
    const registered = (await (
      await t.fetch(`${ISSUER}/register`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ redirect_uris: ["http://127.0.0.1/cb"], token_endpoint_auth_method: "none" }),
      })
    ).json()) as { client_id: string };
    for (const headers of [{}, { Authorization: "Bearer wrong-token" }] as Record<string, string>[]) {
      for (const method of ["GET", "PUT", "DELETE"]) {
        const response = await t.fetch(`${ISSUER}/register/${registered.client_id}`, { method, headers });
        expect(response.status, `${method} ${JSON.stringify(headers)}`).toBe(401);
      }
    }
    expect((await signIn(t.fetch, (await authorizationUrl({ client_id: registered.client_id })).url)).status).toBe(303);
  });
});
