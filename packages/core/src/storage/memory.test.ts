import fc from "fast-check";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { createClock, createTestServer, form, ISSUER } from "../../test/helpers.js";
import { runStorageContract } from "../testing/index.js";
import { createMemoryStore, MemoryStoreFullError } from "./memory.js";
import { namespacedStore } from "./namespaced.js";
import { isDisposable } from "./retention.js";

runStorageContract("memory", { open: async (clock) => createMemoryStore({ now: clock.now }), usesClock: true });
// A store without the optional consumeAndSet: the server's fallback (consume, then set) keeps the contract.
runStorageContract("memory without consumeAndSet", {
  open: async (clock) => {
    const { consumeAndSet: _, ...store } = createMemoryStore({ now: clock.now });
    return store;
  },
  usesClock: true,
});

const cache = { disposable: true } as const;

describe("Memory store bounds", () => {
  it("drops the oldest disposable entries past maxEntries instead of growing without bound", async () => {
    const store = createMemoryStore({ maxEntries: 3 });
    for (const key of ["a", "b", "c", "d"]) await store.set(key, key, cache);
    expect(await store.get("a")).toBeUndefined();
    expect(await store.get("d")).toBe("d");
    expect((await store.list("")).map((e) => e.key)).toEqual(["b", "c", "d"]);
  });

  it("never drops an entry not written as disposable: a full store refuses the write instead", async () => {
    const store = createMemoryStore({ maxEntries: 100 });
    await store.set("keys:signing", { kid: "k1" });
    for (let i = 0; i < 99; i++) await store.set(`assertion-jti:c:${i}`, 1, { ttlSeconds: 60 });
    await expect(store.set("one-more", 1)).rejects.toThrow(MemoryStoreFullError);
    await expect(store.increment("counter", { ttlSeconds: 60 })).rejects.toThrow(MemoryStoreFullError);
    await expect(store.set("cached", 1, cache)).rejects.toThrow(MemoryStoreFullError);
    expect(await store.get("keys:signing")).toEqual({ kid: "k1" });
    expect(await store.list("assertion-jti:", { limit: 1_000 })).toHaveLength(99);
    // Overwriting and counting on what is there still works; a delete makes room.
    await store.set("assertion-jti:c:0", 2, { ttlSeconds: 60 });
    await store.delete("assertion-jti:c:1");
    await store.set("one-more", 1);
    expect(await store.get("one-more")).toBe(1);
  });

  it("consumeAndSet on a full store refuses with nothing consumed, and counts the consumed entry's room", async () => {
    const store = createMemoryStore({ maxEntries: 3 });
    await store.set("refresh:a", 1);
    await store.set("refresh:b", 2);
    await store.set("refresh:c", 3);
    // Two new keys where one is freed: one too many.
    await expect(
      store.consumeAndSet!("refresh:a", [
        { key: "x", value: 1 },
        { key: "y", value: 2 },
      ]),
    ).rejects.toThrow(MemoryStoreFullError);
    expect(await store.get("refresh:a")).toBe(1);
    expect(await store.get("x")).toBeUndefined();
    // One new key where one is freed fits.
    expect(await store.consumeAndSet!("refresh:a", [{ key: "x", value: 1 }])).toBe(1);
    expect((await store.list("")).map((e) => e.key)).toEqual(["refresh:b", "refresh:c", "x"]);
  });

  it("drops disposable entries, oldest first, before refusing, and keeps every other one", async () => {
    const store = createMemoryStore({ maxEntries: 4 });
    await store.set("spent", 1);
    await store.set("cache-1", 1, cache);
    await store.set("cache-2", 2, cache);
    await store.set("code", 3);
    await store.set("new-1", 4);
    expect((await store.list("")).map((e) => e.key)).toEqual(["cache-2", "code", "new-1", "spent"]);
    await store.set("new-2", 5);
    expect((await store.list("")).map((e) => e.key)).toEqual(["code", "new-1", "new-2", "spent"]);
    await expect(store.set("new-3", 6)).rejects.toThrow(MemoryStoreFullError);
  });

  it("drops expired entries before any live one", async () => {
    let t = 0;
    const store = createMemoryStore({ maxEntries: 4, now: () => t });
    await store.set("old-live", 1, cache);
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
    await expect(store.set("n:1000", 1_000)).rejects.toThrow(MemoryStoreFullError);
    expect(await store.get("e:0")).toBe(0);
  });

  it("keeps dropping the oldest disposable insertion as writes continue, counting an overwrite as no insertion", async () => {
    const store = createMemoryStore({ maxEntries: 3 });
    for (const key of ["a", "b", "c"]) await store.set(key, key, cache);
    await store.set("a", "a2", cache);
    await store.set("d", "d", cache);
    expect((await store.list("")).map((e) => e.key)).toEqual(["b", "c", "d"]);
    await store.delete("c");
    await store.set("e", "e", cache);
    await store.set("f", "f", cache);
    expect((await store.list("")).map((e) => e.key)).toEqual(["d", "e", "f"]);
  });

  it("evicts as a plain oldest-first list would, through any mix of writes, rewrites and deletes", async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), key: fc.integer({ min: 0, max: 9 }), disposable: fc.boolean() }),
      fc.record({ kind: fc.constant("delete" as const), key: fc.integer({ min: 0, max: 9 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 80 }), async (ops) => {
        const store = createMemoryStore({ maxEntries: 4 });
        // The model: entries, and the disposable ones in the order they became disposable.
        const entries = new Set<string>();
        let order: string[] = [];
        for (const o of ops) {
          const key = `k${o.key}`;
          if (o.kind === "delete") {
            await store.delete(key);
            entries.delete(key);
            order = order.filter((k) => k !== key);
            continue;
          }
          let full = false;
          if (!entries.has(key) && entries.size >= 4) {
            const oldest = order.shift();
            if (oldest === undefined) full = true;
            else entries.delete(oldest);
          }
          const write = store.set(key, o.key, o.disposable ? cache : undefined);
          if (full) {
            await expect(write).rejects.toThrow(MemoryStoreFullError);
            continue;
          }
          await write;
          entries.add(key);
          if (!o.disposable) order = order.filter((k) => k !== key);
          else if (!order.includes(key)) order.push(key);
          expect((await store.list("")).map((e) => e.key)).toEqual([...entries].sort());
        }
      }),
      { numRuns: 300 },
    );
  });

  it("finds the oldest disposable entry after none was left to drop", async () => {
    const store = createMemoryStore({ maxEntries: 2 });
    await store.set("keep", 1);
    await store.set("a", 1, cache);
    await store.set("x", 1);
    await expect(store.set("y", 1)).rejects.toThrow(MemoryStoreFullError);
    await store.delete("x");
    await store.set("b", 1, cache);
    await store.set("c", 1, cache);
    expect((await store.list("")).map((e) => e.key)).toEqual(["c", "keep"]);
  });

  it("treats a namespaced (tenant) store's records as it treats unprefixed ones", async () => {
    const memory = createMemoryStore({ maxEntries: 3 });
    const tenant = namespacedStore(memory, "tenant-a:");
    await tenant.setIfAbsent("keys:signing", [{ kid: "k1" }]);
    await tenant.setIfAbsent("assertion-jti:machine:j1", 1, { ttlSeconds: 60 });
    await tenant.set("authreq:r1", { id: "r1" }, { ttlSeconds: 600 });
    await tenant.set("authreq:r2", { id: "r2" }, { ttlSeconds: 600 });
    expect(await tenant.get("authreq:r1")).toBeUndefined();
    expect(await tenant.get("keys:signing")).toEqual([{ kid: "k1" }]);
    expect(await tenant.get("assertion-jti:machine:j1")).toBe(1);
    expect(await tenant.increment("ratelimit:x", { ttlSeconds: 60 })).toBe(1);
    expect(await tenant.get("authreq:r2")).toBeUndefined();
    await expect(tenant.increment("ratelimit:y", { ttlSeconds: 60 })).rejects.toThrow(MemoryStoreFullError);
    expect(await tenant.get("assertion-jti:machine:j1")).toBe(1);
  });

  it("classifies caches, pending sign-ins and unused registrations as disposable, and nothing else", () => {
    for (const key of ["cimd:https://c.test/id", "client-jwks:https://c.test/jwks", "authreq:abc"]) expect(isDisposable(key, {})).toBe(true);
    expect(isDisposable("client:c1", { unused: true })).toBe(true);
    expect(isDisposable("client:c1", { metadata: {} })).toBe(false);
    for (const key of [
      "keys:signing",
      "assertion-jti:https://x/authreq:1:j",
      "code:h",
      "code-live:h",
      "refresh:h",
      "refresh-spent:h",
      "refresh-replay:h",
      "grant:g",
      "ratelimit:t",
      "login-lock:h",
      "login-attempts:h:0",
      "other",
    ]) {
      expect(isDisposable(key, {})).toBe(false);
    }
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
    // One clock for server and store: the rate-limit window (and so its counter key) cannot roll
    // over between the first call and the replay, which would need a new entry in a full store.
    const clock = createClock();
    const t = createTestServer({
      now: clock.now,
      storage: createMemoryStore({ maxEntries: 200, now: clock.now }),
      clients: [
        { client_id: "machine", grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] }, scope: "mcp:tools" },
      ],
    });
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ iss: "machine", sub: "machine", aud: ISSUER, iat: now, exp: now + 120, jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .sign(privateKey);
    const token = () =>
      t.fetch(
        `${ISSUER}/token`,
        form({
          grant_type: "client_credentials",
          client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
          client_assertion: assertion,
        }),
      );
    expect((await token()).status).toBe(200);
    expect((await token()).status).toBe(401);
    const statuses = new Set<number>();
    for (let i = 0; i < 400; i++) {
      const response = await t.fetch(`${ISSUER}/token`, form({ grant_type: "refresh_token", refresh_token: "nope", client_id: `spray-${i}` }));
      statuses.add(response.status);
      if (response.status === 503) expect(response.headers.get("Retry-After")).toBeTruthy();
    }
    // Past the bound the store refuses new work with a 503; it never forgets a spent assertion.
    expect(statuses).toContain(503);
    for (const status of statuses) expect([400, 401, 503]).toContain(status);
    const replay = await token();
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: string }).error).toBe("invalid_client");
  });
});
