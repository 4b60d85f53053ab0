import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from "node:net";
import * as oauth from "oauth4webapi";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoConfig } from "@portcullis/example-shared";
import { freePort } from "@portcullis/example-shared/testing";
import { serveWorker } from "../src/serve.js";

// The example Worker, bundled as for deployment, served by workerd with its Durable Object store
// on a real port: concurrent requests really are concurrent (Miniflare's dispatchFetch is not).
const PORT = await freePort();
const ISSUER = `http://localhost:${PORT}`;
const RESOURCE = `${ISSUER}/mcp`;
const USER = { username: "worker-user", password: "worker-password-123" };
const REDIRECT_URI = "http://127.0.0.1:53123/callback";

let mf: Miniflare;

beforeAll(async () => {
  const config = demoConfig({ PORT: String(PORT), DEMO_USERNAME: USER.username, DEMO_PASSWORD: USER.password }, { store: "durable-object" });
  ({ mf } = await serveWorker(config));
}, 60_000);
afterAll(async () => {
  await mf?.dispose();
});

/** fetch that never follows redirects: the test reads each Location itself. */
const workerFetch = (input: string | URL | Request, init: RequestInit = {}) => fetch(input, { ...init, redirect: "manual" });

const options = { [oauth.customFetch]: workerFetch, [oauth.allowInsecureRequests]: true } as const;
const form = (body: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
  body: new URLSearchParams(body),
});
const mcpCall = (token: string | undefined, body: unknown, headers: Record<string, string> = {}) =>
  workerFetch(RESOURCE, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify(body),
  });

async function discover() {
  const issuer = new URL(ISSUER);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, options));
}

/** Registers a client through DCR; confidential unless `token_endpoint_auth_method: "none"`. */
async function register(as: oauth.AuthorizationServer, metadata: Record<string, unknown> = {}) {
  const registered = await oauth.processDynamicClientRegistrationResponse(
    await oauth.dynamicClientRegistrationRequest(
      as,
      { redirect_uris: [REDIRECT_URI], grant_types: ["authorization_code", "refresh_token"], client_name: "workerd test", ...metadata },
      options,
    ),
  );
  const client: oauth.Client = { client_id: registered.client_id, token_endpoint_auth_method: registered.token_endpoint_auth_method as string };
  const clientAuth = registered.client_secret ? oauth.ClientSecretBasic(registered.client_secret as string) : oauth.None();
  return { client, clientAuth, secret: registered.client_secret as string | undefined };
}

/** Opens the consent page, signs in and allows; answers the redirect back to the client. */
async function authorize(as: oauth.AuthorizationServer, client: oauth.Client, scope = "mcp:tools") {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    scope,
    state,
    resource: RESOURCE,
  }).toString();
  const page = await workerFetch(url);
  expect(page.status).toBe(200);
  const html = await page.text();
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
  const cookie = page.headers.get("Set-Cookie")?.split(";")[0];
  expect(field("request_id")).toBeTruthy();
  expect(cookie).toBeTruthy();
  const decided = await workerFetch(
    `${ISSUER}/authorize/consent`,
    form({ request_id: field("request_id")!, csrf_token: field("csrf_token")!, ...USER, decision: "allow" }, { Cookie: cookie! }),
  );
  expect(decided.status).toBe(303);
  const location = new URL(decided.headers.get("Location")!);
  expect(location.searchParams.get("iss")).toBe(ISSUER);
  const params = oauth.validateAuthResponse(as, client, location, state);
  return { params, verifier, code: location.searchParams.get("code")! };
}

async function signIn(metadata: Record<string, unknown> = {}) {
  const as = await discover();
  const { client, clientAuth, secret } = await register(as, metadata);
  const { params, verifier } = await authorize(as, client);
  const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, REDIRECT_URI, verifier, {
    ...options,
    additionalParameters: { resource: RESOURCE },
  });
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
  return { as, client, clientAuth, secret, tokens };
}

describe("Worker endpoints in workerd", () => {
  it("serves authorization server metadata (RFC 8414) and the OpenID configuration", async () => {
    const response = await workerFetch(`${ISSUER}/.well-known/oauth-authorization-server`);
    expect(response.status).toBe(200);
    const metadata = (await response.json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      issuer: ISSUER,
      authorization_endpoint: `${ISSUER}/authorize`,
      token_endpoint: `${ISSUER}/token`,
      registration_endpoint: `${ISSUER}/register`,
      code_challenge_methods_supported: ["S256"],
    });
    const oidc = await workerFetch(`${ISSUER}/.well-known/openid-configuration`);
    expect(oidc.status).toBe(200);
    expect(((await oidc.json()) as { issuer: string }).issuer).toBe(ISSUER);
  });

  it("serves protected resource metadata (RFC 9728) at the path-suffixed URL, and leaves the root one to the app (RS-PRM-4)", async () => {
    const response = await workerFetch(`${ISSUER}/.well-known/oauth-protected-resource/mcp`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ resource: RESOURCE, authorization_servers: [ISSUER], scopes_supported: ["mcp:tools"] });
    const root = await workerFetch(`${ISSUER}/.well-known/oauth-protected-resource`);
    expect(root.status).toBe(404);
  });

  it("serves the same signing key from the Durable Object on every request", async () => {
    const first = (await (await workerFetch(`${ISSUER}/jwks.json`)).json()) as { keys: { kid: string; kty: string }[] };
    const second = (await (await workerFetch(`${ISSUER}/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(first.keys).toHaveLength(1);
    expect(first.keys[0]!.kty).toBe("EC");
    expect(second.keys.map((k) => k.kid)).toEqual(first.keys.map((k) => k.kid));
  });

  it("registers clients (RFC 7591) and refuses a bad redirect URI", async () => {
    const as = await discover();
    const { client, secret } = await register(as);
    expect(client.client_id).toBeTypeOf("string");
    expect(secret).toBeTypeOf("string");
    const bad = await workerFetch(`${ISSUER}/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ redirect_uris: ["not a url"] }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^invalid_(redirect_uri|client_metadata)$/);
  });

  it("refuses an authorization request without PKCE before showing the sign-in page, through a page for an openly registered client (AS-AUTHZ-21)", async () => {
    const as = await discover();
    const { client } = await register(as, { token_endpoint_auth_method: "none" });
    const url = new URL(`${ISSUER}/authorize`);
    url.search = new URLSearchParams({ response_type: "code", client_id: client.client_id, redirect_uri: REDIRECT_URI, state: "s" }).toString();
    const response = await workerFetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get("Location")).toBeNull();
    const href = /data-continue href="([^"]*)"/.exec(await response.text())?.[1];
    const location = new URL(href!.replaceAll("&#38;", "&"));
    expect(location.searchParams.get("error")).toBe("invalid_request");
    expect(location.searchParams.get("iss")).toBe(ISSUER);
  });

  it("answers token and introspection errors in RFC form, with no-store", async () => {
    const token = await workerFetch(
      `${ISSUER}/token`,
      form({ grant_type: "authorization_code", code: "nope", code_verifier: "x".repeat(43), client_id: "nobody" }),
    );
    expect([400, 401]).toContain(token.status);
    expect(token.headers.get("Cache-Control")).toBe("no-store");
    expect(((await token.json()) as { error: string }).error).toMatch(/^invalid_(grant|client)$/);
    const unsupported = await workerFetch(`${ISSUER}/token`, form({ grant_type: "password", username: "a", password: "b" }));
    expect(unsupported.status).toBeGreaterThanOrEqual(400);
    const introspect = await workerFetch(`${ISSUER}/introspect`, form({ token: "whatever" }));
    expect(introspect.status).toBe(401);
    expect(((await introspect.json()) as { error: string }).error).toBe("invalid_client");
    expect((await workerFetch(`${ISSUER}/token`)).status).toBe(405);
  });

  it("passes unguarded routes to the app without a token", async () => {
    const home = await workerFetch(`${ISSUER}/`);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain(`${ISSUER}/mcp`);
    expect((await workerFetch(`${ISSUER}/nothing-here`)).status).toBe(404);
  });
});

describe("Bearer challenges on /mcp (RFC 6750, RFC 9728)", () => {
  it("answers 401 with the resource metadata URL when no token is sent", async () => {
    const response = await mcpCall(undefined, { jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(response.status).toBe(401);
    const challenge = response.headers.get("WWW-Authenticate")!;
    expect(challenge).toMatch(/^Bearer /);
    expect(challenge).toContain(`resource_metadata="${ISSUER}/.well-known/oauth-protected-resource/mcp"`);
    expect(challenge).not.toContain("error=");
  });

  it("answers 401 invalid_token for a forged token", async () => {
    const response = await mcpCall("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", { jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
  });

  it("answers 403 insufficient_scope for a token without mcp:tools", async () => {
    const as = await discover();
    const { client, clientAuth } = await register(as);
    const { params, verifier } = await authorize(as, client, "offline_access");
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, REDIRECT_URI, verifier, {
        ...options,
        additionalParameters: { resource: RESOURCE },
      }),
    );
    const response = await mcpCall(tokens.access_token, { jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(response.status).toBe(403);
    expect(response.headers.get("WWW-Authenticate")).toContain('error="insufficient_scope"');
    expect(response.headers.get("WWW-Authenticate")).toContain('scope="mcp:tools"');
  });

  it("answers 403 to a browser origin that is not allowed, and CORS to one that is", async () => {
    const { tokens } = await signIn();
    const foreign = await mcpCall(tokens.access_token, { jsonrpc: "2.0", id: 1, method: "tools/list" }, { Origin: "https://evil.example" });
    expect(foreign.status).toBe(403);
    const preflight = await workerFetch(RESOURCE, { method: "OPTIONS", headers: { Origin: ISSUER, "Access-Control-Request-Method": "POST" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe(ISSUER);
    const own = await mcpCall(tokens.access_token, { jsonrpc: "2.0", id: 1, method: "tools/list" }, { Origin: ISSUER });
    expect(own.status).toBe(200);
    expect(own.headers.get("Access-Control-Allow-Origin")).toBe(ISSUER);
  });
});

describe("Authorization code + PKCE flow in workerd (OAuth 2.1)", () => {
  it("signs in, calls whoami with the token, introspects it, rotates the refresh token and revokes", async () => {
    const { as, client, clientAuth, tokens } = await signIn();
    expect(tokens.token_type.toLowerCase()).toBe("bearer");
    expect(tokens.refresh_token).toBeTypeOf("string");

    const call = await mcpCall(tokens.access_token, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } });
    expect(call.status).toBe(200);
    const result = (await call.json()) as { result: { structuredContent: Record<string, unknown> } };
    expect(result.result.structuredContent).toMatchObject({ username: USER.username, clientId: client.client_id, scopes: ["mcp:tools"] });

    const introspected = (await (await oauth.introspectionRequest(as, client, clientAuth, tokens.access_token, options)).json()) as Record<string, unknown>;
    expect(introspected).toMatchObject({ active: true, client_id: client.client_id, sub: USER.username, aud: RESOURCE });

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, options),
    );
    expect(refreshed.refresh_token).toBeTypeOf("string");
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect((await mcpCall(refreshed.access_token, { jsonrpc: "2.0", id: 2, method: "tools/list" })).status).toBe(200);

    // A retry of the same refresh within the reuse interval gets the same response (issue 6).
    const retried = await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, options);
    expect(((await retried.json()) as { refresh_token: string }).refresh_token).toBe(refreshed.refresh_token);
    // Once its successor is used, the spent token is refused, and presenting it revokes the grant (RFC 9700 §4.14.2).
    const next = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshed.refresh_token!, options),
    );
    const reused = await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, options);
    expect(reused.status).toBe(400);
    expect(((await reused.json()) as { error: string }).error).toBe("invalid_grant");
    const afterReuse = await mcpCall(next.access_token, { jsonrpc: "2.0", id: 3, method: "tools/list" });
    expect(afterReuse.status).toBe(401);
    expect(afterReuse.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
  });

  it("stops accepting the access token once its grant is revoked (RFC 7009)", async () => {
    const { as, client, clientAuth, tokens } = await signIn({ token_endpoint_auth_method: "none" });
    expect((await mcpCall(tokens.access_token, { jsonrpc: "2.0", id: 1, method: "tools/list" })).status).toBe(200);
    const revoked = await oauth.revocationRequest(as, client, clientAuth, tokens.refresh_token!, options);
    expect(revoked.status).toBe(200);
    expect((await mcpCall(tokens.access_token, { jsonrpc: "2.0", id: 1, method: "tools/list" })).status).toBe(401);
  });
});

describe("Race freedom on the Durable Object store", () => {
  it("redeems one authorization code exactly once under 10 concurrent token requests", async () => {
    const as = await discover();
    const { client } = await register(as, { token_endpoint_auth_method: "none" });
    const { code, verifier } = await authorize(as, client);
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        workerFetch(
          `${ISSUER}/token`,
          form({
            grant_type: "authorization_code",
            code,
            code_verifier: verifier,
            client_id: client.client_id,
            redirect_uri: REDIRECT_URI,
            resource: RESOURCE,
          }),
        ),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(9);
    for (const response of responses.filter((r) => r.status === 400)) {
      expect(((await response.json()) as { error: string }).error).toBe("invalid_grant");
    }
  });

  it("rotates one refresh token into one token family under 10 concurrent refresh requests", async () => {
    const { client, tokens } = await signIn({ token_endpoint_auth_method: "none" });
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        workerFetch(`${ISSUER}/token`, form({ grant_type: "refresh_token", refresh_token: tokens.refresh_token!, client_id: client.client_id })),
      ),
    );
    const bodies = await Promise.all(responses.map(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> })));
    // Retries within the reuse interval get the same refresh token with a new access token (issue 6); the rest are refused.
    const winners = bodies.filter((r) => r.status === 200);
    expect(winners.length).toBeGreaterThanOrEqual(1);
    for (const w of winners) expect(w.body.refresh_token).toBe(winners[0]!.body.refresh_token);
    for (const r of bodies.filter((r) => r.status !== 200)) expect(r.body.error).toBe("invalid_grant");
    for (const w of winners) expect((await mcpCall(w.body.access_token!, { jsonrpc: "2.0", id: 1, method: "tools/list" })).status).toBe(200);
  });
});

describe("Outbound fetches from workerd (no DNS resolver there)", () => {
  /** A TCP listener on loopback (IPv4, and IPv6 on the same port where there is one) counting connections. */
  async function connectionRecorder() {
    let connections = 0;
    const handle = (socket: Socket) => {
      connections++;
      socket.on("error", () => {});
      socket.destroy();
    };
    const listen = (server: Server, host: string, port: number) =>
      new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve());
      });
    const servers = [createTcpServer(handle)];
    await listen(servers[0]!, "127.0.0.1", 0);
    const port = (servers[0]!.address() as AddressInfo).port;
    const v6 = createTcpServer(handle);
    await listen(v6, "::1", port).then(
      () => servers.push(v6),
      () => {},
    );
    return { port, connections: () => connections, close: () => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))) };
  }

  it("audit #5, audit #6: refuses a client ID URL and a jwks_uri on https://localhost:<port>, with no connection made", async () => {
    const listener = await connectionRecorder();
    try {
      const url = new URL(`${ISSUER}/authorize`);
      url.search = new URLSearchParams({
        response_type: "code",
        client_id: `https://localhost:${listener.port}/cimd.json`,
        redirect_uri: REDIRECT_URI,
        code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
        code_challenge_method: "S256",
        state: "s",
        resource: RESOURCE,
      }).toString();
      const page = await workerFetch(url);
      expect(page.status).toBe(400);
      expect(page.headers.get("Location")).toBeNull();

      const registered = await workerFetch(`${ISSUER}/register`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          redirect_uris: [REDIRECT_URI],
          grant_types: ["authorization_code"],
          token_endpoint_auth_method: "private_key_jwt",
          jwks_uri: `https://localhost:${listener.port}/jwks.json`,
        }),
      });
      // Registration may refuse such a jwks_uri outright; if it accepts it, client authentication must not fetch it.
      if (registered.status === 201) {
        const { client_id } = (await registered.json()) as { client_id: string };
        const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
        const now = Math.floor(Date.now() / 1000);
        const assertion = `${b64({ alg: "ES256", kid: "k1" })}.${b64({ iss: client_id, sub: client_id, aud: ISSUER, iat: now, exp: now + 60, jti: crypto.randomUUID() })}.c2ln`;
        const token = await workerFetch(
          `${ISSUER}/token`,
          form({
            grant_type: "authorization_code",
            code: "x",
            code_verifier: "v".repeat(43),
            redirect_uri: REDIRECT_URI,
            client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            client_assertion: assertion,
          }),
        );
        expect(token.status).toBe(401);
        expect(((await token.json()) as { error: string }).error).toBe("invalid_client");
      } else {
        expect(registered.status).toBe(400);
      }
      expect(listener.connections()).toBe(0);
    } finally {
      await listener.close();
    }
  });
});
