import * as oauth from "oauth4webapi";
import { describe, expect, it } from "vitest";
import { createTestServer, ISSUER, readConsentPage, RESOURCE, USER, viaServer } from "../helpers.js";

/** One whole flow as a standards client sees it, driven by oauth4webapi with no network. */
async function signInWithOauth4webapi(registration: Partial<oauth.OmitSymbolProperties<oauth.Client>>) {
  const t = createTestServer();
  const opts = viaServer(t.fetch);
  const issuer = new URL(ISSUER);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, opts));
  const registered = await oauth.processDynamicClientRegistrationResponse(await oauth.dynamicClientRegistrationRequest(as, registration, opts));
  const client: oauth.Client = { client_id: registered.client_id, token_endpoint_auth_method: registered.token_endpoint_auth_method as string };
  const clientAuth = registered.client_secret ? oauth.ClientSecretBasic(registered.client_secret as string) : oauth.None();
  const redirectUri = (registration.redirect_uris as string[])[0]!.replace("127.0.0.1/", "127.0.0.1:53123/");
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: redirectUri,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    scope: "mcp:tools",
    state,
    resource: RESOURCE,
  }).toString();
  const page = await t.fetch(url);
  expect(page.status).toBe(200);
  const { requestId, csrf, cookie } = await readConsentPage(page);
  const decided = await t.fetch(`${ISSUER}/authorize/consent`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie },
    body: new URLSearchParams({ request_id: requestId, csrf_token: csrf, username: USER.username, password: USER.password, decision: "allow" }),
  });
  expect(decided.status).toBe(303);
  const params = oauth.validateAuthResponse(as, client, new URL(decided.headers.get("Location")!), state);
  const tokenResponse = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, verifier, {
    ...opts,
    additionalParameters: { resource: RESOURCE },
  });
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, tokenResponse);
  return { t, as, client, clientAuth, tokens, opts };
}

describe("End-to-end flows with oauth4webapi (OAuth 2.1, RFC 8414, RFC 7591, RFC 9068)", () => {
  it("discovers, registers a public native client, signs in with PKCE and gets an RFC 9068 token (AS-MD-1, AS-DCR-1, AS-JWT-1)", async () => {
    const { t, as, tokens, opts } = await signInWithOauth4webapi({
      redirect_uris: ["http://127.0.0.1/callback"],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      client_name: "oauth4webapi test",
      application_type: "native",
    });
    expect(tokens.token_type.toLowerCase()).toBe("bearer");
    expect(tokens.scope).toBe("mcp:tools");
    expect(tokens.refresh_token).toBeTypeOf("string");
    const request = new Request(RESOURCE, { headers: { Authorization: `Bearer ${tokens.access_token}` } });
    const claims = await oauth.validateJwtAccessToken(as, request, RESOURCE, opts);
    expect(claims.sub).toBe("alice");
    expect(claims.iss).toBe(ISSUER);
    expect(claims.aud).toBe(RESOURCE);
    expect(claims.scope).toBe("mcp:tools");
    const auth = await t.guard.authenticate(request);
    expect(auth).not.toBeInstanceOf(Response);
    expect(auth).toMatchObject({ scopes: ["mcp:tools"], extra: { sub: "alice", preferred_username: "alice" } });
  });

  it("signs in a confidential client with client_secret_basic, then refreshes with rotation (AS-TOKEN-9, AS-RT-1)", async () => {
    const { as, client, clientAuth, tokens, opts } = await signInWithOauth4webapi({
      redirect_uris: ["http://127.0.0.1/callback"],
      grant_types: ["authorization_code", "refresh_token"],
      client_name: "confidential",
    });
    expect(client.token_endpoint_auth_method).toBe("client_secret_basic");
    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, opts),
    );
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    const again = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshed.refresh_token!, opts),
    );
    // The first token's successor has been used, so presenting it is reuse, not a retry.
    await expect(
      oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, opts)),
    ).rejects.toMatchObject({ error: "invalid_grant" });
    // Reuse of the rotated-out token revoked the grant: the newest refresh token is dead too.
    await expect(
      oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, clientAuth, again.refresh_token!, opts)),
    ).rejects.toMatchObject({ error: "invalid_grant" });
  });

  it("introspects and revokes through oauth4webapi (AS-INTRO-2, AS-REV-5)", async () => {
    const { t, as, client, clientAuth, tokens, opts } = await signInWithOauth4webapi({
      redirect_uris: ["http://127.0.0.1/callback"],
      grant_types: ["authorization_code", "refresh_token"],
    });
    const active = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, clientAuth, tokens.access_token, opts));
    expect(active).toMatchObject({ active: true, client_id: client.client_id, sub: "alice", aud: RESOURCE, iss: ISSUER });
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, clientAuth, tokens.refresh_token!, opts));
    const inactive = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, clientAuth, tokens.access_token, opts));
    expect(inactive).toEqual({ active: false });
    const denied = await t.guard.authenticate(new Request(RESOURCE, { headers: { Authorization: `Bearer ${tokens.access_token}` } }));
    expect(denied).toBeInstanceOf(Response);
    expect((denied as Response).status).toBe(401);
  });
});
