import { describe, expect, it } from "vitest";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { createClock, ISSUER } from "../../test/helpers.js";
import { describeSharedKeyRotation, instance, kidsOf } from "../../test/key-rotation/suite.js";
import { jwtTokenVerifier } from "../resource/jwt-verifier.js";
import { createMemoryStore } from "../storage/memory.js";
import { keys as storageKeys } from "../storage/keys.js";

/** One instance on a memory store and an injected clock: tokens live 30 s, tolerance 5 s. */
function setup(periodSeconds?: number) {
  const clock = createClock();
  const storage = createMemoryStore({ now: clock.now });
  const t = instance(storage, clock, periodSeconds ? { signingKeyRotation: { periodSeconds } } : {});
  return { clock, storage, ...t };
}

/** The private keys the store still holds, across every live version of the key set. */
async function storedKids(storage: ReturnType<typeof createMemoryStore>) {
  const versions = await storage.list<{ keys: { kid: string; privateJwk: JWK }[] }>(storageKeys.signingKeySets());
  const head = versions.at(-1)!.value;
  return head.keys.map((k) => k.kid).sort();
}

describe("Signing-key rotation on a schedule", () => {
  it("AS-JWT-1: publishes the next key at least half a period before it signs with it", async () => {
    const { clock, server, token, jwks } = setup(100);
    const first = await token();
    const next = (await server.keys.list()).find((k) => k.status === "next")!;
    // Published as soon as the current key signs, to sign a period after it started.
    expect(next.activeFrom - clock.now()).toBe(100_000);
    expect(kidsOf(await jwks())).toEqual([first.kid, next.kid].sort());
    clock.advance(99);
    expect((await token()).kid).toBe(first.kid);
    clock.advance(1.5);
    expect((await token()).kid).toBe(next.kid);
    // And the one after it, at once.
    const third = (await server.keys.list()).find((k) => k.status === "next")!;
    expect(third.activeFrom - next.activeFrom).toBe(100_000);
    expect(kidsOf(await jwks())).toEqual([first.kid, next.kid, third.kid].sort());
  });

  it("AS-JWT-1: an instance that starts late (the schedule overdue) still publishes the next key half a period before it signs", async () => {
    const clock = createClock();
    const storage = createMemoryStore({ now: clock.now });
    const a = instance(storage, clock);
    const first = await a.token();
    clock.advance(1000);
    const b = instance(storage, clock, { signingKeyRotation: { periodSeconds: 100 } });
    expect((await b.token()).kid).toBe(first.kid);
    const next = (await b.server.keys.list()).find((k) => k.status === "next")!;
    expect(next.activeFrom - clock.now()).toBe(50_000);
    clock.advance(49);
    expect((await b.token()).kid).toBe(first.kid);
    clock.advance(1);
    expect((await b.token()).kid).toBe(next.kid);
  });

  it("AS-JWT-1: keeps the previous key published until every token it signed has expired (TTL plus clock tolerance), then drops it from the JWKS and the store", async () => {
    const { clock, storage, server, token, jwks, status } = setup(100);
    await jwks();
    clock.advance(99);
    const last = await token(); // signed by the first key a second before it stops signing, expires at 129 s
    clock.advance(1.5);
    const next = await token();
    expect(next.kid).not.toBe(last.kid);
    const previous = (await server.keys.list()).find((k) => k.kid === last.kid)!;
    expect(previous.status).toBe("previous");
    // It stopped signing at 100 s: published until 100 + 30 + 5.
    expect(previous.publishedUntil! - previous.activeFrom).toBe(135_000);
    clock.advance(28); // 128.5 s
    expect(await status(last.token)).toBe(200);
    expect(kidsOf(await jwks())).toContain(last.kid);
    clock.advance(6); // 134.5 s: past exp, within the clock tolerance a verifier may allow
    expect(kidsOf(await jwks())).toContain(last.kid);
    clock.advance(1); // 135.5 s: every token it signed has expired
    expect(kidsOf(await jwks())).not.toContain(last.kid);
    expect(await storedKids(storage)).not.toContain(last.kid);
    const now = await token();
    expect(now.kid).toBe(next.kid);
    expect(await status(now.token)).toBe(200);
  });

  it("RS-TOK-2: a token issued before a rotation is accepted after it by the server's guard and by a remote verifier reading /jwks.json, which never needs a refetch", async () => {
    const { clock, server, token, status } = setup(40);
    let fetches = 0;
    const remote = jwtTokenVerifier({
      issuer: ISSUER,
      jwks: async () => {
        fetches++;
        return (await (await server.fetch(new Request(`${ISSUER}/jwks.json`))).json()) as { keys: JWK[] };
      },
      clockToleranceSeconds: 5,
      now: clock.now,
    });
    const resource = { resource: "https://mcp.test/mcp" };
    await token();
    clock.advance(31);
    const before = await token();
    expect((await remote.verifyAccessToken(before.token, resource)).clientId).toBe("cron");
    expect(fetches).toBe(1);
    clock.advance(10); // 41 s: the next key signs
    const after = await token();
    expect(after.kid).not.toBe(before.kid);
    expect(await status(before.token)).toBe(200);
    expect(await status(after.token)).toBe(200);
    expect((await remote.verifyAccessToken(before.token, resource)).clientId).toBe("cron");
    expect((await remote.verifyAccessToken(after.token, resource)).clientId).toBe("cron");
    // It had the new key since before it signed anything.
    expect(fetches).toBe(1);
  });

  it("caps the JWKS cache lifetime at half a period, so a cached set is never missing the key that signs", async () => {
    const fetchJwks = async (periodSeconds?: number) =>
      (await setup(periodSeconds).server.fetch(new Request(`${ISSUER}/jwks.json`))).headers.get("Cache-Control");
    expect(await fetchJwks()).toBe("public, max-age=300");
    expect(await fetchJwks(60)).toBe("public, max-age=30");
    expect(await fetchJwks(86_400)).toBe("public, max-age=300");
  });

  it("refuses a period under 2 seconds and accepts false (off)", () => {
    const clock = createClock();
    expect(() => instance(createMemoryStore(), clock, { signingKeyRotation: { periodSeconds: 1 } })).toThrow(/signingKeyRotation/);
    expect(() => instance(createMemoryStore(), clock, { signingKeyRotation: false })).not.toThrow();
  });

  it("without a schedule, the key never changes by itself", async () => {
    const { clock, token } = setup();
    const first = await token();
    clock.advance(86_400 * 30);
    expect((await token()).kid).toBe(first.kid);
  });
});

describe("Manual rotation and retirement (server.keys)", () => {
  it("AS-JWT-1: rotate() signs with a new key at once and keeps the old one until its tokens expire", async () => {
    const { clock, server, token, jwks, status } = setup();
    const old = await token();
    const key = await server.keys.rotate();
    expect(key.status).toBe("current");
    expect(key.kid).not.toBe(old.kid);
    expect((await token()).kid).toBe(key.kid);
    expect(kidsOf(await jwks())).toEqual([old.kid, key.kid].sort());
    expect(await status(old.token)).toBe(200);
    const listed = await server.keys.list();
    expect(listed.map((k) => [k.kid, k.status])).toEqual([
      [old.kid, "previous"],
      [key.kid, "current"],
    ]);
    expect(listed[0]!.publishedUntil).toBe(key.activeFrom + 35_000);
    clock.advance(36);
    expect(kidsOf(await jwks())).toEqual([key.kid]);
  });

  it("rotate({ activateInSeconds }) publishes the key first and signs with it only then", async () => {
    const { clock, server, token, jwks } = setup();
    const old = await token();
    const key = await server.keys.rotate({ activateInSeconds: 10 });
    expect(key.status).toBe("next");
    expect(kidsOf(await jwks())).toEqual([old.kid, key.kid].sort());
    expect((await token()).kid).toBe(old.kid);
    clock.advance(10);
    expect((await token()).kid).toBe(key.kid);
    await expect(server.keys.rotate({ activateInSeconds: -1 })).rejects.toThrow(TypeError);
  });

  it("rotate() promotes the scheduled next key rather than making another", async () => {
    const { clock, server, token } = setup(100);
    await token();
    clock.advance(60);
    const next = (await server.keys.list()).find((k) => k.status === "next")!;
    const key = await server.keys.rotate();
    expect(key.kid).toBe(next.kid);
    expect((await token()).kid).toBe(next.kid);
    // The schedule goes on from the promoted key: its successor is published at once.
    clock.advance(1.1);
    expect((await server.keys.list()).map((k) => k.status)).toEqual(["previous", "current", "next"]);
  });

  it("RS-TOK-2: retire(kid) withdraws a key at once: out of the JWKS and the store, its tokens refused even though they verified before", async () => {
    const { storage, server, token, jwks, status } = setup();
    const old = await token();
    expect(await status(old.token)).toBe(200);
    const key = await server.keys.rotate();
    expect(await server.keys.retire(old.kid)).toBe(true);
    expect(await status(old.token)).toBe(401);
    expect(kidsOf(await jwks())).toEqual([key.kid]);
    expect(await storedKids(storage)).toEqual([key.kid]);
    expect(await server.keys.retire("no-such-key")).toBe(false);
  });

  it("retire() of the key that signs rotates first, so tokens keep being issued", async () => {
    const { server, token, status } = setup();
    const old = await token();
    expect(await server.keys.retire(old.kid)).toBe(true);
    const fresh = await token();
    expect(fresh.kid).not.toBe(old.kid);
    expect(await status(old.token)).toBe(401);
    expect(await status(fresh.token)).toBe(200);
    expect((await server.keys.list()).map((k) => k.kid)).toEqual([fresh.kid]);
  });

  it("tells onEvent of each change it writes, naming a retired key", async () => {
    const clock = createClock();
    const events: { type: string; change?: string; retired?: string; kids?: string[] }[] = [];
    const t = instance(createMemoryStore({ now: clock.now }), clock, { onEvent: (event) => events.push(event) });
    const first = await t.token();
    const key = await t.server.keys.rotate();
    await t.server.keys.retire(first.kid);
    const changes = events.filter((e) => e.type === "signing_keys.changed");
    expect(changes.map((e) => e.change)).toEqual(["create", "rotate", "retire"]);
    expect(changes[2]).toMatchObject({ retired: first.kid, kids: [key.kid] });
    expect(JSON.stringify(changes)).not.toMatch(/"d":|privateJwk/);
  });

  it("the JWKS and the list never show a private key", async () => {
    const { server, jwks } = setup();
    await server.keys.rotate({ activateInSeconds: 5 });
    for (const key of (await jwks()).keys) expect(key).not.toHaveProperty("d");
    for (const key of await server.keys.list()) expect(JSON.stringify(key)).not.toMatch(/"d"|privateJwk/);
  });
});

describe("Key set storage", () => {
  it("carries over the single key set of earlier releases: its tokens keep verifying, and the old record goes", async () => {
    const clock = createClock();
    const storage = createMemoryStore({ now: clock.now });
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const kid = "legacy-key";
    await storage.set(storageKeys.signingKeys(), [
      {
        kid,
        alg: "ES256",
        privateJwk: { ...(await exportJWK(privateKey)), kid, alg: "ES256" },
        publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" },
        createdAt: clock.now() - 1000,
      },
    ]);
    const t = instance(storage, clock);
    const issued = await t.token();
    expect(issued.kid).toBe(kid);
    expect(await t.status(issued.token)).toBe(200);
    expect(await storage.get(storageKeys.signingKeys())).toBeUndefined();
  });

  it("finds the newest version when the hint is missing (a writer stopped after writing its version) or names a version gone already", async () => {
    const clock = createClock();
    const storage = createMemoryStore({ now: clock.now });
    const a = instance(storage, clock);
    const first = await a.token();
    await storage.delete(storageKeys.signingKeyHead());
    expect((await instance(storage, clock).token()).kid).toBe(first.kid);
    const rotated = await a.server.keys.rotate();
    await a.server.keys.rotate({ activateInSeconds: 60 });
    // The hint points at version 1, which has expired.
    await storage.set(storageKeys.signingKeyHead(), 1);
    await storage.delete(storageKeys.signingKeySet(1));
    const c = instance(storage, clock);
    expect((await c.token()).kid).toBe(rotated.kid);
    expect(await c.server.keys.list()).toEqual(await a.server.keys.list());
  });

  it("an instance whose re-read fails keeps serving the keys it has, and reports the failure", async () => {
    const clock = createClock();
    const storage = createMemoryStore({ now: clock.now });
    let failing = false;
    const errors: unknown[] = [];
    const flaky = { ...storage, get: async <T>(key: string) => (failing ? Promise.reject(new Error("store down")) : storage.get<T>(key)) };
    const t = instance(flaky, clock, { onError: (error) => errors.push(error) });
    const issued = await t.token();
    failing = true;
    clock.advance(2);
    expect(kidsOf(await t.jwks())).toEqual([issued.kid]);
    expect(errors.length).toBeGreaterThan(0);
  });
});

describeSharedKeyRotation("one memory store", {
  open: async (clock) => {
    const storage = createMemoryStore({ now: clock.now });
    return { connect: () => storage };
  },
});
