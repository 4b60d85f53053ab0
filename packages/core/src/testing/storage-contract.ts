import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Storage } from "../storage/types.js";
import { consumeAndSet } from "../storage/consume-and-set.js";
import { createAuthorizationServer } from "../server.js";
import { createResourceGuard } from "../resource/guard.js";

/**
 * The suite's clock, in milliseconds: it starts at the real time for each test and moves only
 * when the suite moves it. A store that takes a clock option reads it as its `now`.
 */
export interface ContractClock {
  now(): number;
}

/** How the contract suite opens the store under test. */
export interface StoreHarness {
  /**
   * Opens a fresh, empty store (a new file, a new key prefix, ...). With {@link usesClock}, the
   * store reads the time from `clock` (e.g. `createMemoryStore({ now: clock.now })`).
   */
  open(clock: ContractClock): Promise<Storage>;
  /** Durable stores only: closes `store` and opens the same data again, as after a restart, on the same `clock`. */
  reopen?(store: Storage, clock: ContractClock): Promise<Storage>;
  /**
   * Whether the stores {@link open} makes read the time from the suite's clock. Then the suite
   * moves the clock past a TTL at once; otherwise (a store whose server keeps the time, such as
   * Redis's `PX` expiries) it waits out each TTL in real time, about 1.2 s each. Default false.
   */
  usesClock?: boolean;
  /** When set, the suite is skipped and this reason printed (a service that is truly absent). */
  skipReason?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The storage contract every Portcullis store must pass: the semantics the authorization server
 * relies on for single-use codes, refresh rotation, rate limits and grant listing.
 */
export function runStorageContract(name: string, harness: StoreHarness): void {
  if (harness.skipReason) {
    console.warn(`[storage contract] ${name} skipped: ${harness.skipReason}`);
  }
  describe.skipIf(Boolean(harness.skipReason))(`Storage contract: ${name}`, () => {
    const opened: Storage[] = [];
    let time = Date.now();
    const clock: ContractClock = { now: () => time };
    /** Lets `ms` pass for the store: on the suite's clock, or in real time for a store that keeps its own. */
    const pass = async (ms: number) => {
      if (harness.usesClock) time += ms;
      else await sleep(ms);
    };
    const open = async () => {
      const store = await harness.open(clock);
      opened.push(store);
      return store;
    };
    beforeEach(() => {
      time = Date.now();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close?.()));
    });

    it("returns what was set, as a copy, and undefined for a missing key", async () => {
      const store = await open();
      const value = { a: 1, nested: { list: [1, "two", null] } };
      await store.set("k", value);
      const read = await store.get<typeof value>("k");
      expect(read).toEqual(value);
      read!.a = 2;
      expect(await store.get("k")).toEqual(value);
      expect(await store.get("missing")).toBeUndefined();
    });

    it("overwrites on set and forgets on delete", async () => {
      const store = await open();
      await store.set("k", "one");
      await store.set("k", "two");
      expect(await store.get("k")).toBe("two");
      await store.delete("k");
      expect(await store.get("k")).toBeUndefined();
      await store.delete("never-there");
    });

    it("hides an entry once its TTL has passed", async () => {
      const store = await open();
      await store.set("short", 1, { ttlSeconds: 1 });
      await store.set("long", 2, { ttlSeconds: 60 });
      await store.set("forever", 3);
      expect(await store.get("short")).toBe(1);
      await pass(1200);
      expect(await store.get("short")).toBeUndefined();
      expect(await store.consume("short")).toBeUndefined();
      expect(await store.list("short")).toEqual([]);
      expect(await store.get("long")).toBe(2);
      expect(await store.get("forever")).toBe(3);
    });

    it("consume returns the value once and removes it", async () => {
      const store = await open();
      await store.set("code", { grant: "g1" }, { ttlSeconds: 60 });
      expect(await store.consume("code")).toEqual({ grant: "g1" });
      expect(await store.consume("code")).toBeUndefined();
      expect(await store.get("code")).toBeUndefined();
    });

    it("consume is exactly-once under 50 concurrent callers", async () => {
      const store = await open();
      for (let round = 0; round < 5; round++) {
        await store.set(`once-${round}`, round);
        const results = await Promise.all(Array.from({ length: 50 }, () => store.consume(`once-${round}`)));
        expect(results.filter((r) => r !== undefined)).toEqual([round]);
      }
    });

    it("consumeAndSet spends a live entry once and writes its entries with their TTLs, and writes nothing otherwise", async () => {
      const store = await open();
      await store.set("old", { grant: "g1" }, { ttlSeconds: 60 });
      await store.set("next", "stale");
      const entries = [
        { key: "next", value: { grant: "g1", n: 2 } },
        { key: "short", value: 1, options: { ttlSeconds: 1 } },
      ];
      expect(await consumeAndSet(store, "old", entries)).toEqual({ grant: "g1" });
      expect(await store.get("old")).toBeUndefined();
      expect(await store.get("next")).toEqual({ grant: "g1", n: 2 });
      expect(await store.get("short")).toBe(1);
      // Nothing to spend: nothing written, whether spent before, never there or expired.
      expect(await consumeAndSet(store, "old", [{ key: "after-spent", value: 1 }])).toBeUndefined();
      expect(await consumeAndSet(store, "never", [{ key: "after-never", value: 1 }])).toBeUndefined();
      await store.set("brief", "x", { ttlSeconds: 1 });
      await pass(1200);
      expect(await store.get("short")).toBeUndefined();
      expect(await consumeAndSet(store, "brief", [{ key: "after-expired", value: 1 }])).toBeUndefined();
      for (const key of ["after-spent", "after-never", "after-expired"]) expect(await store.get(key)).toBeUndefined();
    });

    it("consumeAndSet has one winner under 50 concurrent callers, and only the winner's entries are written", async () => {
      const store = await open();
      for (let round = 0; round < 3; round++) {
        await store.set(`rotate-${round}`, round, { ttlSeconds: 60 });
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            consumeAndSet(store, `rotate-${round}`, [{ key: `successor-${round}-${i}`, value: i, options: { ttlSeconds: 60 } }]),
          ),
        );
        const winners = results.flatMap((r, i) => (r === undefined ? [] : [i]));
        expect(winners).toHaveLength(1);
        expect(results[winners[0]!]).toBe(round);
        const written = await store.list(`successor-${round}-`);
        expect(written).toEqual([{ key: `successor-${round}-${winners[0]}`, value: winners[0] }]);
      }
    });

    it("consumeAndSet, where a store has it, refuses a bad entry before consuming anything", async (context) => {
      const store = await open();
      if (!store.consumeAndSet) return context.skip();
      await store.set("kept", "v");
      await expect(
        store.consumeAndSet("kept", [
          { key: "a", value: 1 },
          { key: "b", value: undefined },
        ]),
      ).rejects.toThrow(TypeError);
      await expect(store.consumeAndSet("kept", [{ key: "a", value: 1, options: { ttlSeconds: Number.NaN } }])).rejects.toThrow(TypeError);
      expect(await store.get("kept")).toBe("v");
      expect(await store.get("a")).toBeUndefined();
    });

    it("setIfAbsent writes only once under concurrency, and again after expiry", async () => {
      const store = await open();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.setIfAbsent("jti", i, { ttlSeconds: 1 })));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect(await store.get("jti")).toBe(winner);
      await pass(1200);
      expect(await store.setIfAbsent("jti", "again", { ttlSeconds: 60 })).toBe(true);
      expect(await store.get("jti")).toBe("again");
    });

    it("accepts the disposable hint and otherwise keeps such an entry like any other", async () => {
      const store = await open();
      await store.set("cache", { doc: 1 }, { ttlSeconds: 60, disposable: true });
      expect(await store.setIfAbsent("cache-2", 2, { disposable: true })).toBe(true);
      expect(await store.get("cache")).toEqual({ doc: 1 });
      expect(await store.get("cache-2")).toBe(2);
    });

    it("increment counts atomically within a fixed window", async () => {
      const store = await open();
      const counts = await Promise.all(Array.from({ length: 30 }, () => store.increment("rate", { ttlSeconds: 1 })));
      expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      await pass(1200);
      expect(await store.increment("rate", { ttlSeconds: 1 })).toBe(1);
    });

    it("lists live entries by prefix in key order, with a limit", async () => {
      const store = await open();
      await store.set("user:alice:grant:2", "g2");
      await store.set("user:alice:grant:1", "g1");
      await store.set("user:alice:grant:3", "g3", { ttlSeconds: 1 });
      await store.set("user:alicex:grant:9", "other");
      await store.set("user:bob:grant:1", "b1");
      await pass(1200);
      expect(await store.list("user:alice:")).toEqual([
        { key: "user:alice:grant:1", value: "g1" },
        { key: "user:alice:grant:2", value: "g2" },
      ]);
      expect(await store.list("user:alice:", { limit: 1 })).toEqual([{ key: "user:alice:grant:1", value: "g1" }]);
      expect(await store.list("nobody:")).toEqual([]);
    });

    it("keeps keys with odd characters apart and literal", async () => {
      const store = await open();
      const keys = ["a*b", "a?b", "a[b]", "a%b", "a_b", "a\\b", "ключ:🔑", "a b", "a'b\"c", "a:b:c"];
      for (const [i, key] of keys.entries()) await store.set(key, i);
      for (const [i, key] of keys.entries()) expect(await store.get(key)).toBe(i);
      expect((await store.list("a*")).map((e) => e.key)).toEqual(["a*b"]);
      expect((await store.list("a%")).map((e) => e.key)).toEqual(["a%b"]);
      expect((await store.list("a_")).map((e) => e.key)).toEqual(["a_b"]);
    });

    it("lists in Unicode code point order", async () => {
      const store = await open();
      // U+FF5E sorts before U+1F511 by code point, but after it by UTF-16 code unit.
      await store.set("o:\u{1F511}", 1);
      await store.set("o:\uFF5E", 2);
      await store.set("o:a", 3);
      expect((await store.list("o:")).map((e) => e.key)).toEqual(["o:a", "o:\uFF5E", "o:\u{1F511}"]);
      expect(await store.list("o:", { limit: 0 })).toEqual([]);
    });

    it("refuses undefined values, TTLs that are not finite and positive, and incrementing a non-counter", async () => {
      const store = await open();
      await expect(store.set("u", undefined)).rejects.toThrow(TypeError);
      for (const ttlSeconds of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        await expect(store.set("t", 1, { ttlSeconds })).rejects.toThrow(TypeError);
      }
      await store.set("text", "not a number");
      await expect(store.increment("text")).rejects.toThrow();
      expect(await store.get("text")).toBe("not a number");
    });

    it("stores large values intact", async () => {
      const store = await open();
      const big = { blob: "x".repeat(1_000_000), list: Array.from({ length: 10_000 }, (_, i) => i) };
      await store.set("big", big);
      expect(await store.get("big")).toEqual(big);
      expect(await store.consume("big")).toEqual(big);
    });

    it("lists and revokes grants by user and by client through the authorization server", async () => {
      const store = await open();
      const issuer = "https://as.test";
      const resource = "https://mcp.test/mcp";
      const server = createAuthorizationServer({
        issuer,
        resource,
        scopes: { "mcp:tools": "tools" },
        storage: store,
        interactionUrl: "/login",
        clients: ["a", "b"].map((id) => ({ client_id: id, redirect_uris: ["http://127.0.0.1/cb"], grant_types: ["authorization_code", "refresh_token"] })),
      });
      const guard = createResourceGuard({ resource, authorizationServers: [issuer], verifier: server });
      const verifier = "v".repeat(43);
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
      const challenge = btoa(String.fromCharCode(...digest))
        .replaceAll("+", "-")
        .replaceAll("/", "_")
        .replace(/=+$/, "");
      const signIn = async (clientId: string, subject: string) => {
        const authorize = await server.fetch(
          new Request(`${issuer}/authorize?response_type=code&client_id=${clientId}&code_challenge=${challenge}&code_challenge_method=S256`),
        );
        const requestId = new URL(authorize.headers.get("Location")!).searchParams.get("request_id")!;
        const code = new URL((await server.completeAuthorization(requestId, { subject })).headers.get("Location")!).searchParams.get("code")!;
        const response = await server.fetch(
          new Request(`${issuer}/token`, {
            method: "POST",
            headers: { "Content-Type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: clientId }),
          }),
        );
        return ((await response.json()) as { access_token: string }).access_token;
      };
      const tokens = { aliceA: await signIn("a", "alice"), aliceB: await signIn("b", "alice"), bobA: await signIn("a", "bob") };
      const ids = (grants: { clientId: string; subject: string }[]) => grants.map((g) => `${g.subject}@${g.clientId}`).sort();
      expect(ids(await server.listGrants({ subject: "alice" }))).toEqual(["alice@a", "alice@b"]);
      expect(ids(await server.listGrants({ clientId: "a" }))).toEqual(["alice@a", "bob@a"]);
      expect(await server.revokeGrants({ clientId: "a" })).toBe(2);
      const live = async (token: string) =>
        !((await guard.authenticate(new Request(resource, { headers: { Authorization: `Bearer ${token}` } }))) instanceof Response);
      expect([await live(tokens.aliceA), await live(tokens.aliceB), await live(tokens.bobA)]).toEqual([false, true, false]);
      expect(ids(await server.listGrants({ subject: "alice" }))).toEqual(["alice@b"]);
      expect(await server.revokeGrants({ subject: "alice" })).toBe(1);
      expect(await live(tokens.aliceB)).toBe(false);
    });

    it.skipIf(!harness.reopen)("keeps values and TTLs across a reopen", async () => {
      const store = await harness.open(clock);
      await store.set("durable", { grant: "g" });
      await store.set("expiring", 1, { ttlSeconds: 1 });
      await store.increment("counter", { ttlSeconds: 60 });
      const again = await harness.reopen!(store, clock);
      opened.push(again);
      expect(await again.get("durable")).toEqual({ grant: "g" });
      expect(await again.get("expiring")).toBe(1);
      expect(await again.increment("counter", { ttlSeconds: 60 })).toBe(2);
      await pass(1200);
      expect(await again.get("expiring")).toBeUndefined();
    });
  });
}
