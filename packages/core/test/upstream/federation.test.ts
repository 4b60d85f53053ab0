import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createAuthorizationServer,
  createMemoryStore,
  UpstreamError,
  type AuthInfo,
  type Storage,
  type UpstreamAccess,
  type UpstreamOptions,
} from "../../src/index.js";
import { Agent, authorizationRequest, formOf, formPost, signInAtIdp } from "./agent.js";
import { startTestIdp, type TestIdp } from "./idp.js";

const ISSUER = "https://as.test";
const RESOURCE = "https://as.test/mcp";
const CALLBACK = `${ISSUER}/upstream/callback`;
const CLIENT_REDIRECT = "http://127.0.0.1:7777/cb";
const UPSTREAM_SECRET = "upstream-client-secret-0123456789";
const KEY = randomBytes(32).toString("base64url");

let idp: TestIdp;
let plainIdp: TestIdp;
beforeAll(async () => {
  const clients = [
    { client_id: "portcullis", client_secret: UPSTREAM_SECRET, redirect_uris: [CALLBACK], token_endpoint_auth_method: "client_secret_basic" },
    { client_id: "portcullis-public", redirect_uris: [CALLBACK], token_endpoint_auth_method: "none" },
  ];
  [idp, plainIdp] = await Promise.all([startTestIdp({ clients, accessTokenTtlSeconds: 60 }), startTestIdp({ clients, oidcDiscovery: false })]);
});
afterAll(async () => {
  await Promise.all([idp?.stop(), plainIdp?.stop()]);
});

/** A store that remembers every value written, to look for plaintext tokens at rest. */
function recordingStore(): Storage & { written: unknown[] } {
  const store = createMemoryStore();
  const written: unknown[] = [];
  return Object.assign(Object.create(store) as Storage, {
    written,
    set: (key: string, value: unknown, options: Parameters<Storage["set"]>[2]) => {
      written.push(value);
      return store.set(key, value, options);
    },
    setIfAbsent: (key: string, value: unknown, options: Parameters<Storage["setIfAbsent"]>[2]) => {
      written.push(value);
      return store.setIfAbsent(key, value, options);
    },
  });
}

function createServer(options: { storage?: Storage; now?: () => number; upstream?: Partial<UpstreamOptions>; idp?: TestIdp } = {}) {
  const errors: { reason?: string }[] = [];
  const server = createAuthorizationServer({
    issuer: ISSUER,
    resource: RESOURCE,
    scopes: { "mcp:tools": "Use the tools" },
    defaultScopes: ["mcp:tools"],
    storage: options.storage ?? createMemoryStore(),
    clients: [
      {
        client_id: "client-a",
        client_name: "Client A",
        redirect_uris: [CLIENT_REDIRECT],
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code", "refresh_token"],
      },
      {
        client_id: "client-b",
        client_name: "Client B",
        redirect_uris: [CLIENT_REDIRECT],
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code", "refresh_token"],
      },
    ],
    upstream: { issuer: (options.idp ?? idp).issuer, clientId: "portcullis", clientSecret: UPSTREAM_SECRET, tokenEncryptionKeys: KEY, ...options.upstream },
    ...(options.now ? { now: options.now } : {}),
    onError: (_error, context) => errors.push(context),
  });
  return { server, errors };
}

type Server = ReturnType<typeof createServer>["server"];

/** The MCP client's authorization request, as a URL. */
function authorizeUrl(clientId = "client-a", state = "client-state-1") {
  const { url, verifier } = authorizationRequest(ISSUER, { client_id: clientId, redirect_uri: CLIENT_REDIRECT, state, resource: RESOURCE });
  return { url: url.href, verifier };
}

/** Opens the consent page and answers it; the response to the decision is not followed. */
async function consent(agent: Agent, decision: "allow" | "deny", clientId = "client-a", state = "client-state-1") {
  const { url, verifier } = authorizeUrl(clientId, state);
  const page = await agent.request(url);
  expect(page.status).toBe(200);
  const html = await page.text();
  const { action, fields } = formOf(html, ISSUER);
  const decided = await agent.request(action, formPost({ ...fields, decision }));
  return { page, html, decided, verifier };
}

/** A whole sign-in: consent, the provider's pages, the callback; answers the MCP client's redirect. */
async function signIn(server: Server, agent = new Agent(server), login = "alice", clientId = "client-a") {
  const { decided, verifier } = await consent(agent, "allow", clientId);
  expect(decided.status).toBe(303);
  const callback = await signInAtIdp(agent, decided.headers.get("Location")!, login, CALLBACK);
  const back = await agent.request(callback.href);
  expect(back.status).toBe(302);
  return { agent, back, redirect: new URL(back.headers.get("Location")!), verifier, callback };
}

async function redeem(server: Server, code: string, verifier: string, clientId = "client-a") {
  const response = await server.fetch(
    new Request(
      `${ISSUER}/token`,
      formPost({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: clientId, redirect_uri: CLIENT_REDIRECT }),
    ),
  );
  expect(response.status).toBe(200);
  const text = await response.text();
  return { text, tokens: JSON.parse(text) as { access_token: string; refresh_token: string } };
}

const upstreamOf = (info: AuthInfo) => info.extra!.upstream as UpstreamAccess;

describe("Federation: consent before the upstream identity provider (MCP security best practices)", () => {
  it("PX-1, PX-3: shows the consent page naming the client, its redirect URI and the upstream scopes, CSRF-protected and unframeable, and sends nobody upstream before Allow", async () => {
    const { server } = createServer();
    const agent = new Agent(server);
    const { url } = authorizeUrl();
    const page = await agent.request(url);
    expect(page.status).toBe(200);
    expect(page.headers.get("Location")).toBeNull();
    expect(page.headers.get("X-Frame-Options")).toBe("DENY");
    expect(page.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
    // The form may lead to the provider after Allow, and nowhere else new.
    expect(page.headers.get("Content-Security-Policy")).toContain(`form-action 'self' http://127.0.0.1:7777 ${idp.issuer}`);
    const html = await page.text();
    expect(html).toContain("Client A");
    expect(html).toContain(CLIENT_REDIRECT);
    expect(html).toContain("openid profile email offline_access");
    expect(html).not.toContain('name="password"');
    expect(agent.visited.every((u) => u.startsWith(ISSUER))).toBe(true);

    // Without the CSRF token, or from another browser, the form is refused.
    const { action, fields } = formOf(html, ISSUER);
    const noCsrf = await agent.request(action, formPost({ request_id: fields.request_id!, decision: "allow" }));
    expect(noCsrf.status).toBe(403);
    const otherBrowser = await new Agent(server).request(action, formPost({ ...fields, decision: "allow" }));
    expect(otherBrowser.status).toBe(403);
  });

  it("PX-1, PX-2: a second MCP client in the same browser, already signed in upstream, gets the consent page again; no cookie skips it", async () => {
    const { server } = createServer();
    const { agent } = await signIn(server);
    const { url } = authorizeUrl("client-b");
    const again = await agent.request(url);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain("Client B");
    // A forged consent cookie changes nothing: consent is never remembered by cookie.
    agent.jar.get("as.test")!.set("__Host-portcullis-consent", "client-b");
    const forged = await agent.request(authorizeUrl("client-b").url);
    expect(forged.status).toBe(200);
    expect(forged.headers.get("Location")).toBeNull();
  });

  it("PX-4, PX-5: after Allow, a fresh state, nonce and PKCE S256 of its own go upstream with prompt=consent, bound by a __Host- SameSite=Lax HttpOnly cookie of at most 10 minutes; none before", async () => {
    const { server } = createServer();
    const agent = new Agent(server);
    const { page, decided } = await consent(agent, "allow");
    expect(page.headers.getSetCookie().some((c) => c.includes("portcullis-upstream"))).toBe(false);
    expect(decided.status).toBe(303);
    const location = new URL(decided.headers.get("Location")!);
    expect(location.origin).toBe(idp.issuer);
    const p = location.searchParams;
    expect(p.get("client_id")).toBe("portcullis");
    expect(p.get("redirect_uri")).toBe(CALLBACK);
    expect(p.get("state")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.get("state")).not.toBe("client-state-1");
    expect(p.get("nonce")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.get("code_challenge_method")).toBe("S256");
    expect(p.get("prompt")).toBe("consent");
    expect(p.get("scope")).toBe("openid profile email offline_access");
    const cookie = decided.headers.getSetCookie().find((c) => c.includes("portcullis-upstream"))!;
    expect(cookie).toMatch(/^__Host-portcullis-upstream-[A-Za-z0-9_-]+=/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
    expect(cookie).toContain("Secure");
    expect(cookie).toContain("Path=/");
    expect(Number(/Max-Age=(\d+)/.exec(cookie)![1])).toBeLessThanOrEqual(600);
  });

  it("PX-6: an MCP client's redirect_uri that is not exactly a registered one is an error page, before any consent or upstream visit", async () => {
    const { server } = createServer();
    const agent = new Agent(server);
    for (const redirect of [`${CLIENT_REDIRECT}/extra`, "http://127.0.0.1:7777/cb?x=1", "https://attacker.example/cb"]) {
      const url = new URL(authorizeUrl().url);
      url.searchParams.set("redirect_uri", redirect);
      const response = await agent.request(url.href);
      expect(response.status).toBe(400);
      expect(response.headers.get("Location")).toBeNull();
      expect(await response.text()).not.toContain('name="decision"');
    }
    expect(agent.visited.some((u) => u.startsWith(idp.issuer))).toBe(false);
  });

  it("brings a denied consent back to the MCP client as access_denied without visiting the provider", async () => {
    const { server } = createServer();
    const agent = new Agent(server);
    const { decided } = await consent(agent, "deny");
    const back = new URL(decided.headers.get("Location")!);
    expect(back.href.startsWith(CLIENT_REDIRECT)).toBe(true);
    expect(back.searchParams.get("error")).toBe("access_denied");
    expect(back.searchParams.get("state")).toBe("client-state-1");
    expect(back.searchParams.get("iss")).toBe(ISSUER);
    expect(agent.visited.some((u) => u.startsWith(idp.issuer))).toBe(false);
  });
});

describe("Federation: the upstream callback", () => {
  it("PX-7: signs the user in upstream and gives the MCP client this server's code, state and iss; its tokens carry the upstream user and no upstream token", async () => {
    const { server } = createServer();
    const { redirect, verifier } = await signIn(server);
    expect(redirect.searchParams.get("state")).toBe("client-state-1");
    expect(redirect.searchParams.get("iss")).toBe(ISSUER);
    const { text, tokens } = await redeem(server, redirect.searchParams.get("code")!, verifier);
    const info = await server.verifyAccessToken(tokens.access_token, { resource: RESOURCE });
    expect(info.extra).toMatchObject({ sub: "alice", email: "alice@idp.example", name: "Test alice" });
    const upstreamToken = await upstreamOf(info).getAccessToken();
    expect(idp.issuedTokens).toContain(upstreamToken);
    expect(text).not.toContain(upstreamToken);
    expect(tokens.access_token.split(".").map((part) => Buffer.from(part, "base64url").toString())).not.toContain(upstreamToken);
    // The upstream access token is no key here.
    await expect(server.verifyAccessToken(upstreamToken, { resource: RESOURCE })).rejects.toMatchObject({ code: "invalid_token" });
    expect(await upstreamOf(info).userinfo()).toMatchObject({ sub: "alice", email: "alice@idp.example" });
  });

  it("PX-5: a callback without state, with a forged state, without the browser's cookie, or replayed is a 400 page with no code", async () => {
    const { server } = createServer();
    const agent = new Agent(server);
    const { decided } = await consent(agent, "allow");
    const callback = await signInAtIdp(agent, decided.headers.get("Location")!, "alice", CALLBACK);
    const expectRefused = async (response: Response) => {
      expect(response.status).toBe(400);
      expect(response.headers.get("Location")).toBeNull();
      expect(response.headers.get("Content-Type")).toContain("text/html");
    };
    const without = new URL(callback);
    without.searchParams.delete("state");
    await expectRefused(await agent.request(without.href));
    const forged = new URL(callback);
    forged.searchParams.set("state", "x".repeat(43));
    await expectRefused(await agent.request(forged.href));
    // Another browser (no binding cookie) cannot finish this one's sign-in.
    await expectRefused(await new Agent(server).request(callback.href));
    const ok = await agent.request(callback.href);
    expect(ok.status).toBe(302);
    expect(new URL(ok.headers.get("Location")!).searchParams.get("code")).toBeTruthy();
    await expectRefused(await agent.request(callback.href));
  });

  it("PX-5: a callback more than 10 minutes after Allow is refused", async () => {
    let now = Date.now();
    const { server } = createServer({ now: () => now });
    const agent = new Agent(server);
    const { decided } = await consent(agent, "allow");
    const callback = await signInAtIdp(agent, decided.headers.get("Location")!, "alice", CALLBACK);
    now += 11 * 60_000;
    const late = await agent.request(callback.href);
    expect(late.status).toBe(400);
    expect(late.headers.get("Location")).toBeNull();
  });

  it("refuses a tampered upstream code with a 400 page, never a code or a 5xx", async () => {
    const { server } = createServer();
    const agent = new Agent(server);
    const { decided } = await consent(agent, "allow");
    const callback = await signInAtIdp(agent, decided.headers.get("Location")!, "alice", CALLBACK);
    callback.searchParams.set("code", `${callback.searchParams.get("code")}x`);
    const response = await agent.request(callback.href);
    expect(response.status).toBe(400);
    expect(response.headers.get("Location")).toBeNull();
  });

  it("maps the provider's access_denied to access_denied at the MCP client, with its state and iss", async () => {
    const { server } = createServer();
    const agent = new Agent(server);
    const { decided } = await consent(agent, "allow");
    // The provider's development pages: the login page has an abort link.
    const { response, url } = await agent.follow(decided.headers.get("Location")!);
    expect(response.status).toBe(200);
    const interaction = /\/interaction\/[^/?"]+/.exec(url.pathname)![0];
    const { url: back } = await agent.follow(`${idp.issuer}${interaction}/abort`, {}, (u) => u.href.startsWith(CALLBACK));
    const answer = await agent.request(back.href);
    expect(answer.status).toBe(302);
    const redirect = new URL(answer.headers.get("Location")!);
    expect(redirect.href.startsWith(CLIENT_REDIRECT)).toBe(true);
    expect(redirect.searchParams.get("error")).toBe("access_denied");
    expect(redirect.searchParams.get("state")).toBe("client-state-1");
    expect(redirect.searchParams.get("iss")).toBe(ISSUER);
    expect(redirect.searchParams.get("code")).toBeNull();
  });

  it("signs in, refreshes and revokes as a public upstream client (PKCE, no secret)", async () => {
    let now = Date.now();
    const { server } = createServer({ now: () => now, upstream: { clientId: "portcullis-public", clientSecret: undefined } });
    const { redirect, verifier } = await signIn(server);
    const { tokens } = await redeem(server, redirect.searchParams.get("code")!, verifier);
    const upstream = upstreamOf(await server.verifyAccessToken(tokens.access_token, { resource: RESOURCE }));
    const first = await upstream.getAccessToken();
    now += 61_000;
    expect(await upstream.getAccessToken()).not.toBe(first);
    const revocations = idp.counts.revocations;
    const [grant] = await server.listGrants({ subject: "alice" });
    await server.revokeGrants({ grantId: grant!.id });
    expect(idp.counts.revocations).toBe(revocations + 1);
  });

  it("answers an unreachable provider with a 502 page, not a 500", async () => {
    const { server } = createServer({ upstream: { issuer: "http://127.0.0.1:9", timeoutMs: 2000 } });
    const page = await new Agent(server).request(authorizeUrl().url);
    expect(page.status).toBe(502);
    expect(page.headers.get("Content-Type")).toContain("text/html");
  });

  it("discovers a provider through RFC 8414 when OIDC discovery is missing", async () => {
    const { server } = createServer({ idp: plainIdp });
    const { redirect, verifier } = await signIn(server);
    const { tokens } = await redeem(server, redirect.searchParams.get("code")!, verifier);
    expect((await server.verifyAccessToken(tokens.access_token, { resource: RESOURCE })).extra?.sub).toBe("alice");
  });
});

describe("Federation: upstream tokens per grant", () => {
  it("never puts an upstream token or code in an event or a reported error", async () => {
    let now = Date.now();
    const reported: unknown[] = [];
    const seen = (value: unknown) => reported.push(value instanceof Error ? { ...value, message: value.message, cause: value.cause } : value);
    const server = createAuthorizationServer({
      issuer: ISSUER,
      resource: RESOURCE,
      scopes: { "mcp:tools": "Use the tools" },
      storage: createMemoryStore(),
      clients: [
        { client_id: "client-a", redirect_uris: [CLIENT_REDIRECT], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"] },
      ],
      upstream: { issuer: idp.issuer, clientId: "portcullis", clientSecret: UPSTREAM_SECRET, tokenEncryptionKeys: KEY },
      now: () => now,
      onEvent: seen,
      onError: (error, context) => {
        seen(error);
        seen(context.reason);
      },
    });
    const { redirect, verifier, callback } = await signIn(server);
    // A replayed and a tampered callback are reported, without their code.
    await new Agent(server).request(callback.href);
    const { tokens } = await redeem(server, redirect.searchParams.get("code")!, verifier);
    const upstream = upstreamOf(await server.verifyAccessToken(tokens.access_token, { resource: RESOURCE }));
    now += 61_000;
    await upstream.userinfo();
    await server.fetch(new Request(`${ISSUER}/revoke`, formPost({ token: tokens.refresh_token, client_id: "client-a" })));
    const text = JSON.stringify(reported);
    expect(reported.length).toBeGreaterThan(3);
    expect(text).not.toContain(callback.searchParams.get("code")!);
    for (const token of idp.issuedTokens) expect(text).not.toContain(token);
  });

  it("keeps upstream tokens only encrypted in the store, and opens them after a key rotation by key id", async () => {
    const storage = recordingStore();
    const k1 = { id: "k1", key: KEY };
    const k2 = { id: "k2", key: randomBytes(32).toString("base64url") };
    const { server } = createServer({ storage, upstream: { tokenEncryptionKeys: [k1] } });
    const { redirect, verifier } = await signIn(server);
    const { tokens } = await redeem(server, redirect.searchParams.get("code")!, verifier);
    const upstreamToken = await upstreamOf(await server.verifyAccessToken(tokens.access_token, { resource: RESOURCE })).getAccessToken();
    expect(JSON.stringify(storage.written)).not.toContain(upstreamToken);
    expect(JSON.stringify(storage.written)).toContain('"kid":"k1"');

    // A new key first, the old one kept: old records still open.
    const rotated = createServer({ storage, upstream: { tokenEncryptionKeys: [k2, k1] } }).server;
    expect(await upstreamOf(await rotated.verifyAccessToken(tokens.access_token, { resource: RESOURCE })).getAccessToken()).toBe(upstreamToken);
    // Without the old key the record does not open: an error, never a wrong token.
    const dropped = createServer({ storage, upstream: { tokenEncryptionKeys: [k2] } }).server;
    await expect(upstreamOf(await dropped.verifyAccessToken(tokens.access_token, { resource: RESOURCE })).getAccessToken()).rejects.toBeInstanceOf(
      UpstreamError,
    );
  });

  it("PX-8: refreshes an expired upstream access token, once for many concurrent callers across two instances sharing the store", async () => {
    let now = Date.now();
    const storage = createMemoryStore();
    const a = createServer({ storage, now: () => now }).server;
    const b = createServer({ storage, now: () => now }).server;
    const { redirect, verifier } = await signIn(a);
    const { tokens } = await redeem(a, redirect.searchParams.get("code")!, verifier);
    const [infoA, infoB] = await Promise.all([
      a.verifyAccessToken(tokens.access_token, { resource: RESOURCE }),
      b.verifyAccessToken(tokens.access_token, { resource: RESOURCE }),
    ]);
    const before = await upstreamOf(infoA).getAccessToken();
    const refreshes = idp.counts.refresh_token;
    now += 61_000;
    const got = await Promise.all([...Array(4)].flatMap(() => [upstreamOf(infoA).getAccessToken(), upstreamOf(infoB).getAccessToken()]));
    expect(idp.counts.refresh_token - refreshes).toBe(1);
    expect(new Set(got).size).toBe(1);
    expect(got[0]).not.toBe(before);
    expect(await upstreamOf(infoB).userinfo()).toMatchObject({ sub: "alice" });
  });

  it("PX-8: when the provider has ended the upstream grant, the tool gets an UpstreamError and the grant ends here too, never stale data", async () => {
    let now = Date.now();
    const { server } = createServer({ now: () => now });
    const { redirect, verifier } = await signIn(server);
    const { tokens } = await redeem(server, redirect.searchParams.get("code")!, verifier);
    const info = await server.verifyAccessToken(tokens.access_token, { resource: RESOURCE });
    // The provider ends the grant (its user signed out everywhere, an admin revoked it).
    const upstreamToken = await upstreamOf(info).getAccessToken();
    const issued = await idp.provider.AccessToken.find(upstreamToken);
    await (await idp.provider.Grant.find(issued!.grantId))!.destroy();
    await expect(upstreamOf(info).userinfo()).rejects.toBeInstanceOf(UpstreamError);
    now += 61_000;
    await expect(upstreamOf(info).getAccessToken()).rejects.toMatchObject({ failure: "invalid_grant" });
    await expect(server.verifyAccessToken(tokens.access_token, { resource: RESOURCE })).rejects.toMatchObject({ code: "invalid_token" });
  });

  it("PX-8: an upstream access token the provider revoked before it expired is refreshed when userinfo refuses it", async () => {
    const { server } = createServer();
    const { redirect, verifier } = await signIn(server);
    const { tokens } = await redeem(server, redirect.searchParams.get("code")!, verifier);
    const upstream = upstreamOf(await server.verifyAccessToken(tokens.access_token, { resource: RESOURCE }));
    const revoked = await upstream.getAccessToken();
    await (await idp.provider.AccessToken.find(revoked))!.destroy();
    expect(await upstream.userinfo()).toMatchObject({ sub: "alice" });
    expect(await upstream.getAccessToken()).not.toBe(revoked);
    const current = await upstream.getAccessToken();
    expect(await upstream.getAccessToken({ forceRefresh: true })).not.toBe(current);
  });

  it("revoking the grant here (the grant API and RFC 7009) revokes the upstream refresh token at the provider", async () => {
    const { server } = createServer();
    for (const how of ["api", "rfc7009"] as const) {
      const { redirect, verifier } = await signIn(server);
      const { tokens } = await redeem(server, redirect.searchParams.get("code")!, verifier);
      const info = await server.verifyAccessToken(tokens.access_token, { resource: RESOURCE });
      const upstream = upstreamOf(info);
      const revocations = idp.counts.revocations;
      if (how === "api") {
        const [grant] = await server.listGrants({ subject: "alice" });
        expect(await server.revokeGrants({ grantId: grant!.id })).toBe(1);
      } else {
        const revoked = await server.fetch(new Request(`${ISSUER}/revoke`, formPost({ token: tokens.refresh_token, client_id: "client-a" })));
        expect(revoked.status).toBe(200);
      }
      expect(idp.counts.revocations - revocations).toBe(1);
      await expect(upstream.getAccessToken()).rejects.toMatchObject({ failure: "invalid_grant" });
    }
  });
});
