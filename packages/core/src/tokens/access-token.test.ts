import { describe, expect, it } from "vitest";
import { createClockedServer, decodeJWT, ISSUER, obtainTokens, RESOURCE } from "../../test/helpers.js";

describe("JWT access tokens as issued (RFC 9068 §2)", () => {
  it("has typ at+jwt, an asymmetric alg and a kid that resolves through jwks_uri (AS-JWT-1)", async () => {
    const t = createClockedServer();
    const { body } = await obtainTokens(t.fetch);
    const { header } = decodeJWT(body.access_token!);
    expect(header.typ).toBe("at+jwt");
    expect(header.alg).toBe("ES256");
    const metadata = (await (await t.fetch(`${ISSUER}/.well-known/oauth-authorization-server`)).json()) as { jwks_uri: string };
    const jwks = (await (await t.fetch(metadata.jwks_uri)).json()) as { keys: { kid: string; alg: string }[] };
    expect(jwks.keys.find((k) => k.kid === header.kid)).toMatchObject({ alg: "ES256" });
  });

  it("carries iss, exp, aud, sub, client_id, iat, jti and scope with the configured lifetime (AS-JWT-1)", async () => {
    const t = createClockedServer({ accessTokenTtlSeconds: 900 });
    const { body } = await obtainTokens(t.fetch, { scope: "mcp:tools files:read" });
    const { payload } = decodeJWT(body.access_token!);
    const now = Math.floor(t.clock.now() / 1000);
    expect(payload).toMatchObject({
      iss: ISSUER,
      aud: RESOURCE,
      sub: "alice",
      client_id: "pub",
      scope: "mcp:tools files:read",
      iat: now,
      exp: now + 900,
      preferred_username: "alice",
    });
    expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(body.expires_in).toBe(900);
  });

  it("leaves scope out when no scope was granted, and gives each token its own jti", async () => {
    const t = createClockedServer();
    const first = decodeJWT((await obtainTokens(t.fetch, { scope: undefined })).body.access_token!).payload;
    const second = decodeJWT((await obtainTokens(t.fetch, { scope: undefined })).body.access_token!).payload;
    expect(first).not.toHaveProperty("scope");
    expect(first.jti).not.toBe(second.jti);
  });
});
