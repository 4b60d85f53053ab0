import { decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { createTestServer, ISSUER, obtainTokens, RESOURCE, resourceRequest } from "../../test/helpers.js";
import { createAuthorizationServer } from "../server.js";
import { createMemoryStore } from "../storage/memory.js";
import { jwtTokenVerifier } from "../resource/jwt-verifier.js";

describe("signingAlgorithm: the algorithm of the keys the server creates", () => {
  it("signs with ES256 by default and publishes it", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    expect(decodeProtectedHeader(body.access_token!).alg).toBe("ES256");
    const jwks = await t.server.keys.jwks();
    expect(jwks.keys.map((k) => [k.alg, k.kty, k.crv])).toEqual([["ES256", "EC", "P-256"]]);
  });

  it("with EdDSA, signs Ed25519 tokens that its guard and a separate resource server accept, and names it in the OIDC metadata", async () => {
    const t = createTestServer({ signingAlgorithm: "EdDSA" });
    const { body } = await obtainTokens(t.fetch);
    const header = decodeProtectedHeader(body.access_token!);
    expect(header.alg).toBe("EdDSA");
    const metadata = (await (await t.fetch(`${ISSUER}/.well-known/oauth-authorization-server`)).json()) as { jwks_uri: string };
    const jwks = (await (await t.fetch(metadata.jwks_uri)).json()) as { keys: Array<Record<string, string>> };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kid: header.kid, alg: "EdDSA", kty: "OKP", crv: "Ed25519", use: "sig" });
    expect(jwks.keys[0]!.d).toBeUndefined();
    expect(await t.guard.authenticate(resourceRequest(body.access_token))).not.toBeInstanceOf(Response);
    const separate = jwtTokenVerifier({ issuer: ISSUER, jwks: async () => jwks });
    expect((await separate.verifyAccessToken(body.access_token!, { resource: RESOURCE })).clientId).toBe("pub");
    // A resource server that accepts ES256 alone refuses it: the option is for ecosystems that verify EdDSA.
    const es256Only = jwtTokenVerifier({ issuer: ISSUER, jwks: async () => jwks, algorithms: ["ES256"] });
    expect(await es256Only.checkAccessToken(body.access_token!, { resource: RESOURCE })).toMatchObject({ code: "invalid_token" });
    const oidc = (await (await t.fetch(`${ISSUER}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(oidc.id_token_signing_alg_values_supported).toEqual(["EdDSA"]);
  });

  it("applies to keys created from then on: a stored ES256 key signs until a rotation, then both are published", async () => {
    const storage = createMemoryStore();
    const first = createTestServer({ storage });
    await obtainTokens(first.fetch);
    const switched = createTestServer({ storage, signingAlgorithm: "EdDSA" });
    const before = await obtainTokens(switched.fetch);
    expect(decodeProtectedHeader(before.body.access_token!).alg).toBe("ES256");
    await switched.server.keys.rotate();
    const after = await obtainTokens(switched.fetch);
    expect(decodeProtectedHeader(after.body.access_token!).alg).toBe("EdDSA");
    expect((await switched.server.keys.list()).map((k) => [k.alg, k.status])).toEqual([
      ["ES256", "previous"],
      ["EdDSA", "current"],
    ]);
    for (const token of [before.body.access_token, after.body.access_token]) {
      expect(await switched.guard.authenticate(resourceRequest(token))).not.toBeInstanceOf(Response);
    }
  });

  it("refuses another algorithm at construction, naming the option", () => {
    const make = (alg: string) => () =>
      createAuthorizationServer({
        issuer: ISSUER,
        resource: RESOURCE,
        scopes: { "mcp:tools": "x" },
        storage: createMemoryStore(),
        signingAlgorithm: alg as "EdDSA",
      });
    expect(make("RS256")).toThrow(/signingAlgorithm/);
    expect(make("HS256")).toThrow(/signingAlgorithm/);
  });
});
