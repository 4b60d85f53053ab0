import { describe, expect, it } from "vitest";
import { createAuthorizationServer, createResourceGuard, type AuthorizationServerOptions, type Storage } from "../../src/index.js";
import { basic, createClock, decodeJWT, form, ISSUER, RESOURCE, resourceRequest, TEST_CLIENTS, USER } from "../helpers.js";

/** A machine client, so tokens come straight from the token endpoint. */
export const MACHINE = { client_id: "cron", client_secret: "cron-secret-0123456789" };

export type Clock = ReturnType<typeof createClock>;

/**
 * One instance of the authorization server (and its guard) on a store shared with others, all on
 * one injected clock: access tokens live 30 s, clock tolerance 5 s.
 */
export function instance(storage: Storage, clock: Clock, overrides: Partial<AuthorizationServerOptions> = {}) {
  const server = createAuthorizationServer({
    issuer: ISSUER,
    resource: RESOURCE,
    scopes: { "mcp:tools": "Use the MCP tools" },
    machineScopes: ["mcp:tools"],
    storage,
    login: { verifyPassword: async ({ username }) => (username === USER.username ? { subject: username } : null) },
    clients: [...TEST_CLIENTS, { ...MACHINE, grant_types: ["client_credentials"], token_endpoint_auth_method: "client_secret_basic" }],
    accessTokenTtlSeconds: 30,
    clockToleranceSeconds: 5,
    now: clock.now,
    onError: () => {},
    ...overrides,
  });
  const guard = createResourceGuard({ resource: RESOURCE, authorizationServers: [ISSUER], verifier: server, requiredScopes: ["mcp:tools"] });
  const fetch = (path: string, init?: RequestInit) => server.fetch(new Request(`${ISSUER}${path}`, init));
  return {
    server,
    /** A fresh access token, with the `kid` it was signed by. */
    async token() {
      const response = await fetch(
        "/token",
        form({ grant_type: "client_credentials", scope: "mcp:tools" }, { Authorization: basic(MACHINE.client_id, MACHINE.client_secret) }),
      );
      expect(response.status).toBe(200);
      const token = ((await response.json()) as { access_token: string }).access_token;
      return { token, kid: decodeJWT(token).header.kid as string };
    },
    /** The guard's status for a token. */
    async status(token: string) {
      const result = await guard.authenticate(resourceRequest(token));
      return result instanceof Response ? result.status : 200;
    },
    async jwks() {
      const response = await fetch("/jwks.json");
      expect(response.status).toBe(200);
      return (await response.json()) as { keys: { kid: string }[] };
    },
  };
}

/** The kids a JWKS publishes, sorted. */
export const kidsOf = (jwks: { keys: { kid: string }[] }) => jwks.keys.map((k) => k.kid).sort();

/** A store under test: `connect` opens another connection to the same data (another instance's). */
export interface SharedStore {
  connect(): Storage | Promise<Storage>;
  close?(): Promise<void>;
}

/**
 * Several server instances on one store rotate their signing keys together: a rotation is one
 * compare-and-set in the store, so instances rotating at the same moment end with one key set,
 * serve identical JWKS and accept each other's tokens across rotations.
 */
export function describeSharedKeyRotation(name: string, options: { open: (clock: Clock) => Promise<SharedStore>; skipReason?: string }) {
  describe.skipIf(Boolean(options.skipReason))(`Signing-key rotation shared by instances on ${name}`, () => {
    const setup = async (count: number, overrides: Partial<AuthorizationServerOptions> = {}) => {
      const clock = createClock();
      const store = await options.open(clock);
      const instances = [];
      for (let i = 0; i < count; i++) instances.push(instance(await store.connect(), clock, overrides));
      return { clock, store, instances };
    };

    it("AS-JWT-1: instances rotating at the same moment agree on one current key, and accept each other's tokens across it", async () => {
      const { clock, store, instances } = await setup(4);
      try {
        const [a, b] = instances as [ReturnType<typeof instance>, ReturnType<typeof instance>];
        const before = await a.token();
        expect((await b.token()).kid).toBe(before.kid);
        const rotated = await Promise.all(instances.map((i) => i.server.keys.rotate()));
        // One rotation, whoever won: every caller is told the same new key.
        expect(new Set(rotated.map((k) => k.kid)).size).toBe(1);
        expect(rotated[0]!.kid).not.toBe(before.kid);
        clock.advance(1.1);
        const lists = await Promise.all(instances.map((i) => i.server.keys.list()));
        for (const list of lists) expect(list).toEqual(lists[0]);
        expect(lists[0]!.filter((k) => k.status === "current").map((k) => k.kid)).toEqual([rotated[0]!.kid]);
        const jwks = await Promise.all(instances.map((i) => i.jwks()));
        for (const set of jwks) expect(kidsOf(set)).toEqual([before.kid, rotated[0]!.kid].sort());
        // The token from before the rotation still works everywhere; new tokens from any instance work on every other.
        for (const i of instances) expect(await i.status(before.token)).toBe(200);
        const fromB = await b.token();
        expect(fromB.kid).toBe(rotated[0]!.kid);
        expect(await a.status(fromB.token)).toBe(200);
      } finally {
        await store.close?.();
      }
    });

    it("RS-TOK-2: a token signed by a key another instance just created is accepted at once (the unknown kid makes it re-read the store)", async () => {
      const { store, instances } = await setup(2);
      try {
        const [a, b] = instances as [ReturnType<typeof instance>, ReturnType<typeof instance>];
        const old = await b.token();
        expect(await b.status(old.token)).toBe(200);
        const key = await a.server.keys.rotate();
        const fresh = await a.token();
        expect(fresh.kid).toBe(key.kid);
        // B read the set less than a second ago, and has not seen the new key.
        expect(await b.status(fresh.token)).toBe(200);
        expect(kidsOf(await b.jwks())).toEqual(kidsOf(await a.jwks()));
      } finally {
        await store.close?.();
      }
    });

    it("AS-JWT-1: on a schedule, instances asking at the same moment publish one next key, and serve identical JWKS through rotations", async () => {
      const { clock, store, instances } = await setup(3, { signingKeyRotation: { periodSeconds: 20 } });
      try {
        const first = await instances[0]!.token();
        const tokens = [first];
        for (let step = 0; step < 12; step++) {
          clock.advance(5.5);
          const sets = await Promise.all(instances.map((i) => i.jwks()));
          // The instance that wrote a change serves it at once; the others within a second.
          clock.advance(1.1);
          const settled = await Promise.all(instances.map((i) => i.jwks()));
          for (const set of settled) expect(kidsOf(set)).toEqual(kidsOf(settled[0]!));
          expect(sets.length).toBe(3);
          const lists = await Promise.all(instances.map((i) => i.server.keys.list()));
          for (const list of lists) expect(list).toEqual(lists[0]);
          expect(lists[0]!.filter((k) => k.status === "current")).toHaveLength(1);
          expect(lists[0]!.filter((k) => k.status === "next").length).toBeLessThanOrEqual(1);
          const issued = await instances[step % 3]!.token();
          tokens.push(issued);
          // Every token still within its lifetime verifies on every instance.
          for (const t of tokens) {
            const exp = decodeJWT(t.token).payload.exp as number;
            if (exp <= clock.now() / 1000) continue;
            for (const i of instances) expect(await i.status(t.token)).toBe(200);
          }
        }
        // 78 s at a 20 s period: at least three rotations happened.
        expect(new Set(tokens.map((t) => t.kid)).size).toBeGreaterThanOrEqual(4);
      } finally {
        await store.close?.();
      }
    });

    it("AS-JWT-1: rotations and retirements racing from five instances leave one key set with one current key", async () => {
      const { clock, store, instances } = await setup(5);
      try {
        const first = await instances[0]!.token();
        const live = [first];
        for (let round = 0; round < 4; round++) {
          const previous = (await instances[0]!.server.keys.list()).filter((k) => k.status === "previous").map((k) => k.kid);
          await Promise.all(
            instances.map((i, n) => (n < 3 || previous.length === 0 ? i.server.keys.rotate() : i.server.keys.retire(previous[n % previous.length]!))),
          );
          clock.advance(1.1);
          const lists = await Promise.all(instances.map((i) => i.server.keys.list()));
          for (const list of lists) expect(list).toEqual(lists[0]);
          expect(lists[0]!.filter((k) => k.status === "current")).toHaveLength(1);
          const jwks = await Promise.all(instances.map((i) => i.jwks()));
          for (const set of jwks) expect(kidsOf(set)).toEqual(kidsOf(jwks[0]!));
          live.push(await instances[round]!.token());
          // A token verifies everywhere exactly when its key is still published.
          for (const t of live) {
            const published = kidsOf(jwks[0]!).includes(t.kid);
            for (const i of instances) expect(await i.status(t.token)).toBe(published ? 200 : 401);
          }
        }
      } finally {
        await store.close?.();
      }
    });

    it("AS-JWT-1: a key retired on one instance leaves every instance's JWKS, and its tokens are refused everywhere", async () => {
      const { clock, store, instances } = await setup(2);
      try {
        const [a, b] = instances as [ReturnType<typeof instance>, ReturnType<typeof instance>];
        const old = await a.token();
        expect(await b.status(old.token)).toBe(200);
        await a.server.keys.rotate();
        expect(await b.server.keys.retire(old.kid)).toBe(true);
        expect(await b.status(old.token)).toBe(401);
        clock.advance(1.1);
        expect(await a.status(old.token)).toBe(401);
        expect(kidsOf(await a.jwks())).not.toContain(old.kid);
        expect(kidsOf(await a.jwks())).toEqual(kidsOf(await b.jwks()));
        expect(await a.status((await b.token()).token)).toBe(200);
      } finally {
        await store.close?.();
      }
    });
  });
}
