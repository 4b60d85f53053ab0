import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { basic, CONF_SECRET, createTestServer, ISSUER, obtainCode, RESOURCE, tokenRequest } from "../test/helpers.js";
import { OAuthError, type ReasonCode } from "./errors.js";
import { createJWTVerifier } from "./resource/jwt-verifier.js";

describe("Internal reasons: stable codes mapped once to RFC errors", () => {
  it("maps each reason to its RFC error and status, keeping the reason and cause off the wire", async () => {
    const cases: [ReasonCode, string, number][] = [
      ["secret_mismatch", "invalid_client", 401],
      ["pkce_mismatch", "invalid_grant", 400],
      ["machine_client_not_approved", "unauthorized_client", 400],
      ["cimd_url_invalid", "invalid_client", 400],
      ["token_expired", "invalid_token", 401],
      ["rate_limited", "temporarily_unavailable", 429],
    ];
    for (const [reason, error, status] of cases) {
      const refusal = OAuthError.because(reason, "refused", { cause: new Error("detail at /secret/path.ts:1:1") });
      expect({ code: refusal.code, status: refusal.status, reason: refusal.reason }, reason).toEqual({ code: error, status, reason });
      expect(refusal.cause).toBeInstanceOf(Error);
      const response = refusal.toResponse();
      expect(response.status).toBe(status);
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      const text = await response.text();
      expect(text).not.toContain(reason);
      expect(text).not.toContain("secret");
    }
  });

  it("lets a site answer another status than the mapping's (the authorization endpoint's 400 page)", () => {
    expect(OAuthError.because("client_unknown", "unknown client", { status: 400 })).toMatchObject({
      code: "invalid_client",
      status: 400,
      reason: "client_unknown",
    });
  });

  it("reports the reason of a refused token request to onError and in the client_auth.failed event", async () => {
    const reasons: unknown[] = [];
    const t = createTestServer({ onError: (_error, context) => reasons.push(context.reason) });
    const { code, verifier } = await obtainCode(t.fetch, { client_id: "conf", redirect_uri: "https://app.test/cb" });
    const wrongSecret = await tokenRequest(
      t.fetch,
      { grant_type: "authorization_code", code, code_verifier: verifier },
      { Authorization: basic("conf", "wrong-secret") },
    );
    expect(wrongSecret.status).toBe(401);
    expect(await wrongSecret.json()).toEqual({ error: "invalid_client", error_description: "client authentication failed" });
    expect(t.events).toContainEqual({ type: "client_auth.failed", clientId: undefined, reason: "secret_mismatch" });
    const wrongVerifier = await tokenRequest(
      t.fetch,
      { grant_type: "authorization_code", code, code_verifier: "x".repeat(43) },
      { Authorization: basic("conf", CONF_SECRET) },
    );
    expect(wrongVerifier.status).toBe(400);
    expect(reasons).toEqual(["secret_mismatch", "pkce_mismatch"]);
  });
});

describe("Access token reasons (jose's verdicts as stable codes)", () => {
  async function setup() {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const other = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
    const verifier = createJWTVerifier({ issuer: ISSUER, jwks: async () => ({ keys: [jwk] }) });
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, sub: "alice", aud: RESOURCE, iat: now, exp: now + 300, jti: "j", client_id: "pub", scope: "mcp:tools" };
    const sign = (changes: Record<string, unknown> = {}, options: { kid?: string; key?: CryptoKey } = {}) =>
      new SignJWT({ ...claims, ...changes }).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: options.kid ?? "k1" }).sign(options.key ?? privateKey);
    const reasonOf = async (token: string) => {
      const result = await verifier.check(token, RESOURCE);
      return result instanceof OAuthError ? { code: result.code, reason: result.reason } : "accepted";
    };
    return { sign, reasonOf, otherKey: other.privateKey };
  }

  it("names why a token was refused: expired, not yet valid, signature, key, issuer, audience, claims, form (RS-TOK-2, RS-TOK-4)", async () => {
    const { sign, reasonOf, otherKey } = await setup();
    const now = Math.floor(Date.now() / 1000);
    expect(await reasonOf(await sign())).toBe("accepted");
    const refused = (reason: ReasonCode) => ({ code: "invalid_token", reason });
    expect(await reasonOf(await sign({ iat: now - 7200, exp: now - 3600 }))).toEqual(refused("token_expired"));
    expect(await reasonOf(await sign({ nbf: now + 3600 }))).toEqual(refused("token_not_yet_valid"));
    expect(await reasonOf(await sign({}, { key: otherKey }))).toEqual(refused("signature_invalid"));
    expect(await reasonOf(await sign({}, { kid: "k2" }))).toEqual(refused("key_unknown"));
    expect(await reasonOf(await sign({ iss: "https://other.test" }))).toEqual(refused("issuer_mismatch"));
    expect(await reasonOf(await sign({ aud: "https://other.test/mcp" }))).toEqual(refused("audience_mismatch"));
    expect(await reasonOf(await sign({ client_id: 7 }))).toEqual(refused("claims_invalid"));
    expect(await reasonOf("not.a.jwt")).toEqual(refused("token_malformed"));
  });
});
