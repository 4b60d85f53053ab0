import { describe, expect, it } from "vitest";
import { createAuthorizationServer } from "../server.js";
import { createResourceGuard } from "../resource/guard.js";
import type { Storage } from "./types.js";

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
  const challenge = btoa(String.fromCharCode(...digest)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
  const token = (body: Record<string, string>) =>
    server.fetch(
      new Request(`${ISSUER}/token`, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ client_id: "pub", ...body }) }),
    );
  const code = async () => {
    const authorize = await server.fetch(new Request(`${ISSUER}/authorize?response_type=code&client_id=pub&code_challenge=${challenge}&code_challenge_method=S256`));
    const requestId = new URL(authorize.headers.get("Location")!).searchParams.get("request_id")!;
    return new URL((await server.completeAuthorization(requestId, { subject: "alice" })).headers.get("Location")!).searchParams.get("code")!;
  };
  const live = async (accessToken: string) => !((await guard.authenticate(new Request(RESOURCE, { headers: { Authorization: `Bearer ${accessToken}` } }))) instanceof Response);
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
  describe.skipIf(Boolean(harness.skipReason))(`Token endpoint concurrency on ${name} (PEERS #7, #22; B21)`, () => {
    it(`redeems one code exactly once under ${PARALLEL} parallel requests`, async () => {
      const store = await harness.open();
      try {
        const { token, code, verifier, live } = await setUp(store);
        const c = await code();
        const results = await settle(await Promise.all(Array.from({ length: PARALLEL }, () => token({ grant_type: "authorization_code", code: c, code_verifier: verifier }))));
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
