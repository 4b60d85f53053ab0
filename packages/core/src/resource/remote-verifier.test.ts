import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { createClock, parseChallenge, resourceRequest, RESOURCE } from "../../test/helpers.js";
import type { OAuthError } from "../errors.js";
import { createResourceGuard } from "./guard.js";
import { AuthorizationServerUnavailableError } from "./issuer-client.js";
import { createRemoteVerifier, type RemoteVerifierOptions } from "./remote-verifier.js";

const ISSUER = "https://idp.test/tenant";
const INTROSPECTOR = { clientId: "rs client", clientSecret: "s3cret:with/odd=chars" };

type Algorithm = "RS256" | "PS256" | "ES256" | "EdDSA";

async function signingKey(alg: Algorithm, kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === "EdDSA" ? { crv: "Ed25519" } : {});
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { alg, kid, privateKey, jwk };
}

/** The fake issuer's RSA key: generated once, RSA keys are slow to make. */
const issuerKey = signingKey("RS256", "rsa-1");

/**
 * A fake external authorization server behind the verifier's `fetch`: metadata (OIDC or RFC 8414
 * only), a JWK set that can be rotated, an introspection endpoint answering from a table, and a
 * switch that makes it unreachable. Every request is recorded.
 */
async function fakeAuthorizationServer(options: { discovery?: "oidc" | "rfc8414"; issuer?: string; authMethods?: string[] } = {}) {
  const clock = createClock();
  const key = await issuerKey;
  const state = {
    keys: [key.jwk],
    introspection: new Map<string, Record<string, unknown>>(),
    down: false,
    jwksBody: undefined as string | undefined,
  };
  const requests: { url: string; init?: RequestInit }[] = [];
  const metadata = {
    issuer: options.issuer ?? ISSUER,
    jwks_uri: "https://idp.test/tenant/jwks",
    introspection_endpoint: "https://idp.test/tenant/introspect",
    ...(options.authMethods ? { introspection_endpoint_auth_methods_supported: options.authMethods } : {}),
  };
  const json = (value: unknown, status = 200) => new Response(JSON.stringify(value), { status, headers: { "Content-Type": "application/json" } });
  const fetchDouble = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    requests.push({ url, ...(init ? { init } : {}) });
    if (state.down) throw new TypeError("fetch failed");
    const discovery = options.discovery ?? "oidc";
    if (url === "https://idp.test/tenant/.well-known/openid-configuration") return discovery === "oidc" ? json(metadata) : json({ error: "not_found" }, 404);
    if (url === "https://idp.test/.well-known/oauth-authorization-server/tenant") return discovery === "rfc8414" ? json(metadata) : json({}, 404);
    if (url === metadata.jwks_uri) return state.jwksBody ? new Response(state.jwksBody) : json({ keys: state.keys });
    if (url === metadata.introspection_endpoint) {
      const form = new URLSearchParams(String(init?.body));
      const authorization = new Headers(init?.headers).get("Authorization");
      const basic = `Basic ${btoa(`${encodeURIComponent(INTROSPECTOR.clientId).replaceAll("%20", "+")}:${encodeURIComponent(INTROSPECTOR.clientSecret)}`)}`;
      const viaPost = form.get("client_id") === INTROSPECTOR.clientId && form.get("client_secret") === INTROSPECTOR.clientSecret;
      if (authorization !== basic && !viaPost) return json({ error: "invalid_client" }, 401);
      return json(state.introspection.get(form.get("token")!) ?? { active: false });
    }
    return json({}, 404);
  };
  const now = () => Math.floor(clock.now() / 1000);
  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: ISSUER,
    sub: "user-1",
    aud: RESOURCE,
    client_id: "mcp-client",
    scope: "mcp:tools",
    jti: crypto.randomUUID(),
    iat: now(),
    exp: now() + 600,
    ...extra,
  });
  const sign = (payload: Record<string, unknown> = claims(), with_ = key, header: Record<string, unknown> = {}) =>
    new SignJWT(payload).setProtectedHeader({ alg: with_.alg, kid: with_.kid, typ: "at+jwt", ...header }).sign(with_.privateKey);
  const verifier = (overrides: Partial<RemoteVerifierOptions> = {}) =>
    createRemoteVerifier({ issuer: ISSUER, fetch: fetchDouble, now: clock.now, introspection: INTROSPECTOR, ...overrides });
  const fetchesOf = (url: string) => requests.filter((r) => r.url === url).length;
  return { clock, key, state, requests, metadata, claims, sign, verifier, fetchDouble, fetchesOf, now };
}

/** The status and challenge error a guard over `verifier` answers for a token. */
async function guardAnswer(verifier: ReturnType<typeof createRemoteVerifier>, token: string) {
  const guard = createResourceGuard({ resource: RESOURCE, verifier, requiredScopes: ["mcp:tools"], onError: () => {} });
  const result = await guard.authenticate(resourceRequest(token));
  if (!(result instanceof Response)) return { status: 200, info: result };
  const header = result.headers.get("WWW-Authenticate");
  return { status: result.status, error: header ? parseChallenge(header).params.error : undefined, retryAfter: result.headers.get("Retry-After") };
}

const REFUSED = { status: 401, error: "invalid_token" };

describe("createRemoteVerifier: JWT access tokens of an external authorization server (RFC 9068)", () => {
  it.each(["RS256", "PS256", "ES256", "EdDSA"] as const)(
    "RS-TOK-2: accepts a %s token signed with a key of the issuer's jwks_uri found by discovery",
    async (alg) => {
      const as = await fakeAuthorizationServer();
      const key = await signingKey(alg, `${alg}-key`);
      as.state.keys = [key.jwk];
      const result = await as.verifier().checkAccessToken(await as.sign(as.claims(), key), { resource: RESOURCE });
      expect(result).toMatchObject({ clientId: "mcp-client", scopes: ["mcp:tools"], extra: { sub: "user-1", iss: ISSUER } });
      expect(as.fetchesOf(`${ISSUER}/.well-known/openid-configuration`)).toBe(1);
    },
  );

  it("answers a JWT it verified moments ago without I/O (checkCachedAccessToken), and nothing for a token it has not seen or an opaque one", async () => {
    const as = await fakeAuthorizationServer();
    const verifier = as.verifier();
    const token = await as.sign();
    expect(verifier.checkCachedAccessToken(token, { resource: RESOURCE })).toBeUndefined();
    const info = await verifier.checkAccessToken(token, { resource: RESOURCE });
    const requests = as.requests.length;
    expect(verifier.checkCachedAccessToken(token, { resource: RESOURCE })).toBe(info);
    expect(verifier.checkCachedAccessToken(token, { resource: "https://other.test/mcp" })).toMatchObject({ reason: "audience_mismatch" });
    expect(verifier.checkCachedAccessToken("opaque-token", { resource: RESOURCE })).toBeUndefined();
    expect(as.requests.length).toBe(requests);
    // Through the guard, a reused token is answered alike.
    expect(await guardAnswer(verifier, token)).toMatchObject({ status: 200 });
  });

  it("falls back to RFC 8414 metadata (path inserted after the well-known prefix) when OIDC discovery has none", async () => {
    const as = await fakeAuthorizationServer({ discovery: "rfc8414" });
    expect(await guardAnswer(as.verifier(), await as.sign())).toMatchObject({ status: 200 });
    expect(as.requests.map((r) => r.url).slice(0, 2)).toEqual([
      `${ISSUER}/.well-known/openid-configuration`,
      "https://idp.test/.well-known/oauth-authorization-server/tenant",
    ]);
  });

  it("RS-TOK-1: refuses a token for another audience with 401 invalid_token", async () => {
    const as = await fakeAuthorizationServer();
    const token = await as.sign(as.claims({ aud: "https://other.test/mcp" }));
    expect(await guardAnswer(as.verifier(), token)).toMatchObject(REFUSED);
    const result = await as.verifier().checkAccessToken(token, { resource: RESOURCE });
    expect((result as OAuthError).reason).toBe("audience_mismatch");
  });

  it("RS-TOK-4: refuses a token of a foreign issuer, even one signed with a key the issuer publishes", async () => {
    const as = await fakeAuthorizationServer();
    expect(await guardAnswer(as.verifier(), await as.sign(as.claims({ iss: "https://evil.test" })))).toMatchObject(REFUSED);
    expect(await guardAnswer(as.verifier(), await as.sign(as.claims({ iss: `${ISSUER}/` })))).toMatchObject(REFUSED);
    const stranger = await signingKey("RS256", "rsa-1");
    expect(await guardAnswer(as.verifier(), await as.sign(as.claims(), stranger))).toMatchObject(REFUSED);
  });

  it("refuses an expired token, and one that is not typed at+jwt", async () => {
    const as = await fakeAuthorizationServer();
    const verifier = as.verifier();
    const token = await as.sign(as.claims({ exp: as.now() + 60 }));
    expect(await guardAnswer(verifier, token)).toMatchObject({ status: 200 });
    as.clock.advance(91);
    expect(await guardAnswer(verifier, token)).toMatchObject(REFUSED);
    expect(await guardAnswer(verifier, await as.sign(as.claims(), as.key, { typ: "JWT" }))).toMatchObject(REFUSED);
  });

  it("refuses a sender-constrained token (cnf) presented as a bearer token, and scopes of the wrong type", async () => {
    const as = await fakeAuthorizationServer();
    expect(await guardAnswer(as.verifier(), await as.sign(as.claims({ cnf: { jkt: "thumbprint" } })))).toMatchObject(REFUSED);
    const { scope: _scope, ...claims } = as.claims();
    expect(await guardAnswer(as.verifier(), await as.sign({ ...claims, scp: [1] }))).toMatchObject(REFUSED);
  });

  it("reads scopes from an scp list when the token has no scope claim", async () => {
    const as = await fakeAuthorizationServer();
    const { scope: _scope, ...claims } = as.claims();
    const result = await as.verifier().checkAccessToken(await as.sign({ ...claims, scp: ["mcp:tools", "mcp:admin"] }), { resource: RESOURCE });
    expect(result).toMatchObject({ scopes: ["mcp:tools", "mcp:admin"] });
  });

  it("fetches the keys again for an unknown kid, at most once per 30-second cooldown", async () => {
    const as = await fakeAuthorizationServer();
    const verifier = as.verifier();
    expect(await guardAnswer(verifier, await as.sign())).toMatchObject({ status: 200 });
    expect(as.fetchesOf(as.metadata.jwks_uri)).toBe(1);

    const rotated = await signingKey("RS256", "rsa-2");
    as.state.keys = [as.key.jwk, rotated.jwk];
    // Within the cooldown after the last fetch: refused, and the issuer is not asked again.
    const newToken = await as.sign(as.claims(), rotated);
    expect(await guardAnswer(verifier, newToken)).toMatchObject(REFUSED);
    expect(as.fetchesOf(as.metadata.jwks_uri)).toBe(1);
    // Once the cooldown and the minute a refusal is remembered are over: the unknown kid fetches
    // the set again and the token passes.
    as.clock.advance(61);
    expect(await guardAnswer(verifier, newToken)).toMatchObject({ status: 200 });
    expect(as.fetchesOf(as.metadata.jwks_uri)).toBe(2);
    // A kid the issuer does not publish either: one fetch per cooldown, not one per token.
    as.clock.advance(31);
    const unknown = await signingKey("RS256", "rsa-3");
    for (let i = 0; i < 5; i++) expect(await guardAnswer(verifier, await as.sign(as.claims(), unknown))).toMatchObject(REFUSED);
    expect(as.fetchesOf(as.metadata.jwks_uri)).toBe(3);
  });

  it("answers 503, never a pass, when the issuer is unreachable, answers garbage or too much", async () => {
    const down = await fakeAuthorizationServer();
    down.state.down = true;
    expect(await guardAnswer(down.verifier(), await down.sign())).toMatchObject({ status: 503, retryAfter: "5" });
    await expect(down.verifier().metadata()).rejects.toBeInstanceOf(AuthorizationServerUnavailableError);

    const big = await fakeAuthorizationServer();
    big.state.jwksBody = JSON.stringify({ keys: [big.key.jwk], padding: "x".repeat(300_000) });
    expect(await guardAnswer(big.verifier(), await big.sign())).toMatchObject({ status: 503 });

    const garbage = await fakeAuthorizationServer();
    garbage.state.jwksBody = "<html>";
    expect(await guardAnswer(garbage.verifier(), await garbage.sign())).toMatchObject({ status: 503 });

    const impostor = await fakeAuthorizationServer({ issuer: "https://impostor.test" });
    expect(await guardAnswer(impostor.verifier(), await impostor.sign())).toMatchObject({ status: 503 });
  });

  it("gives up on an issuer that does not answer within timeoutMs", async () => {
    const hanging = (_input: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener("abort", () => reject(new Error("aborted"))));
    const verifier = createRemoteVerifier({ issuer: ISSUER, fetch: hanging, timeoutMs: 50 });
    const started = Date.now();
    await expect(verifier.checkAccessToken("a.b.c", { resource: RESOURCE })).rejects.toBeInstanceOf(AuthorizationServerUnavailableError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("keeps the keys it holds when a refresh fails, so an issuer outage does not refuse valid tokens", async () => {
    const as = await fakeAuthorizationServer();
    const verifier = as.verifier();
    expect(await guardAnswer(verifier, await as.sign())).toMatchObject({ status: 200 });
    as.state.down = true;
    as.clock.advance(3_700);
    expect(await guardAnswer(verifier, await as.sign())).toMatchObject({ status: 200 });
  });
});

describe("createRemoteVerifier: opaque tokens by RFC 7662 introspection", () => {
  const active = (as: Awaited<ReturnType<typeof fakeAuthorizationServer>>, extra: Record<string, unknown> = {}) => ({
    active: true,
    iss: ISSUER,
    aud: RESOURCE,
    sub: "user-1",
    client_id: "mcp-client",
    scope: "mcp:tools mcp:admin",
    token_type: "Bearer",
    exp: as.now() + 3600,
    ...extra,
  });

  it("RS-TOK-3: accepts an active token for this resource, with its scopes, asking with client_secret_basic", async () => {
    const as = await fakeAuthorizationServer();
    as.state.introspection.set("opaque-1", active(as));
    const result = await as.verifier().checkAccessToken("opaque-1", { resource: RESOURCE });
    expect(result).toMatchObject({ token: "opaque-1", clientId: "mcp-client", scopes: ["mcp:tools", "mcp:admin"], extra: { sub: "user-1", iss: ISSUER } });
    const call = as.requests.find((r) => r.url === as.metadata.introspection_endpoint)!;
    expect(new URLSearchParams(String(call.init?.body)).get("token_type_hint")).toBe("access_token");
    expect(new URLSearchParams(String(call.init?.body)).has("client_secret")).toBe(false);
  });

  it("RS-TOK-3: authenticates with client_secret_post when the issuer offers only that", async () => {
    const as = await fakeAuthorizationServer({ authMethods: ["client_secret_post"] });
    as.state.introspection.set("opaque-1", active(as));
    expect(await guardAnswer(as.verifier(), "opaque-1")).toMatchObject({ status: 200 });
    const call = as.requests.find((r) => r.url === as.metadata.introspection_endpoint)!;
    expect(new Headers(call.init?.headers).has("Authorization")).toBe(false);
  });

  it("RS-TOK-3: refuses active:false with 401 invalid_token", async () => {
    const as = await fakeAuthorizationServer();
    expect(await guardAnswer(as.verifier(), "unknown-token")).toMatchObject(REFUSED);
  });

  it("RS-TOK-3: refuses active:true with a foreign aud, no aud, another issuer, a past exp or a sender-constrained token", async () => {
    const as = await fakeAuthorizationServer();
    const { aud: _aud, ...withoutAud } = active(as);
    const cases: Record<string, Record<string, unknown>> = {
      foreign: active(as, { aud: "https://other.test/mcp" }),
      missing: withoutAud,
      issuer: active(as, { iss: "https://evil.test" }),
      expired: active(as, { exp: as.now() - 120 }),
      dpop: active(as, { token_type: "DPoP", cnf: { jkt: "x" } }),
    };
    const verifier = as.verifier();
    for (const [token, answer] of Object.entries(cases)) {
      as.state.introspection.set(token, answer);
      expect(await guardAnswer(verifier, token), token).toMatchObject(REFUSED);
    }
    expect(((await verifier.checkAccessToken("foreign", { resource: RESOURCE })) as OAuthError).reason).toBe("audience_mismatch");
  });

  it("RS-TOK-3: caches an active answer no longer than the token's exp, nor than cacheSeconds", async () => {
    const as = await fakeAuthorizationServer();
    const verifier = as.verifier({ introspection: { ...INTROSPECTOR, cacheSeconds: 60 } });
    const calls = () => as.fetchesOf(as.metadata.introspection_endpoint);

    as.state.introspection.set("short", active(as, { exp: as.now() + 20 }));
    expect(await guardAnswer(verifier, "short")).toMatchObject({ status: 200 });
    expect(await guardAnswer(verifier, "short")).toMatchObject({ status: 200 });
    expect(calls()).toBe(1);
    // Past exp the cached answer is gone: the issuer is asked, and now says inactive.
    as.state.introspection.delete("short");
    as.clock.advance(21);
    expect(await guardAnswer(verifier, "short")).toMatchObject(REFUSED);
    expect(calls()).toBe(2);

    // A long-lived token is asked about again after cacheSeconds: revocation takes effect.
    as.state.introspection.set("long", active(as));
    expect(await guardAnswer(verifier, "long")).toMatchObject({ status: 200 });
    as.state.introspection.delete("long");
    as.clock.advance(59);
    expect(await guardAnswer(verifier, "long")).toMatchObject({ status: 200 });
    as.clock.advance(2);
    expect(await guardAnswer(verifier, "long")).toMatchObject(REFUSED);
  });

  it("RS-TOK-3: caches an inactive answer briefly (inactiveCacheSeconds), and shares one request among concurrent checks", async () => {
    const as = await fakeAuthorizationServer();
    const verifier = as.verifier();
    const calls = () => as.fetchesOf(as.metadata.introspection_endpoint);
    await Promise.all([1, 2, 3].map(() => guardAnswer(verifier, "not-yet")));
    expect(calls()).toBe(1);
    as.state.introspection.set("not-yet", active(as));
    as.clock.advance(5);
    expect(await guardAnswer(verifier, "not-yet")).toMatchObject(REFUSED);
    as.clock.advance(6);
    expect(await guardAnswer(verifier, "not-yet")).toMatchObject({ status: 200 });
    expect(calls()).toBe(2);
  });

  it("answers 503 when introspection fails (wrong client credentials, unreachable), never a pass", async () => {
    const as = await fakeAuthorizationServer();
    as.state.introspection.set("opaque-1", active(as));
    const wrong = as.verifier({ introspection: { clientId: INTROSPECTOR.clientId, clientSecret: "wrong" } });
    expect(await guardAnswer(wrong, "opaque-1")).toMatchObject({ status: 503 });
    const verifier = as.verifier();
    await verifier.metadata();
    as.state.down = true;
    expect(await guardAnswer(verifier, "opaque-1")).toMatchObject({ status: 503 });
  });

  it("refuses an opaque token without introspection configured, without asking anyone", async () => {
    const as = await fakeAuthorizationServer();
    expect(await guardAnswer(as.verifier({ introspection: false }), "opaque-1")).toMatchObject(REFUSED);
    expect(as.requests).toHaveLength(0);
  });
});

describe("createRemoteVerifier options and the guard", () => {
  it("refuses an http issuer off loopback, unknown options and missing introspection credentials", () => {
    expect(() => createRemoteVerifier({ issuer: "http://idp.example.com" })).toThrow(/https/);
    expect(() => createRemoteVerifier({ issuer: "https://idp.test/#x" })).toThrow(TypeError);
    expect(() => createRemoteVerifier({ issuer: "https://idp.test?tenant=1" })).toThrow(TypeError);
    expect(() => createRemoteVerifier({ issuer: ISSUER, jwks: "x" } as never)).toThrow(/unknown option `jwks`/);
    expect(() => createRemoteVerifier({ issuer: ISSUER, introspection: { clientId: "x" } as never })).toThrow(/clientSecret/);
    expect(() => createRemoteVerifier({ issuer: ISSUER, introspection: { ...INTROSPECTOR, cacheSecond: 5 } as never })).toThrow(
      /did you mean `introspection.cacheSeconds`/,
    );
    expect(() => createRemoteVerifier({ issuer: "http://127.0.0.1:9000" })).not.toThrow();
    expect(() => createRemoteVerifier({ issuer: "http://localhost:9000" })).not.toThrow();
  });

  it("RS-PRM-3: the guard's protected resource metadata names the verifier's issuer by default", async () => {
    const verifier = createRemoteVerifier({ issuer: ISSUER, fetch: async () => new Response(null, { status: 500 }) });
    const guard = createResourceGuard({ resource: RESOURCE, verifier, scopesSupported: ["mcp:tools"] });
    expect(guard.metadata()).toMatchObject({ resource: RESOURCE, authorization_servers: [ISSUER], scopes_supported: ["mcp:tools"] });
    expect(() => createResourceGuard({ resource: RESOURCE, verifier: { verifyAccessToken: async () => ({}) as never } })).toThrow(
      /authorizationServers is required/,
    );
  });
});
