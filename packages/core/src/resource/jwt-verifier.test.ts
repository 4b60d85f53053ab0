import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createClock, createTestServer, decodeJWT, ISSUER, obtainTokens, parseChallenge, resourceRequest, RESOURCE } from "../../test/helpers.js";
import { createMemoryStore } from "../storage/memory.js";
import { createResourceGuard } from "./guard.js";
import { jwtTokenVerifier } from "./jwt-verifier.js";

const b64 = (value: unknown) => btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

/**
 * A server with a real token, and a signer holding the server's own private key, so each test
 * changes exactly one thing about an otherwise valid token.
 */
async function forgery() {
  const clock = createClock();
  const storage = createMemoryStore({ now: clock.now });
  const t = createTestServer({ now: clock.now, storage });
  const { body } = await obtainTokens(t.fetch, { scope: "mcp:tools" });
  const [stored] = (await storage.get<{ keys: { kid: string; privateJwk: JWK; publicJwk: JWK }[] }>("keys:set:000000000001"))!.keys;
  const key = await importJWK(stored!.privateJwk, "ES256");
  const valid = decodeJWT(body.access_token!).payload;
  const now = Math.floor(clock.now() / 1000);
  const sign = (payload: Record<string, unknown>, header: Record<string, unknown> = {}, signingKey: CryptoKey | Uint8Array = key as CryptoKey) =>
    new SignJWT(payload).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: stored!.kid, ...header }).sign(signingKey);
  /** Signs without jose's header checks, for headers jose refuses to produce (an unknown `crit`). */
  const signRaw = async (header: Record<string, unknown>, payload: Record<string, unknown>) => {
    const input = `${b64({ alg: "ES256", typ: "at+jwt", kid: stored!.kid, ...header })}.${b64(payload)}`;
    const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key as CryptoKey, new TextEncoder().encode(input));
    return `${input}.${btoa(String.fromCharCode(...new Uint8Array(signature)))
      .replaceAll("+", "-")
      .replaceAll("/", "_")
      .replace(/=+$/, "")}`;
  };
  /** The status and challenge error the guard answers for a token. */
  const check = async (token: string) => {
    const result = await t.guard.authenticate(resourceRequest(token));
    if (!(result instanceof Response)) return { status: 200, error: undefined };
    return { status: result.status, error: parseChallenge(result.headers.get("WWW-Authenticate")).params.error };
  };
  const without = (name: string) => Object.fromEntries(Object.entries(valid).filter(([k]) => k !== name));
  return { t, clock, now, valid, sign, signRaw, check, without, kid: stored!.kid, publicJwk: stored!.publicJwk, accessToken: body.access_token! };
}

const REJECTED = { status: 401, error: "invalid_token" };
const ACCEPTED = { status: 200, error: undefined };

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("JWT access token validation (RFC 9068 §4)", () => {
  it("accepts the issued token and an identical re-signed copy (the baseline every mutation breaks)", async () => {
    const f = await forgery();
    expect(await f.check(f.accessToken)).toEqual(ACCEPTED);
    expect(await f.check(await f.sign(f.valid))).toEqual(ACCEPTED);
    expect(await f.check(await f.sign(f.valid, { typ: "application/at+jwt" }))).toEqual(ACCEPTED);
  });

  it("refuses typ JWT and a missing typ (RS-TOK-2)", async () => {
    const f = await forgery();
    expect(await f.check(await f.sign(f.valid, { typ: "JWT" }))).toEqual(REJECTED);
    expect(await f.check(await f.sign(f.valid, { typ: undefined }))).toEqual(REJECTED);
  });

  it("refuses alg none, and HS256 keyed with the public key (RS-TOK-2)", async () => {
    const f = await forgery();
    expect(await f.check(`${b64({ alg: "none", typ: "at+jwt" })}.${b64(f.valid)}.`)).toEqual(REJECTED);
    const hmacKey = new TextEncoder().encode(JSON.stringify(f.publicJwk));
    const hs = await new SignJWT(f.valid).setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: f.kid }).sign(hmacKey);
    expect(await f.check(hs)).toEqual(REJECTED);
  });

  it("refuses a wrong kid, and another key using the right kid (RS-TOK-2)", async () => {
    const f = await forgery();
    const other = await generateKeyPair("ES256");
    expect(await f.check(await f.sign(f.valid, { kid: "nope" }, other.privateKey))).toEqual(REJECTED);
    expect(await f.check(await f.sign(f.valid, {}, other.privateKey))).toEqual(REJECTED);
  });

  it("refuses a foreign issuer, even signed with a trusted key (RS-TOK-2, RS-TOK-4)", async () => {
    const f = await forgery();
    expect(await f.check(await f.sign({ ...f.valid, iss: "https://evil.test" }))).toEqual(REJECTED);
    expect(await f.check(await f.sign({ ...f.valid, iss: `${ISSUER}/` }))).toEqual(REJECTED);
  });

  it("refuses an exp past the 30 s tolerance, and accepts one within it (RS-TOK-2)", async () => {
    const f = await forgery();
    expect(await f.check(await f.sign({ ...f.valid, exp: f.now - 31 }))).toEqual(REJECTED);
    expect(await f.check(await f.sign({ ...f.valid, exp: f.now - 10 }))).toEqual(ACCEPTED);
  });

  it("refuses an iat in the future by more than the skew (RS-TOK-2)", async () => {
    const f = await forgery();
    expect(await f.check(await f.sign({ ...f.valid, iat: f.now + 600 }))).toEqual(REJECTED);
    expect(await f.check(await f.sign({ ...f.valid, iat: f.now + 10 }))).toEqual(ACCEPTED);
  });

  it.each(["iss", "sub", "aud", "exp", "iat", "jti", "client_id"])("refuses a token without %s (RS-TOK-2)", async (claim) => {
    const f = await forgery();
    expect(await f.check(await f.sign(f.without(claim)))).toEqual(REJECTED);
  });

  it("refuses a signed token whose scope or client_id is not a string, instead of failing with a 500", async () => {
    const f = await forgery();
    expect(await f.check(await f.sign({ ...f.valid, scope: ["mcp:tools"] }))).toEqual(REJECTED);
    expect(await f.check(await f.sign({ ...f.valid, scope: 7 }))).toEqual(REJECTED);
    expect(await f.check(await f.sign({ ...f.valid, client_id: 7 }))).toEqual(REJECTED);
  });

  it("refuses a signed token whose grant is unknown or revoked", async () => {
    const f = await forgery();
    expect(await f.check(await f.sign({ ...f.valid, gid: "nope" }))).toEqual(REJECTED);
    expect(await f.check(await f.sign(f.without("gid")))).toEqual(REJECTED);
  });

  it("refuses exp as a string, exp = 1e300 and an nbf past the skew (B39)", async () => {
    const f = await forgery();
    expect(await f.check(await f.sign({ ...f.valid, exp: String(f.valid.exp) }))).toEqual(REJECTED);
    expect(await f.check(await f.sign({ ...f.valid, exp: 1e300 }))).toEqual(REJECTED);
    expect(await f.check(await f.sign({ ...f.valid, nbf: f.now + 120 }))).toEqual(REJECTED);
  });

  it("refuses an ID token: typ JWT, a nonce and aud = client_id (B40)", async () => {
    const f = await forgery();
    expect(await f.check(await f.sign({ ...f.valid, aud: "pub", nonce: "n" }, { typ: "JWT" }))).toEqual(REJECTED);
    expect(await f.check(await f.sign({ ...f.valid, aud: "pub", nonce: "n" }))).toEqual(REJECTED);
  });

  it("refuses an unknown crit header, and never fetches keys named by jku, x5u or an embedded jwk (B38)", async () => {
    const f = await forgery();
    const fetchSpy = vi.fn(async () => new Response("{}"));
    vi.stubGlobal("fetch", fetchSpy);
    const attacker = await generateKeyPair("ES256");
    const attackerJwk = await exportJWK(attacker.publicKey);
    expect(await f.check(await f.signRaw({}, f.valid))).toEqual(ACCEPTED);
    expect(await f.check(await f.signRaw({ crit: ["exp-x"], "exp-x": 1 }, f.valid))).toEqual(REJECTED);
    expect(await f.check(await f.sign(f.valid, { kid: "attacker", jku: "https://evil.test/jwks" }, attacker.privateKey))).toEqual(REJECTED);
    expect(await f.check(await f.sign(f.valid, { kid: "attacker", x5u: "https://evil.test/cert" }, attacker.privateKey))).toEqual(REJECTED);
    expect(await f.check(await f.sign(f.valid, { kid: undefined, jwk: attackerJwk }, attacker.privateKey))).toEqual(REJECTED);
    expect(fetchSpy).not.toHaveBeenCalled();
  });
});

describe("Audience validation (RFC 8707 §2, MCP Canonical Server URI)", () => {
  it("accepts aud as a string or an array containing the resource (RS-TOK-1, B37)", async () => {
    const f = await forgery();
    expect(await f.check(await f.sign({ ...f.valid, aud: RESOURCE }))).toEqual(ACCEPTED);
    expect(await f.check(await f.sign({ ...f.valid, aud: [RESOURCE] }))).toEqual(ACCEPTED);
    expect(await f.check(await f.sign({ ...f.valid, aud: ["https://other.test/mcp", RESOURCE] }))).toEqual(ACCEPTED);
  });

  it("refuses another audience, an empty one, and none (RS-TOK-1)", async () => {
    const f = await forgery();
    expect(await f.check(await f.sign({ ...f.valid, aud: "https://other.test/mcp" }))).toEqual(REJECTED);
    expect(await f.check(await f.sign({ ...f.valid, aud: [] }))).toEqual(REJECTED);
    expect(await f.check(await f.sign(f.without("aud")))).toEqual(REJECTED);
  });

  it("compares scheme and host case-insensitively and drops a default port, everything else exactly: a trailing slash or fragment is refused (RS-TOK-8, B37)", async () => {
    const f = await forgery();
    expect(await f.check(await f.sign({ ...f.valid, aud: "HTTPS://MCP.TEST/mcp" }))).toEqual(ACCEPTED);
    expect(await f.check(await f.sign({ ...f.valid, aud: "https://mcp.test:443/mcp" }))).toEqual(ACCEPTED);
    for (const aud of [`${RESOURCE}/`, `${RESOURCE}#x`, "https://mcp.test/MCP", "http://mcp.test/mcp", `${RESOURCE}?x=1`]) {
      expect(await f.check(await f.sign({ ...f.valid, aud })), aud).toEqual(REJECTED);
    }
  });
});

describe("jwtTokenVerifier for a separate resource server", () => {
  it("verifies the issuer's tokens from its JWKS, with the same audience rule (RS-TOK-1)", async () => {
    const f = await forgery();
    const jwks = (await (await f.t.fetch(`${ISSUER}/jwks.json`)).json()) as { keys: JWK[] };
    const verifier = jwtTokenVerifier({ issuer: ISSUER, jwks: async () => jwks, now: f.clock.now });
    expect(await verifier.verifyAccessToken(f.accessToken, { resource: RESOURCE })).toMatchObject({ clientId: "pub", scopes: ["mcp:tools"] });
    await expect(verifier.verifyAccessToken(f.accessToken, { resource: "https://other.test/mcp" })).rejects.toMatchObject({ code: "invalid_token" });
    await expect(verifier.verifyAccessToken(await f.sign({ ...f.valid, iss: "https://evil.test" }), { resource: RESOURCE })).rejects.toMatchObject({
      code: "invalid_token",
    });
  });

  it("never passes the inbound access token upstream: the verifier's own JWKS fetch carries neither it nor any Authorization (RS-TOK-5)", async () => {
    const f = await forgery();
    const upstream: Request[] = [];
    vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      upstream.push(request.clone());
      return f.t.server.fetch(request);
    });
    const guard = createResourceGuard({
      resource: RESOURCE,
      authorizationServers: [ISSUER],
      verifier: jwtTokenVerifier({ issuer: ISSUER, jwks: new URL(`${ISSUER}/jwks.json`), now: f.clock.now }),
    });
    const inbound = resourceRequest(f.accessToken);
    expect(await guard.authenticate(inbound)).toMatchObject({ clientId: "pub", token: f.accessToken });
    expect(upstream.map((r) => r.url)).toEqual([`${ISSUER}/jwks.json`]);
    for (const request of upstream) {
      expect(request.headers.get("Authorization")).toBeNull();
      expect(request.url).not.toContain(f.accessToken);
      for (const [name, value] of request.headers) expect(value, name).not.toContain(f.accessToken);
      expect(await request.text()).not.toContain(f.accessToken);
    }
  });

  it("refuses symmetric or none algorithms in its configuration with a TypeError", () => {
    for (const alg of ["HS256", "none"]) {
      expect(() => jwtTokenVerifier({ issuer: ISSUER, jwks: async () => ({ keys: [] }), algorithms: [alg] })).toThrow(TypeError);
    }
  });
});
