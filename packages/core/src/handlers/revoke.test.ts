import { describe, expect, it } from "vitest";
import {
  basic,
  CONF_SECRET,
  createTestServer,
  expectTokenError,
  form,
  ISSUER,
  obtainConfidentialTokens,
  obtainTokens,
  resourceRequest,
  tokenRequest,
  type Fetch,
} from "../../test/helpers.js";

const REVOKE = `${ISSUER}/revoke`;

function revoke(fetch: Fetch, body: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(REVOKE, form(body, headers));
}

async function isActive(t: ReturnType<typeof createTestServer>, accessToken: string) {
  return !((await t.guard.authenticate(resourceRequest(accessToken))) instanceof Response);
}

describe("Token revocation (RFC 7009)", () => {
  it("answers 200 with an empty body for an unknown, malformed or already-revoked token (AS-REV-1)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    for (const token of ["garbage", "a.b.c", body.refresh_token!, body.refresh_token!, "x".repeat(9000)]) {
      const response = await revoke(t.fetch, { token, client_id: "pub" });
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("");
    }
    const confidential = await revoke(t.fetch, { token: "garbage" }, { Authorization: basic("conf", CONF_SECRET) });
    expect(confidential.status).toBe(200);
  });

  it("authenticates clients as the token endpoint does: a bad secret is 401 invalid_client (AS-REV-2)", async () => {
    const t = createTestServer();
    const tokens = await obtainConfidentialTokens(t.fetch);
    const response = await revoke(t.fetch, { token: tokens.access_token! }, { Authorization: basic("conf", "wrong-wrong-wrong-wrong") });
    expect(response.headers.get("WWW-Authenticate")).toMatch(/^Basic /);
    await expectTokenError(response, "invalid_client", 401);
    await expectTokenError(await revoke(t.fetch, { token: tokens.access_token!, client_id: "conf" }), "invalid_client", 401);
    expect(await isActive(t, tokens.access_token!)).toBe(true);
  });

  it("refuses a missing or empty token with 400 invalid_request (AS-REV-2, B33)", async () => {
    const t = createTestServer();
    await expectTokenError(await revoke(t.fetch, { client_id: "pub" }), "invalid_request");
    await expectTokenError(await revoke(t.fetch, { client_id: "pub", token: "" }), "invalid_request");
  });

  it("refuses a 1 MB token with 413 (B33)", async () => {
    const t = createTestServer();
    await expectTokenError(await revoke(t.fetch, { client_id: "pub", token: "x".repeat(1024 * 1024) }), "invalid_request", 413);
  });

  it("silently ignores another client's token: 200, and the token stays active (AS-REV-3)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    for (const token of [body.access_token!, body.refresh_token!]) {
      expect((await revoke(t.fetch, { token, client_id: "pub2" })).status).toBe(200);
    }
    expect(await isActive(t, body.access_token!)).toBe(true);
    expect((await tokenRequest(t.fetch, { grant_type: "refresh_token", refresh_token: body.refresh_token!, client_id: "pub" })).status).toBe(200);
  });

  it("ignores an unknown token_type_hint and still revokes (AS-REV-4)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    expect((await revoke(t.fetch, { token: body.refresh_token!, token_type_hint: "foo", client_id: "pub" })).status).toBe(200);
    const refreshed = await tokenRequest(t.fetch, { grant_type: "refresh_token", refresh_token: body.refresh_token!, client_id: "pub" });
    await expectTokenError(refreshed, "invalid_grant");
  });

  it("revokes the grant's access tokens with its refresh token (AS-REV-5)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    expect(await isActive(t, body.access_token!)).toBe(true);
    expect((await revoke(t.fetch, { token: body.refresh_token!, token_type_hint: "refresh_token", client_id: "pub" })).status).toBe(200);
    expect(await isActive(t, body.access_token!)).toBe(false);
    expect(t.events).toContainEqual(expect.objectContaining({ type: "grant.revoked", reason: "revoked_by_client" }));
  });

  it("revokes the refresh token with its access token (AS-REV-5)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    expect((await revoke(t.fetch, { token: body.access_token!, client_id: "pub" })).status).toBe(200);
    expect(await isActive(t, body.access_token!)).toBe(false);
    await expectTokenError(await tokenRequest(t.fetch, { grant_type: "refresh_token", refresh_token: body.refresh_token!, client_id: "pub" }), "invalid_grant");
  });

  it("answers GET with 405, and a form-less POST with invalid_request (AS-REV-6)", async () => {
    const t = createTestServer();
    const get = await t.fetch(`${REVOKE}?token=x&client_id=pub`);
    expect(get.status).toBe(405);
    expect(get.headers.get("Allow")).toBe("POST");
    await expectTokenError(
      await t.fetch(REVOKE, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"token":"x"}' }),
      "invalid_request",
    );
  });

  it("answers a CORS preflight and carries ACAO * without credentials (X-CORS-2)", async () => {
    const t = createTestServer();
    const preflight = await t.fetch(REVOKE, { method: "OPTIONS", headers: { Origin: "https://app.test", "Access-Control-Request-Method": "POST" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe("*");
    const response = await revoke(t.fetch, { token: "x", client_id: "pub" }, { Origin: "https://app.test" });
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(response.headers.get("Access-Control-Allow-Credentials")).toBeNull();
  });
});
