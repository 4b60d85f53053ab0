import { describe, expect, it } from "vitest";
import {
  basic,
  CONF_SECRET,
  createClockedServer,
  createTestServer,
  decodeJWT,
  expectTokenError,
  form,
  ISSUER,
  obtainConfidentialTokens,
  obtainTokens,
  RESOURCE,
  TEST_CLIENTS,
  type Fetch,
} from "../../test/helpers.js";

const INTROSPECT = `${ISSUER}/introspect`;

function introspect(fetch: Fetch, token: string, auth: Record<string, string> = { Authorization: basic("conf", CONF_SECRET) }) {
  return fetch(INTROSPECT, form({ token }, auth));
}

describe("Token introspection (RFC 7662)", () => {
  it("refuses an unauthenticated caller, and a public client, with 401 invalid_client (AS-INTRO-1)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    await expectTokenError(await introspect(t.fetch, body.access_token!, {}), "invalid_client", 401);
    await expectTokenError(await t.fetch(INTROSPECT, form({ token: body.access_token!, client_id: "pub" })), "invalid_client", 401);
    await expectTokenError(await introspect(t.fetch, body.access_token!, { Authorization: basic("conf", "wrong") }), "invalid_client", 401);
  });

  it("describes an active access token: aud is the resource and exp the issued expiry (AS-INTRO-2)", async () => {
    const t = createClockedServer();
    const tokens = await obtainConfidentialTokens(t.fetch, { scope: "mcp:tools files:read" });
    const response = await introspect(t.fetch, tokens.access_token!);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    const nowSeconds = Math.floor(t.clock.now() / 1000);
    expect(body).toMatchObject({
      active: true,
      client_id: "conf",
      sub: "alice",
      iss: ISSUER,
      aud: RESOURCE,
      scope: "mcp:tools files:read",
      token_type: "Bearer",
      iat: nowSeconds,
      exp: nowSeconds + 3600,
    });
    expect(body.exp).toBe(decodeJWT(tokens.access_token!).payload.exp);
  });

  it("describes an active refresh token", async () => {
    const t = createTestServer();
    const tokens = await obtainConfidentialTokens(t.fetch);
    const body = (await (await introspect(t.fetch, tokens.refresh_token!)).json()) as Record<string, unknown>;
    expect(body).toMatchObject({ active: true, client_id: "conf", token_type: "refresh_token", scope: "mcp:tools", aud: RESOURCE });
  });

  it("answers exactly {active:false} for garbage, expired and revoked tokens (AS-INTRO-3)", async () => {
    const t = createClockedServer();
    const tokens = await obtainConfidentialTokens(t.fetch);
    for (const token of ["garbage", "a.b.c", "x".repeat(10_000)]) {
      expect(await (await introspect(t.fetch, token)).json()).toEqual({ active: false });
    }
    t.clock.advance(3600 + 31);
    expect(await (await introspect(t.fetch, tokens.access_token!)).json()).toEqual({ active: false });
    expect(await (await introspect(t.fetch, tokens.refresh_token!)).json()).toMatchObject({ active: true });
    await t.fetch(`${ISSUER}/revoke`, form({ token: tokens.refresh_token! }, { Authorization: basic("conf", CONF_SECRET) }));
    expect(await (await introspect(t.fetch, tokens.refresh_token!)).json()).toEqual({ active: false });
  });

  it("answers {active:false} to a caller asking about another client's token (AS-INTRO-4)", async () => {
    const t = createTestServer({
      clients: [...TEST_CLIENTS, { client_id: "rs-b", client_secret: "another-secret-value", redirect_uris: ["https://b.test/cb"] }],
    });
    const { body } = await obtainTokens(t.fetch);
    const tokens = await obtainConfidentialTokens(t.fetch);
    for (const token of [body.access_token!, tokens.access_token!]) {
      expect(await (await introspect(t.fetch, token, { Authorization: basic("rs-b", "another-secret-value") })).json()).toEqual({ active: false });
    }
  });

  it("sends Cache-Control: no-store on active and inactive answers (AS-INTRO-5, X-ERR-1)", async () => {
    const t = createTestServer();
    const tokens = await obtainConfidentialTokens(t.fetch);
    for (const token of [tokens.access_token!, "garbage"]) {
      expect((await introspect(t.fetch, token)).headers.get("Cache-Control")).toBe("no-store");
    }
  });

  it("refuses a missing token with invalid_request, and GET with 405", async () => {
    const t = createTestServer();
    await expectTokenError(await t.fetch(INTROSPECT, form({}, { Authorization: basic("conf", CONF_SECRET) })), "invalid_request");
    expect((await t.fetch(INTROSPECT)).status).toBe(405);
  });

  it("has no CORS: it is a server-to-server endpoint", async () => {
    const t = createTestServer();
    const preflight = await t.fetch(INTROSPECT, { method: "OPTIONS", headers: { Origin: "https://app.test", "Access-Control-Request-Method": "POST" } });
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBeNull();
    const response = await introspect(t.fetch, "x", { Authorization: basic("conf", CONF_SECRET), Origin: "https://app.test" });
    expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});
