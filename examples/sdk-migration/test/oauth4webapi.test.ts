import { fileURLToPath } from "node:url";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callWhoami, E2E_USER, startExample, type RunningExample } from "@portcullis/example-shared/testing";

/**
 * A strict standards client (oauth4webapi: RFC 8414 issuer check, RFC 9207 `iss`, PKCE, RFC 9068
 * access tokens) against the running example over real HTTP, as far as the MCP SDK's own
 * `requireBearerAuth` on /mcp.
 */
const REDIRECT_URI = "http://127.0.0.1:1/callback";
const noRedirects = (input: string | URL | Request, init: RequestInit = {}) => fetch(input, { ...init, redirect: "manual" });
const options = { [oauth.customFetch]: noRedirects, [oauth.allowInsecureRequests]: true } as const;

describe("A strict OAuth client end to end: examples/sdk-migration", () => {
  let example: RunningExample;
  let resource: string;
  beforeAll(async () => {
    example = await startExample(fileURLToPath(new URL("..", import.meta.url)));
    resource = `${example.url}/mcp`;
  }, 90_000);
  afterAll(async () => {
    await example?.stop();
  });

  /** From the MCP URL alone: the SDK's 401 challenge, the protected resource metadata, then RFC 8414 discovery. */
  async function discover() {
    const challenge = await noRedirects(resource, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(challenge.status).toBe(401);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge.headers.get("WWW-Authenticate") ?? "")?.[1];
    expect(metadataUrl).toBe(`${example.url}/.well-known/oauth-protected-resource/mcp`);
    const prm = (await (await fetch(metadataUrl!)).json()) as { resource: string; authorization_servers: string[] };
    expect(prm.resource).toBe(resource);
    const issuer = new URL(prm.authorization_servers[0]!);
    return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, options));
  }

  async function signIn(as: oauth.AuthorizationServer, client: oauth.Client) {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: client.client_id,
      redirect_uri: REDIRECT_URI,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      scope: "mcp:tools",
      state,
      resource,
    }).toString();
    const page = await noRedirects(url);
    expect(page.status).toBe(200);
    const html = await page.text();
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
    const decided = await noRedirects(`${example.url}/authorize/consent`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: page.headers.get("Set-Cookie")?.split(";")[0] ?? "" },
      body: new URLSearchParams({ request_id: field("request_id"), csrf_token: field("csrf_token"), ...E2E_USER, decision: "allow" }),
    });
    // validateAuthResponse checks state and, as the metadata advertises it, the RFC 9207 iss.
    return { params: oauth.validateAuthResponse(as, client, new URL(decided.headers.get("Location")!), state), verifier };
  }

  it("discovers, registers, signs in, verifies the RFC 9068 token, calls whoami, rotates the refresh token and is refused after revocation", async () => {
    const as = await discover();
    expect(as.issuer).toBe(example.url);
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        { redirect_uris: [REDIRECT_URI], grant_types: ["authorization_code", "refresh_token"], token_endpoint_auth_method: "none" },
        options,
      ),
    );
    const client: oauth.Client = { client_id: registered.client_id, token_endpoint_auth_method: "none" };
    const auth = oauth.None();

    const { params, verifier } = await signIn(as, client);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, auth, params, REDIRECT_URI, verifier, { ...options, additionalParameters: { resource } }),
    );
    expect(tokens.token_type).toBe("bearer");

    // A resource server's own strict check of the access token: typ at+jwt, iss, aud, signature.
    const claims = await oauth.validateJwtAccessToken(
      as,
      new Request(resource, { headers: { Authorization: `Bearer ${tokens.access_token}` } }),
      resource,
      options,
    );
    expect(claims).toMatchObject({ iss: example.url, aud: resource, client_id: client.client_id, sub: E2E_USER.username });

    const who = await callWhoami(example.url, tokens.access_token);
    expect(who.status).toBe(200);
    expect(who.body?.result?.structuredContent).toMatchObject({ username: E2E_USER.username, clientId: client.client_id, scopes: ["mcp:tools"] });

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, options),
    );
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect((await callWhoami(example.url, refreshed.access_token)).status).toBe(200);

    const revoked = await oauth.revocationRequest(as, client, auth, refreshed.refresh_token!, options);
    await oauth.processRevocationResponse(revoked);
    const refused = await callWhoami(example.url, refreshed.access_token);
    expect(refused.status).toBe(401);
  });
});
