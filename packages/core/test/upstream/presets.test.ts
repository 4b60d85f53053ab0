import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { createAuthorizationServer, createMemoryStore, upstreamPresets, type UpstreamAccess, type UpstreamOptions } from "../../src/index.js";
import { Agent, authorizationRequest, formOf, formPost } from "./agent.js";

const ISSUER = "https://as.test";
const REDIRECT = "http://127.0.0.1:7777/cb";
const KEY = randomBytes(32).toString("base64url");
const credentials = { clientId: "portcullis", clientSecret: "upstream-secret", tokenEncryptionKeys: KEY };
const recorded = (name: string) => readFileSync(new URL(`./discovery/${name}.json`, import.meta.url), "utf8");

/** A fetch that answers from a table of URLs and records each request. */
function fakeFetch(routes: Record<string, (request: Request) => Response | Promise<Response>>) {
  const requests: Request[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    requests.push(request.clone());
    const url = new URL(request.url);
    const route = routes[`${request.method} ${url.origin}${url.pathname}`];
    return route ? route(request) : new Response("not found", { status: 404 });
  };
  return { fetch, requests };
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

function createServer(upstream: UpstreamOptions) {
  return createAuthorizationServer({
    issuer: ISSUER,
    resource: `${ISSUER}/mcp`,
    scopes: { "mcp:tools": "Use the tools" },
    defaultScopes: ["mcp:tools"],
    storage: createMemoryStore(),
    clients: [{ client_id: "client-a", redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"] }],
    upstream,
    onError: (error) => process.env.DEBUG_UPSTREAM && console.log(error),
  });
}

/** Consent on the built-in page; answers the redirect to the provider and the agent. */
async function allow(server: ReturnType<typeof createServer>) {
  const agent = new Agent(server);
  const { url, verifier } = authorizationRequest(ISSUER, { client_id: "client-a", redirect_uri: REDIRECT, state: "st" });
  const page = await agent.request(url.href);
  expect(page.status).toBe(200);
  const { action, fields } = formOf(await page.text(), ISSUER);
  const allowed = await agent.request(action, formPost({ ...fields, decision: "allow" }));
  expect(allowed.status).toBe(303);
  return { agent, page, upstreamUrl: new URL(allowed.headers.get("Location")!), verifier };
}

describe("Upstream presets, against recorded discovery documents", () => {
  const cases = [
    {
      name: "google",
      upstream: (fetch: UpstreamOptions["fetch"]) => upstreamPresets.google({ ...credentials, fetch }),
      discovery: "https://accounts.google.com/.well-known/openid-configuration",
      authorize: "https://accounts.google.com/o/oauth2/v2/auth",
      params: { scope: "openid email profile", access_type: "offline", prompt: "consent" },
    },
    {
      name: "entra",
      upstream: (fetch: UpstreamOptions["fetch"]) => upstreamPresets.entra({ ...credentials, tenant: "4a1f3e7c-52d9-4f2b-9e0a-6c1d2b3a4f5e", fetch }),
      discovery: "https://login.microsoftonline.com/4a1f3e7c-52d9-4f2b-9e0a-6c1d2b3a4f5e/v2.0/.well-known/openid-configuration",
      authorize: "https://login.microsoftonline.com/4a1f3e7c-52d9-4f2b-9e0a-6c1d2b3a4f5e/oauth2/v2.0/authorize",
      params: { scope: "openid profile email offline_access", prompt: "consent" },
    },
    {
      name: "auth0",
      upstream: (fetch: UpstreamOptions["fetch"]) =>
        upstreamPresets.auth0({ ...credentials, domain: "portcullis-demo.eu.auth0.com", audience: "https://api.example.com", fetch }),
      discovery: "https://portcullis-demo.eu.auth0.com/.well-known/openid-configuration",
      authorize: "https://portcullis-demo.eu.auth0.com/authorize",
      params: { scope: "openid profile email offline_access", prompt: "consent", audience: "https://api.example.com" },
    },
    {
      name: "okta",
      upstream: (fetch: UpstreamOptions["fetch"]) => upstreamPresets.okta({ ...credentials, domain: "portcullis-demo.okta.com", fetch }),
      discovery: "https://portcullis-demo.okta.com/oauth2/default/.well-known/openid-configuration",
      authorize: "https://portcullis-demo.okta.com/oauth2/default/v1/authorize",
      params: { scope: "openid profile email offline_access", prompt: "consent" },
    },
    {
      name: "keycloak",
      upstream: (fetch: UpstreamOptions["fetch"]) => upstreamPresets.keycloak({ ...credentials, baseUrl: "https://sso.example.org", realm: "mcp", fetch }),
      discovery: "https://sso.example.org/realms/mcp/.well-known/openid-configuration",
      authorize: "https://sso.example.org/realms/mcp/protocol/openid-connect/auth",
      params: { scope: "openid profile email", prompt: null },
    },
  ];

  for (const c of cases) {
    it(`${c.name}: discovers its issuer and asks for its scopes and parameters`, async () => {
      const { fetch, requests } = fakeFetch({ [`GET ${c.discovery.replace(/^(https:\/\/[^/]+)/, "$1")}`]: () => json(JSON.parse(recorded(c.name))) });
      const server = createServer(c.upstream(fetch));
      const { page, upstreamUrl } = await allow(server);
      expect(requests.map((r) => r.url)).toEqual([c.discovery]);
      expect(page.headers.get("Content-Security-Policy")).toContain(new URL(c.authorize).origin);
      expect(`${upstreamUrl.origin}${upstreamUrl.pathname}`).toBe(c.authorize);
      for (const [name, value] of Object.entries(c.params)) expect(upstreamUrl.searchParams.get(name)).toBe(value);
      expect(upstreamUrl.searchParams.get("code_challenge_method")).toBe("S256");
      expect(upstreamUrl.searchParams.get("redirect_uri")).toBe(`${ISSUER}/upstream/callback`);
    });
  }

  it("entra refuses the multi-tenant aliases, whose issuer no response can match", () => {
    expect(() => upstreamPresets.entra({ ...credentials, tenant: "common" })).toThrow("tenant ID");
    expect(() => upstreamPresets.okta({ ...credentials, domain: "https://x.okta.com" })).toThrow("host name");
  });

  it("a provider whose metadata offers only client_secret_post gets the secret in the body, not Basic", async () => {
    const discovery = {
      issuer: "https://idp.example",
      authorization_endpoint: "https://idp.example/authorize",
      token_endpoint: "https://idp.example/token",
      userinfo_endpoint: "https://idp.example/userinfo",
      token_endpoint_auth_methods_supported: ["client_secret_post"],
    };
    const { fetch, requests } = fakeFetch({
      "GET https://idp.example/.well-known/openid-configuration": () => json(discovery),
      "POST https://idp.example/token": () => json({ access_token: "opaque-upstream-token", token_type: "Bearer", expires_in: 3600 }),
      "GET https://idp.example/userinfo": () => json({ sub: "u-1", email: "u1@idp.example" }),
    });
    const server = createServer({ issuer: "https://idp.example", ...credentials, scopes: ["profile"], tokenEncryptionKeys: KEY, fetch });
    const { agent, upstreamUrl } = await allow(server);
    const callback = new URL(`${ISSUER}/upstream/callback`);
    callback.search = new URLSearchParams({ code: "c-1", state: upstreamUrl.searchParams.get("state")! }).toString();
    const back = await agent.request(callback.href);
    expect(back.status).toBe(302);
    const token = requests.find((r) => r.url === "https://idp.example/token")!;
    expect(token.headers.get("Authorization")).toBeNull();
    const body = new URLSearchParams(await token.text());
    expect(body.get("client_secret")).toBe("upstream-secret");
    expect(body.get("code_verifier")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe("ID token verification", () => {
  it("accepts an ID token signed by a key of the provider's jwks_uri, and refuses one signed by another key with a 400 page", async () => {
    const [good, forger] = await Promise.all([generateKeyPair("ES256"), generateKeyPair("ES256")]);
    const jwk = { ...(await exportJWK(good.publicKey)), kid: "k1", alg: "ES256" };
    let nonce = "";
    let signer = good.privateKey;
    const discovery = {
      issuer: "https://idp.example",
      authorization_endpoint: "https://idp.example/authorize",
      token_endpoint: "https://idp.example/token",
      jwks_uri: "https://idp.example/jwks",
      id_token_signing_alg_values_supported: ["ES256"],
    };
    const { fetch } = fakeFetch({
      "GET https://idp.example/.well-known/openid-configuration": () => json(discovery),
      "GET https://idp.example/jwks": () => json({ keys: [jwk] }),
      "POST https://idp.example/token": async () => {
        const idToken = await new SignJWT({ nonce, email: "u1@idp.example" })
          .setProtectedHeader({ alg: "ES256", kid: "k1" })
          .setIssuer("https://idp.example")
          .setAudience("portcullis")
          .setSubject("u-1")
          .setIssuedAt()
          .setExpirationTime("5m")
          .sign(signer);
        return json({ access_token: "opaque-upstream-token", token_type: "Bearer", expires_in: 3600, id_token: idToken });
      },
    });
    const server = createServer({ issuer: "https://idp.example", ...credentials, scopes: ["openid", "email"], fetch });
    for (const [key, status] of [
      [good.privateKey, 302],
      [forger.privateKey, 400],
    ] as const) {
      signer = key;
      const { agent, upstreamUrl } = await allow(server);
      nonce = upstreamUrl.searchParams.get("nonce")!;
      const callback = new URL(`${ISSUER}/upstream/callback`);
      callback.search = new URLSearchParams({ code: "c-1", state: upstreamUrl.searchParams.get("state")! }).toString();
      const back = await agent.request(callback.href);
      expect(back.status).toBe(status);
      if (status === 400) expect(back.headers.get("Location")).toBeNull();
    }
  });
});

describe("GitHub preset: plain OAuth 2 with userinfo and claim mapping", () => {
  function fakeGitHub() {
    return fakeFetch({
      "POST https://github.com/login/oauth/access_token": async (request) => {
        const body = new URLSearchParams(await request.text());
        // Basic credentials are form-encoded before base64 (RFC 6749 §2.3.1).
        const basic = atob((request.headers.get("Authorization") ?? "").replace(/^Basic /, ""))
          .split(":")
          .map((part) => decodeURIComponent(part));
        if (basic[0] !== "portcullis" || basic[1] !== "upstream-secret") return json({ error: "incorrect_client_credentials" });
        // GitHub answers a bad code with 200 and an error member.
        if (body.get("code") !== "good-code" || !body.get("code_verifier")) return json({ error: "bad_verification_code" });
        return json({ access_token: "gho_upstreamtoken", token_type: "bearer", scope: "read:user,user:email" });
      },
      "GET https://api.github.com/user": (request) =>
        request.headers.get("Authorization") === "Bearer gho_upstreamtoken"
          ? json({ id: 583231, login: "octocat", name: "The Octocat", email: null, type: "User" })
          : json({ message: "Bad credentials" }, 401),
    });
  }

  it("signs in without discovery or ID token, maps /user's id, login and name, and serves userinfo to tools", async () => {
    const { fetch, requests } = fakeGitHub();
    const server = createServer(upstreamPresets.github({ ...credentials, fetch }));
    const { agent, upstreamUrl, verifier } = await allow(server);
    expect(`${upstreamUrl.origin}${upstreamUrl.pathname}`).toBe("https://github.com/login/oauth/authorize");
    expect(upstreamUrl.searchParams.get("scope")).toBe("read:user user:email");
    expect(upstreamUrl.searchParams.get("nonce")).toBeNull();
    expect(upstreamUrl.searchParams.get("prompt")).toBeNull();
    const callback = new URL(`${ISSUER}/upstream/callback`);
    callback.search = new URLSearchParams({ code: "good-code", state: upstreamUrl.searchParams.get("state")! }).toString();
    const back = await agent.request(callback.href);
    expect(back.status).toBe(302);
    const code = new URL(back.headers.get("Location")!).searchParams.get("code")!;
    const tokens = await server.fetch(
      new Request(`${ISSUER}/token`, formPost({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: "client-a" })),
    );
    const { access_token } = (await tokens.json()) as { access_token: string };
    const info = await server.verifyAccessToken(access_token, { resource: `${ISSUER}/mcp` });
    expect(info.extra).toMatchObject({ sub: "583231", preferred_username: "octocat", name: "The Octocat" });
    expect(info.extra).not.toHaveProperty("email");
    const upstream = info.extra!.upstream as UpstreamAccess;
    expect(await upstream.getAccessToken()).toBe("gho_upstreamtoken");
    expect(await upstream.userinfo()).toMatchObject({ login: "octocat" });
    expect(requests.every((r) => !r.url.includes(".well-known"))).toBe(true);
    expect(requests.find((r) => r.url === "https://api.github.com/user")!.headers.get("User-Agent")).toBeTruthy();
  });

  it("answers GitHub's 200-with-error for a bad code with a 400 page, no code", async () => {
    const { fetch } = fakeGitHub();
    const server = createServer(upstreamPresets.github({ ...credentials, fetch }));
    const { agent, upstreamUrl } = await allow(server);
    const callback = new URL(`${ISSUER}/upstream/callback`);
    callback.search = new URLSearchParams({ code: "tampered", state: upstreamUrl.searchParams.get("state")! }).toString();
    const back = await agent.request(callback.href);
    expect(back.status).toBe(400);
    expect(back.headers.get("Location")).toBeNull();
  });
});
