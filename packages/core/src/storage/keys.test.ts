import { describe, expect, it } from "vitest";
import { keys, kindOfKey } from "./keys.js";
import { isDisposable } from "./retention.js";

describe("storage keys", () => {
  it("keep the strings existing SQLite, Redis and Durable Object data is stored under", () => {
    expect([
      keys.client("c1"),
      keys.clientMetadataDocument("https://c.test/id"),
      keys.clientJWKS("https://c.test/jwks"),
      keys.assertionJTI("c1", "j1"),
      keys.pendingAuthorization("r1"),
      keys.code("h1"),
      keys.liveCode("h1"),
      keys.grant("g1"),
      keys.userGrants("alice"),
      keys.userGrant("alice", "g1"),
      keys.clientGrants("c1"),
      keys.clientGrant("c1", "g1"),
      keys.refreshToken("h1"),
      keys.spentRefreshToken("h1"),
      keys.refreshReplay("h1"),
      keys.signingKeys(),
      keys.signingKeySet(7),
      keys.signingKeyHead(),
      keys.rateLimit("token:ip:1.2.3.4", 7),
      keys.loginLock("u1"),
      keys.loginAttempts("u1", "0"),
      keys.mcpSession("h1"),
      keys.upstreamState("h1"),
      keys.upstreamTokens("g1"),
      keys.upstreamRefreshLock("g1"),
      keys.session("h1"),
      keys.pendingLogin("r1"),
      keys.userConsents("a:b"),
      keys.userConsent("a:b", "c1"),
    ]).toEqual([
      "client:c1",
      "cimd:https://c.test/id",
      "client-jwks:https://c.test/jwks",
      "assertion-jti:c1:j1",
      "authreq:r1",
      "code:h1",
      "code-live:h1",
      "grant:g1",
      "grants-by-user:alice:",
      "grants-by-user:alice:g1",
      "grants-by-client:c1:",
      "grants-by-client:c1:g1",
      "refresh:h1",
      "refresh-spent:h1",
      "refresh-replay:h1",
      "keys:signing",
      "keys:set:000000000007",
      "keys:head",
      "ratelimit:token:ip:1.2.3.4:7",
      "login-lock:u1",
      "login-attempts:u1:0",
      "mcp-session:h1",
      "upstream-state:h1",
      "upstream-tokens:g1",
      "upstream-lock:g1",
      "session:h1",
      "loginreq:r1",
      "consent:a%3Ab:",
      "consent:a%3Ab:c1",
    ]);
  });

  it("name the kind of record each key holds, and none for a key the server does not build", () => {
    expect(kindOfKey(keys.client("c1"))).toBe("client");
    expect(kindOfKey(keys.clientJWKS("https://c.test/jwks"))).toBe("clientJWKS");
    expect(kindOfKey(keys.liveCode("h"))).toBe("liveCode");
    expect(kindOfKey(keys.code("h"))).toBe("code");
    expect(kindOfKey(keys.userGrant("s", "g"))).toBe("userGrants");
    expect(kindOfKey(keys.grant("g"))).toBe("grant");
    expect(kindOfKey(keys.spentRefreshToken("h"))).toBe("spentRefreshToken");
    expect(kindOfKey(keys.mcpSession("h"))).toBe("mcpSession");
    expect(kindOfKey(keys.mcpSessionQuota("h", 1))).toBe("mcpSessionQuota");
    expect(kindOfKey(keys.refreshReplay("h"))).toBe("refreshReplay");
    expect(kindOfKey(keys.signingKeySet(3))).toBe("signingKeys");
    expect(kindOfKey(keys.userConsent("a:b", "c1"))).toBe("userConsents");
    expect(kindOfKey("race:1")).toBeUndefined();
    expect(kindOfKey("refresh")).toBeUndefined();
    expect(kindOfKey("refreshx:h")).toBeUndefined();
    expect(kindOfKey("")).toBeUndefined();
  });

  it("classify retention by the same definitions", () => {
    expect(isDisposable(keys.pendingAuthorization("r"), {})).toBe(true);
    expect(isDisposable(keys.client("c1"), { unused: true })).toBe(true);
    expect(isDisposable(keys.client("c1"), {})).toBe(false);
    expect(isDisposable(keys.assertionJTI("c1", "j"), {})).toBe(false);
    expect(isDisposable("unknown:x", {})).toBe(false);
    // A forgotten session owner would let the next bearer of the session id take it over.
    expect(isDisposable(keys.mcpSession("h"), {})).toBe(false);
    expect(isDisposable(keys.upstreamState("h"), {})).toBe(true);
    expect(isDisposable(keys.upstreamTokens("g"), {})).toBe(false);
    // Losing a session signs a user out; losing a consent asks again: neither is a cache.
    expect(isDisposable(keys.session("h"), {})).toBe(false);
    expect(isDisposable(keys.userConsent("s", "c"), {})).toBe(false);
    expect(isDisposable(keys.pendingLogin("r"), {})).toBe(true);
  });
});
