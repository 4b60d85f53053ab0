import { afterEach, describe, expect, it, vi } from "vitest";
import type { JWK } from "jose";
import { basic, createClock, form, ISSUER, RESOURCE } from "../../test/helpers.js";
import { instance, MACHINE } from "../../test/key-rotation/suite.js";
import { createAuthorizationServer, SigningKeyUnavailableError, type ServerEvent, type Storage } from "../index.js";
import { createMemoryStore } from "../storage/memory.js";
import { keys as storageKeys } from "../storage/keys.js";

const KEY_A = Buffer.alloc(32, 1).toString("base64url");
const KEY_B = Buffer.alloc(32, 2).toString("base64url");

/** A memory store (behind a wrapper, so it no longer reads as one) that keeps every value written to it, as JSON. */
function recordingStore(now: () => number) {
  const inner = createMemoryStore({ now });
  const written: string[] = [];
  const record = (value: unknown) => {
    written.push(JSON.stringify(value));
  };
  const storage: Storage = {
    ...inner,
    set: (key, value, options) => {
      record(value);
      return inner.set(key, value, options);
    },
    setIfAbsent: (key, value, options) => {
      record(value);
      return inner.setIfAbsent(key, value, options);
    },
    consumeAndSet: (key, entries) => {
      for (const entry of entries) record(entry.value);
      return inner.consumeAndSet!(key, entries);
    },
  };
  return { storage, inner, written };
}

/** Every value the store holds now, as JSON. */
async function dump(storage: Storage): Promise<string[]> {
  return (await storage.list("", { limit: 100_000 })).map((entry) => JSON.stringify(entry.value));
}

interface StoredKeyShape {
  kid: string;
  privateJwk?: JWK;
  sealedPrivateJwk?: { kid: string; data: string };
}

/** The keys of the newest stored version of the key set. */
async function storedKeys(storage: Storage): Promise<StoredKeyShape[]> {
  const versions = await storage.list<{ keys: StoredKeyShape[] }>(storageKeys.signingKeySets());
  return versions.at(-1)!.value.keys;
}

/** A private JWK's `d` member, as it appears in JSON. */
const PRIVATE_MEMBER = /"d"\s*:/;

/** An instance that reports its errors to a list. */
function reporting(storage: Storage, clock: ReturnType<typeof createClock>, overrides: Parameters<typeof instance>[2] = {}) {
  const errors: unknown[] = [];
  const events: ServerEvent[] = [];
  const t = instance(storage, clock, { onError: (error) => errors.push(error), onEvent: (event) => events.push(event), ...overrides });
  const tokenResponse = () =>
    t.server.fetch(
      new Request(
        `${ISSUER}/token`,
        form({ grant_type: "client_credentials", scope: "mcp:tools" }, { Authorization: basic(MACHINE.client_id, MACHINE.client_secret) }),
      ),
    );
  return { ...t, errors, events, tokenResponse };
}

describe("Warning when private signing keys are stored unencrypted", () => {
  afterEach(() => vi.restoreAllMocks());
  const base = { issuer: ISSUER, resource: RESOURCE, scopes: { a: "A" }, login: { verifyPassword: async () => null } };

  // First in the file: the warning is given once per process.
  it("warns once, for a store other than the memory store, without keyEncryptionKeys", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    createAuthorizationServer({ ...base, storage: createMemoryStore() });
    createAuthorizationServer({ ...base, storage: recordingStore(Date.now).storage, keyEncryptionKeys: KEY_A });
    expect(warn).not.toHaveBeenCalled();
    createAuthorizationServer({ ...base, storage: recordingStore(Date.now).storage });
    createAuthorizationServer({ ...base, storage: recordingStore(Date.now).storage });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain("keyEncryptionKeys is not set");
  });
});

describe("Private signing keys encrypted at rest (keyEncryptionKeys)", () => {
  it("no private key member is ever written to the store; tokens sign and verify, across rotations", async () => {
    const clock = createClock();
    const { storage, written } = recordingStore(clock.now);
    const t = instance(storage, clock, { keyEncryptionKeys: KEY_A });
    const first = await t.token();
    expect(await t.status(first.token)).toBe(200);
    const rotated = await t.server.keys.rotate();
    const second = await t.token();
    expect(second.kid).toBe(rotated.kid);
    expect(second.kid).not.toBe(first.kid);
    expect(await t.status(first.token)).toBe(200);
    expect(await t.status(second.token)).toBe(200);
    // Another instance on the store (a restart) opens the same keys.
    const again = instance(storage, clock, { keyEncryptionKeys: KEY_A });
    expect((await again.token()).kid).toBe(rotated.kid);
    expect(await again.status(first.token)).toBe(200);

    expect(written.some((json) => json.includes(first.kid))).toBe(true);
    expect(written.filter((json) => PRIVATE_MEMBER.test(json))).toEqual([]);
    const keys = await storedKeys(storage);
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      expect(key.privateJwk).toBeUndefined();
      expect(key.sealedPrivateJwk?.kid).toMatch(/^[A-Za-z0-9_-]{12}$/);
    }
  });

  it("without it, keys are stored as plain JWKs, as before", async () => {
    const clock = createClock();
    const storage = createMemoryStore({ now: clock.now });
    await instance(storage, clock).token();
    const [key] = await storedKeys(storage);
    expect(key!.privateJwk?.d).toBeTypeOf("string");
    expect(key!.sealedPrivateJwk).toBeUndefined();
  });

  it("encrypts keys stored plain before the option was set, in a new version of the set, and drops the plain versions", async () => {
    const clock = createClock();
    const storage = createMemoryStore({ now: clock.now });
    const before = instance(storage, clock);
    const issued = await before.token();
    await before.server.keys.rotate({ activateInSeconds: 60 });
    const plain = await storedKeys(storage);
    const secrets = plain.map((k) => k.privateJwk!.d!);
    expect(secrets).toHaveLength(2);

    const after = reporting(storage, clock, { keyEncryptionKeys: [{ id: "k1", key: KEY_A }] });
    const signed = await after.token();
    expect(signed.kid).toBe(issued.kid);
    expect(await after.status(issued.token)).toBe(200);
    expect(await after.status(signed.token)).toBe(200);
    expect(after.events.filter((e) => e.type === "signing_keys.changed").map((e) => (e as { change: string }).change)).toEqual(["seal"]);
    const keys = await storedKeys(storage);
    expect(keys.map((k) => k.sealedPrivateJwk?.kid)).toEqual(["k1", "k1"]);
    const stored = await dump(storage);
    for (const secret of secrets) expect(stored.filter((json) => json.includes(secret))).toEqual([]);
    expect(stored.filter((json) => PRIVATE_MEMBER.test(json))).toEqual([]);
    // The waiting key, sealed too, signs when its time comes.
    clock.advance(61);
    const next = await after.token();
    expect(next.kid).toBe(plain[1]!.kid);
    expect(await before.status(next.token)).toBe(200);
  });

  it("rotation of the encryption key: keys sealed under the old id still open while it is listed; new keys are sealed under the first", async () => {
    const clock = createClock();
    const storage = createMemoryStore({ now: clock.now });
    const old = await instance(storage, clock, { keyEncryptionKeys: [{ id: "old", key: KEY_A }] }).token();
    const t = instance(storage, clock, {
      keyEncryptionKeys: [
        { id: "new", key: KEY_B },
        { id: "old", key: KEY_A },
      ],
    });
    expect((await t.token()).kid).toBe(old.kid);
    await t.server.keys.rotate();
    expect((await t.token()).kid).not.toBe(old.kid);
    expect((await storedKeys(storage)).map((k) => k.sealedPrivateJwk?.kid)).toEqual(["old", "new"]);
    expect(await t.status(old.token)).toBe(200);
  });

  it("a key sealed under an id not configured (or without the option): token requests fail with server_error, no detail on the wire, the reason to onError; the JWKS and verification go on, and a rotation signs again", async () => {
    const clock = createClock();
    const storage = createMemoryStore({ now: clock.now });
    const issued = await instance(storage, clock, { keyEncryptionKeys: [{ id: "old", key: KEY_A }] }).token();

    for (const overrides of [{ keyEncryptionKeys: [{ id: "other", key: KEY_B }] }, {}]) {
      const t = reporting(storage, clock, overrides);
      const response = await t.tokenResponse();
      expect(response.status).toBe(500);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).toEqual({ error: "server_error", error_description: "an unexpected error occurred" });
      expect(t.errors).toHaveLength(1);
      expect(t.errors[0]).toBeInstanceOf(SigningKeyUnavailableError);
      expect(String((t.errors[0] as Error).message)).toContain(`keyEncryptionKeys id "old"`);
      expect(String((t.errors[0] as Error).message)).toContain(
        overrides.keyEncryptionKeys ? "is not among the configured" : "needs the keyEncryptionKeys option",
      );
      expect((await t.jwks()).keys.map((k) => k.kid)).toEqual([issued.kid]);
      expect(await t.status(issued.token)).toBe(200);
    }

    const recovered = instance(storage, clock, { keyEncryptionKeys: [{ id: "other", key: KEY_B }] });
    await recovered.server.keys.rotate();
    const fresh = await recovered.token();
    expect(fresh.kid).not.toBe(issued.kid);
    expect(await recovered.status(fresh.token)).toBe(200);
  });

  it("a key sealed under the same id but another key, or an altered record, does not open: a clear error, not a forged key", async () => {
    const clock = createClock();
    const storage = createMemoryStore({ now: clock.now });
    await instance(storage, clock, { keyEncryptionKeys: [{ id: "k", key: KEY_A }] }).token();
    const t = reporting(storage, clock, { keyEncryptionKeys: [{ id: "k", key: KEY_B }] });
    expect((await t.tokenResponse()).status).toBe(500);
    expect(t.errors[0]).toBeInstanceOf(SigningKeyUnavailableError);
    expect((t.errors[0] as Error).message).toContain("does not decrypt");
  });
});

describe("keyEncryptionKeys validation", () => {
  const create = (keyEncryptionKeys: unknown) =>
    createAuthorizationServer({
      issuer: ISSUER,
      resource: RESOURCE,
      scopes: { a: "A" },
      storage: createMemoryStore(),
      login: { verifyPassword: async () => null },
      keyEncryptionKeys: keyEncryptionKeys as string,
    });

  it("takes one key or a list of { id, key }, and refuses anything else with a TypeError naming it", () => {
    expect(() => create(KEY_A)).not.toThrow();
    expect(() =>
      create([
        { id: "a", key: KEY_A },
        { id: "b", key: KEY_B },
      ]),
    ).not.toThrow();
    expect(() => create("short")).toThrow(new TypeError("Portcullis: keyEncryptionKeys must be 32 random bytes, base64url (43 characters)"));
    expect(() => create(Buffer.alloc(31).toString("base64url"))).toThrow(TypeError);
    expect(() =>
      create([
        { id: "a", key: KEY_A },
        { id: "b", key: "nope" },
      ]),
    ).toThrow(new TypeError("Portcullis: keyEncryptionKeys[1].key must be 32 random bytes, base64url (43 characters)"));
    expect(() =>
      create([
        { id: "a", key: KEY_A },
        { id: "a", key: KEY_B },
      ]),
    ).toThrow(new TypeError("Portcullis: keyEncryptionKeys: key id a given twice"));
    expect(() => create([])).toThrow(TypeError);
    expect(() => create([{ id: "", key: KEY_A }])).toThrow(TypeError);
    expect(() => create(42)).toThrow(TypeError);
  });
});
