import { describe, expect, it } from "vitest";
import { createAuthorizationServer } from "../server.js";
import { createResourceGuard } from "../resource/guard.js";
import type { Storage } from "../storage/types.js";

/** How the concurrency suite opens the store under test. */
export interface ConcurrencyHarness {
  /** A fresh, empty store. */
  open(): Promise<Storage>;
  /** Set to skip the suite (for example, no server to talk to), with the reason printed. */
  skipReason?: string | undefined;
}

const ISSUER = "https://as.test";
const RESOURCE = "https://mcp.test/mcp";
const PARALLEL = 50;
const FORM = { "Content-Type": "application/x-www-form-urlencoded" };

/** A server with the built-in sign-in page whose password check is counted, for the lockout race. */
async function signInPage(storage: Storage) {
  let judged = 0;
  const server = createAuthorizationServer({
    issuer: ISSUER,
    resource: RESOURCE,
    scopes: { "mcp:tools": "tools" },
    storage,
    login: {
      verifyPassword: async ({ username, password }) => {
        judged++;
        return username === "alice" && password === "right" ? { subject: "alice" } : null;
      },
    },
    clients: [{ client_id: "pub", redirect_uris: ["http://127.0.0.1/cb"], grant_types: ["authorization_code", "refresh_token"] }],
    onError: () => {},
  });
  const from = { remoteAddress: "203.0.113.9" };
  /** Opens the page (sequentially) and answers a function that posts `password` on it. */
  const form = async () => {
    const page = await server.fetch(
      new Request(`${ISSUER}/authorize?response_type=code&client_id=pub&code_challenge=${"c".repeat(43)}&code_challenge_method=S256`),
      from,
    );
    const html = await page.text();
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)![1]!;
    const cookie = page.headers.get("Set-Cookie")!.split(";")[0]!;
    const body = { request_id: field("request_id"), csrf_token: field("csrf_token"), username: "alice", decision: "allow" };
    return (password: string) =>
      server.fetch(
        new Request(`${ISSUER}/authorize/consent`, {
          method: "POST",
          headers: { ...FORM, Cookie: cookie },
          body: new URLSearchParams({ ...body, password }),
          redirect: "manual",
        }),
        from,
      );
  };
  return { server, form, judged: () => judged };
}

async function setUp(storage: Storage) {
  const server = createAuthorizationServer({
    issuer: ISSUER,
    resource: RESOURCE,
    scopes: { "mcp:tools": "tools" },
    storage,
    interactionUrl: "/login",
    clients: [{ client_id: "pub", redirect_uris: ["http://127.0.0.1/cb"], grant_types: ["authorization_code", "refresh_token"] }],
    onError: () => {},
  });
  const guard = createResourceGuard({ resource: RESOURCE, authorizationServers: [ISSUER], verifier: server });
  const verifier = "v".repeat(43);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const challenge = btoa(String.fromCharCode(...digest))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replaceAll("=", "");
  const token = (body: Record<string, string>) =>
    server.fetch(
      new Request(`${ISSUER}/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ client_id: "pub", ...body }),
      }),
    );
  const code = async () => {
    const authorize = await server.fetch(
      new Request(`${ISSUER}/authorize?response_type=code&client_id=pub&code_challenge=${challenge}&code_challenge_method=S256`),
    );
    const requestId = new URL(authorize.headers.get("Location")!).searchParams.get("request_id")!;
    return new URL((await server.completeAuthorization(requestId, { subject: "alice" })).headers.get("Location")!).searchParams.get("code")!;
  };
  const live = async (accessToken: string) =>
    !((await guard.authenticate(new Request(RESOURCE, { headers: { Authorization: `Bearer ${accessToken}` } }))) instanceof Response);
  return { token, code, verifier, live };
}

async function settle(responses: Response[]) {
  return Promise.all(responses.map(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> })));
}

/**
 * Races the token endpoint on a store (issue 6): 50 parallel redemptions of one code, and 50
 * parallel refreshes of one refresh token. Exactly one code redemption wins; the refreshes either
 * all carry the same refresh token (a retry within the reuse interval gets it again, with an
 * access token of its own) or are refused, and the one surviving token family works. Never two
 * live families.
 */
export function runConcurrencySuite(name: string, harness: ConcurrencyHarness): void {
  describe.skipIf(Boolean(harness.skipReason))(`Counters and limits under concurrency on ${name}`, () => {
    it(`gives ${PARALLEL} parallel increments of one counter exactly the counts 1 to ${PARALLEL}`, async () => {
      const store = await harness.open();
      try {
        const counts = await Promise.all(Array.from({ length: PARALLEL }, () => store.increment("race:counter", { ttlSeconds: 60 })));
        expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: PARALLEL }, (_, i) => i + 1));
      } finally {
        await store.close?.();
      }
    });

    it("admits exactly `limit` of 20 parallel requests from one address", async () => {
      const store = await harness.open();
      try {
        const server = createAuthorizationServer({
          issuer: ISSUER,
          resource: RESOURCE,
          scopes: { "mcp:tools": "tools" },
          storage: store,
          interactionUrl: "/login",
          rateLimit: { perIp: { token: 5 } },
          onError: () => {},
        });
        const call = () =>
          server.fetch(
            new Request(`${ISSUER}/token`, {
              method: "POST",
              headers: FORM,
              body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: "x", client_id: "pub" }),
            }),
            { remoteAddress: "203.0.113.8" },
          );
        const statuses = (await Promise.all(Array.from({ length: 20 }, call))).map((r) => r.status);
        expect(statuses.filter((s) => s !== 429)).toHaveLength(5);
      } finally {
        await store.close?.();
      }
    });

    it("audit #9: 20 parallel wrong passwords: exactly 5 are judged, the rest are locked out", async () => {
      const store = await harness.open();
      try {
        const { form, judged } = await signInPage(store);
        const posts: ((password: string) => Promise<Response>)[] = [];
        for (let i = 0; i < 20; i++) posts.push(await form());
        const statuses = (await Promise.all(posts.map((post, i) => post(`wrong-${i}`)))).map((r) => r.status);
        expect(judged()).toBe(5);
        expect(statuses.filter((s) => s === 401)).toHaveLength(5);
        expect(statuses.filter((s) => s === 429)).toHaveLength(15);
        // Locked out: not even the right password is checked now.
        expect((await (await form())("right")).status).toBe(429);
        expect(judged()).toBe(5);
      } finally {
        await store.close?.();
      }
    });
  });

  describe.skipIf(Boolean(harness.skipReason))(`Token endpoint concurrency on ${name} (PEERS #7, #22; B21)`, () => {
    it(`redeems one code exactly once under ${PARALLEL} parallel requests`, async () => {
      const store = await harness.open();
      try {
        const { token, code, verifier, live } = await setUp(store);
        const c = await code();
        const results = await settle(
          await Promise.all(Array.from({ length: PARALLEL }, () => token({ grant_type: "authorization_code", code: c, code_verifier: verifier }))),
        );
        const winners = results.filter((r) => r.status === 200);
        expect(winners).toHaveLength(1);
        for (const r of results.filter((r) => r.status !== 200)) {
          expect(r.status).toBe(400);
          expect(r.body.error).toBe("invalid_grant");
        }
        expect(await live(winners[0]!.body.access_token!)).toBe(true);
      } finally {
        await store.close?.();
      }
    });

    it(`answers ${PARALLEL} parallel refreshes of one token with one token family, or refuses them`, async () => {
      const store = await harness.open();
      try {
        const { token, code, verifier, live } = await setUp(store);
        const first = (await (await token({ grant_type: "authorization_code", code: await code(), code_verifier: verifier })).json()) as Record<string, string>;
        const results = await settle(
          await Promise.all(Array.from({ length: PARALLEL }, () => token({ grant_type: "refresh_token", refresh_token: first.refresh_token! }))),
        );
        const winners = results.filter((r) => r.status === 200);
        expect(winners.length).toBeGreaterThanOrEqual(1);
        for (const w of winners) expect(w.body.refresh_token).toBe(winners[0]!.body.refresh_token);
        for (const r of results.filter((r) => r.status !== 200)) {
          expect(r.status).toBe(400);
          expect(r.body.error).toBe("invalid_grant");
        }
        // The one family is live: every access token it was given works and its refresh token rotates.
        const family = winners[0]!.body;
        expect(family.refresh_token).not.toBe(first.refresh_token);
        for (const w of winners) expect(await live(w.body.access_token!)).toBe(true);
        expect((await token({ grant_type: "refresh_token", refresh_token: family.refresh_token! })).status).toBe(200);
      } finally {
        await store.close?.();
      }
    });
  });
}
