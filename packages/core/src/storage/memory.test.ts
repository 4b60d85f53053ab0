import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { createTestServer, form, ISSUER } from "../../test/helpers.js";
import { runStorageContract } from "./contract.js";
import { createMemoryStore } from "./memory.js";

runStorageContract("memory", { open: async () => createMemoryStore() });

describe("Memory store bounds", () => {
  it("drops the oldest entries past maxEntries instead of growing without bound", async () => {
    const store = createMemoryStore({ maxEntries: 3 });
    for (const key of ["a", "b", "c", "d"]) await store.set(key, key);
    expect(await store.get("a")).toBeUndefined();
    expect(await store.get("d")).toBe("d");
    expect((await store.list("")).map((e) => e.key)).toEqual(["b", "c", "d"]);
  });

  it("never drops the signing keys (keys:) however many entries follow them", async () => {
    const store = createMemoryStore({ maxEntries: 100 });
    await store.set("keys:signing", { kid: "k1" });
    for (let i = 0; i < 1_000; i++) await store.set(`code:${i}`, i);
    expect(await store.get("keys:signing")).toEqual({ kid: "k1" });
    const codes = (await store.list<number>("code:", { limit: 1_000 })).map((e) => e.value).sort((a, b) => a - b);
    // The newest 99 in insertion order; the key record holds the hundredth place.
    expect(codes).toEqual(Array.from({ length: 99 }, (_, i) => 901 + i));
  });

  it("drops expired entries before any live one", async () => {
    let t = 0;
    const store = createMemoryStore({ maxEntries: 4, now: () => t });
    await store.set("old-live", 1);
    await store.set("short-1", 2, { ttlSeconds: 1 });
    await store.set("live", 3);
    await store.set("short-2", 4, { ttlSeconds: 1 });
    t = 2_000;
    await store.set("new-1", 5);
    await store.set("new-2", 6);
    expect((await store.list("")).map((e) => e.key)).toEqual(["live", "new-1", "new-2", "old-live"]);
    await store.set("new-3", 7);
    expect(await store.get("old-live")).toBeUndefined();
    expect(await store.get("live")).toBe(3);
  });

  it("finds expired entries anywhere in a large store, not only among the first visited", async () => {
    let t = 0;
    const store = createMemoryStore({ maxEntries: 2_000, now: () => t });
    for (let i = 0; i < 2_000; i++) await store.set(`e:${i}`, i, i % 2 === 1 ? { ttlSeconds: 1 } : undefined);
    t = 2_000;
    for (let i = 0; i < 1_000; i++) await store.set(`n:${i}`, i);
    // 1,000 expired made room for 1,000 new entries: not one live entry was given up.
    expect(await store.list("e:", { limit: 5_000 })).toHaveLength(1_000);
    expect(await store.list("n:", { limit: 5_000 })).toHaveLength(1_000);
    await store.set("n:1000", 1_000);
    expect(await store.get("e:0")).toBeUndefined();
    expect(await store.get("e:2")).toBe(2);
  });

  it("keeps dropping the oldest insertion as writes continue, counting an overwrite as no insertion", async () => {
    const store = createMemoryStore({ maxEntries: 3 });
    for (const key of ["a", "b", "c"]) await store.set(key, key);
    await store.set("a", "a2");
    await store.set("d", "d");
    expect((await store.list("")).map((e) => e.key)).toEqual(["b", "c", "d"]);
    await store.delete("c");
    await store.set("e", "e");
    await store.set("f", "f");
    expect((await store.list("")).map((e) => e.key)).toEqual(["d", "e", "f"]);
  });

  it("keeps a store of nothing but keys: records, running over the cap rather than dropping one", async () => {
    const store = createMemoryStore({ maxEntries: 2 });
    for (const key of ["keys:a", "keys:b", "keys:c"]) await store.set(key, key);
    await store.set("x", "x");
    await store.set("y", "y");
    expect((await store.list("")).map((e) => e.key)).toEqual(["keys:a", "keys:b", "keys:c", "y"]);
  });

  it("expires by the injected clock", async () => {
    let t = 1_000;
    const store = createMemoryStore({ now: () => t });
    await store.set("k", 1, { ttlSeconds: 10 });
    t += 9_999;
    expect(await store.get("k")).toBe(1);
    t += 1;
    expect(await store.get("k")).toBeUndefined();
  });
});

describe("Memory store eviction of single-use records", () => {
  it("audit #12: a replayed client assertion stays refused after 400 requests try to evict its record", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
    const t = createTestServer({
      storage: createMemoryStore({ maxEntries: 200 }),
      clients: [{ client_id: "machine", grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] }, scope: "mcp:tools" }],
    });
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ iss: "machine", sub: "machine", aud: ISSUER, iat: now, exp: now + 120, jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .sign(privateKey);
    const token = () =>
      t.fetch(`${ISSUER}/token`, form({ grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion }));
    expect((await token()).status).toBe(200);
    expect((await token()).status).toBe(401);
    const statuses = new Set<number>();
    for (let i = 0; i < 400; i++) {
      const response = await t.fetch(`${ISSUER}/token`, form({ grant_type: "refresh_token", refresh_token: "nope", client_id: `spray-${i}` }));
      statuses.add(response.status);
    }
    // Past the bound the store refuses new work with a 503; it never forgets a spent assertion.
    for (const status of statuses) expect([400, 401, 503]).toContain(status);
    const replay = await token();
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: string }).error).toBe("invalid_client");
  });
});
