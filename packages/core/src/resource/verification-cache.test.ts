import { SignJWT, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { createJWTVerifier, createMemoryStore, createResourceGuard, OAuthError, type PlainResponse, type Storage, type TokenVerifier } from "../index.js";
import { createTestServer, ISSUER, obtainTokens, RESOURCE } from "../../test/helpers.js";

const bearer = (token: string) => new Request(RESOURCE, { headers: { Authorization: `Bearer ${token}` } });

describe("Verification caches (the bearer check's hot path)", () => {
  it("answers repeated checks of one token with the same frozen AuthInfo", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    const first = await t.guard.authenticate(bearer(body.access_token!));
    const second = await t.guard.authenticate(bearer(body.access_token!));
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(() => (first as { scopes: string[] }).scopes.push("mcp:admin")).toThrow();
  });

  it("trusts a grant it saw live for grantCacheSeconds, and no longer than that", async () => {
    let now = Date.now();
    const storage = createMemoryStore({ now: () => now });
    const t = createTestServer({ storage, now: () => now, grantCacheSeconds: 2 });
    const { body } = await obtainTokens(t.fetch);
    expect(await t.guard.authenticate(bearer(body.access_token!))).not.toBeInstanceOf(Response);
    // Another instance revokes the grant by writing the store directly: this one is not told.
    const gid = JSON.parse(atob(body.access_token!.split(".")[1]!.replaceAll("-", "+").replaceAll("_", "/"))).gid as string;
    await storage.set(`grant:${gid}`, { id: gid, revoked: true });
    expect(await t.guard.authenticate(bearer(body.access_token!))).not.toBeInstanceOf(Response);
    now += 2_001;
    const refused = (await t.guard.authenticate(bearer(body.access_token!))) as Response;
    expect(refused.status).toBe(401);
  });

  it("takes a revocation made on this instance into account at once, whatever the cache interval", async () => {
    const t = createTestServer({ grantCacheSeconds: 60 });
    const { body } = await obtainTokens(t.fetch);
    expect(await t.guard.authenticate(bearer(body.access_token!))).not.toBeInstanceOf(Response);
    await t.fetch(`${ISSUER}/revoke`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: body.refresh_token!, client_id: "pub" }),
    });
    expect(((await t.guard.authenticate(bearer(body.access_token!))) as Response).status).toBe(401);
  });

  it("AS-REV-5: drops a grant revoked at another instance at once when the store broadcasts, and within the bound when it does not", async () => {
    const revokeAtAThenCheckAtB = async (storage: Storage) => {
      const a = createTestServer({ storage, grantCacheSeconds: 60 });
      const b = createTestServer({ storage, grantCacheSeconds: 60 });
      const { body } = await obtainTokens(a.fetch);
      // B has seen the grant live, so it would trust it for a minute.
      expect(await b.guard.authenticate(bearer(body.access_token!))).not.toBeInstanceOf(Response);
      await a.fetch(`${ISSUER}/revoke`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: body.refresh_token!, client_id: "pub" }),
      });
      return b.guard.authenticate(bearer(body.access_token!));
    };
    const published: string[] = [];
    const broadcasting = withBus(createMemoryStore(), published);
    expect(((await revokeAtAThenCheckAtB(broadcasting)) as Response).status).toBe(401);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatch(/^grant-revoked /);
    // The same without a broadcast: B still trusts its cache (the fallback is the bound).
    expect(await revokeAtAThenCheckAtB(createMemoryStore())).not.toBeInstanceOf(Response);
  });

  it("reports a failed broadcast to onError and still revokes", async () => {
    const storage: Storage = { ...createMemoryStore(), publish: async () => Promise.reject(new Error("bus down")), subscribe: () => () => {} };
    const errors: unknown[] = [];
    const t = createTestServer({ storage, onError: (error) => errors.push(error) });
    const { body } = await obtainTokens(t.fetch);
    const response = await t.fetch(`${ISSUER}/revoke`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: body.refresh_token!, client_id: "pub" }),
    });
    expect(response.status).toBe(200);
    expect(((await t.guard.authenticate(bearer(body.access_token!))) as Response).status).toBe(401);
    expect(String(errors[0])).toMatch(/bus down/);
  });

  it("answers a token verified moments ago without I/O, within the grant cache's bound and while the keys are current", async () => {
    let now = Date.now();
    const t = createTestServer({ now: () => now, grantCacheSeconds: 2 });
    const { body } = await obtainTokens(t.fetch);
    const token = body.access_token!;
    // Never seen: only the full check can tell.
    expect(t.server.checkCachedAccessToken(token, { resource: RESOURCE })).toBeUndefined();
    const info = await t.guard.authenticate(bearer(token));
    expect(t.server.checkCachedAccessToken(token, { resource: RESOURCE })).toBe(info);
    expect(t.server.checkCachedAccessToken(token, { resource: "https://other.test/mcp" })).toMatchObject({ reason: "audience_mismatch" });
    // Past the grant cache's bound, the grant must be read again.
    now += 2_001;
    expect(t.server.checkCachedAccessToken(token, { resource: RESOURCE })).toBeUndefined();
    expect(await t.guard.authenticate(bearer(token))).toBe(info);
    // A withdrawn key: the remembered verdict is not answered, and the full check refuses it.
    const [key] = await t.server.keys.list();
    await t.server.keys.retire(key!.kid);
    expect(t.server.checkCachedAccessToken(token, { resource: RESOURCE })).toBeUndefined();
    expect(((await t.guard.authenticate(bearer(token))) as Response).status).toBe(401);
  });

  it("RS-TOK-6: the guard takes a verifier's cached answer for a reused token, and still checks the session's owner", async () => {
    const t = createTestServer();
    const alice = (await obtainTokens(t.fetch)).body.access_token!;
    // The same user through another client: another owner for the session (subject and client).
    const bob = (await obtainTokens(t.fetch, {}, "pub2")).body.access_token!;
    let full = 0;
    const verifier: TokenVerifier = {
      issuer: ISSUER,
      verifyAccessToken: async () => Promise.reject(new Error("not used")),
      checkAccessToken: async (token, options) => {
        full++;
        return t.server.checkAccessToken(token, options);
      },
      checkCachedAccessToken: (token, options) => t.server.checkCachedAccessToken(token, options),
    };
    const guard = createResourceGuard({ resource: RESOURCE, verifier, requiredScopes: ["mcp:tools"] });
    const session = (token: string) => new Request(RESOURCE, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Mcp-Session-Id": "s-1" } });
    const first = await guard.protect(bearer(alice));
    expect(first.ok).toBe(true);
    expect(full).toBe(1);
    const second = await guard.protect(bearer(alice));
    expect(second).toBe(first);
    expect(full).toBe(1);
    expect((await guard.protect(session(alice))).ok).toBe(true);
    await guard.protect(bearer(bob));
    const hijack = await guard.protect(session(bob));
    expect(hijack.ok).toBe(false);
    expect((hijack as { response: Response }).response.status).toBe(404);
    // A verifier whose cached answer throws is asked in full, never failing open or closed on it.
    const throwing = createResourceGuard({
      resource: RESOURCE,
      verifier: {
        ...verifier,
        checkCachedAccessToken: () => {
          throw new Error("cache broken");
        },
      },
    });
    expect((await throwing.protect(bearer(alice))).ok).toBe(true);
  });

  it("gives a challenge in plain form beside the Response, the two alike, for adapters that write it directly", async () => {
    const t = createTestServer();
    for (const request of [
      new Request(RESOURCE, { method: "POST" }),
      bearer("not-a-jwt"),
      new Request(RESOURCE, { method: "POST", headers: { Origin: "https://evil.test" } }),
    ]) {
      const result = await t.guard.protect(request);
      expect(result.ok).toBe(false);
      const { plain, response } = result as { plain: PlainResponse; response: Response };
      expect(plain.status).toBe(response.status);
      expect(plain.body).toBe(await response.text());
      expect(Object.fromEntries(Object.entries(plain.headers).map(([k, v]) => [k.toLowerCase(), v]))).toEqual(Object.fromEntries(response.headers));
      if (plain.status === 401) {
        expect(plain.headers["Cache-Control"]).toBe("no-store");
        expect(plain.headers["WWW-Authenticate"]).toMatch(/^Bearer /);
      }
    }
  });

  it("remembers a token that failed verification, answering it without checking it again", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const { exportJWK } = await import("jose");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
    let loads = 0;
    // An unknown kid makes a full verification reload the key set once: count the loads.
    const jwks = async () => {
      loads++;
      return { keys: [jwk] };
    };
    const verifier = createJWTVerifier({ issuer: ISSUER, jwks });
    const forged = await new SignJWT({ client_id: "pub" })
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "unknown" })
      .setIssuer(ISSUER)
      .setSubject("x")
      .setAudience(RESOURCE)
      .setIssuedAt()
      .setJti("j")
      .setExpirationTime("5m")
      .sign(privateKey);
    const first = await verifier.check(forged, RESOURCE);
    const loadsAfterFirst = loads;
    const second = await verifier.check(forged, RESOURCE);
    expect(first).toBeInstanceOf(OAuthError);
    expect(second).toBe(first);
    expect(loads).toBe(loadsAfterFirst);
  });
});

/** A memory store with an in-process publish/subscribe, standing in for a shared store's channel. */
function withBus(store: Storage, published: string[]): Storage {
  const listeners = new Map<string, Set<(message: string) => void>>();
  return {
    ...store,
    async publish(channel, message) {
      published.push(`${channel} ${message}`);
      for (const listener of listeners.get(channel) ?? []) listener(message);
    },
    subscribe(channel, listener) {
      const set = listeners.get(channel) ?? new Set();
      listeners.set(channel, set.add(listener));
      return () => set.delete(listener);
    },
  };
}
