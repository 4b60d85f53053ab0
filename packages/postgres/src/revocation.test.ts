import { afterAll, describe, expect, it } from "vitest";
import { createAuthorizationServer, createResourceGuard, type Storage } from "@portcullis/core";
import { createPostgresStore } from "./index.js";
import { freshSchema, postgresSkipReason } from "../test/availability.js";

const skipReason = await postgresSkipReason("postgres revocation");
const schema = freshSchema("revoke");
afterAll(async () => {
  if (!skipReason) await schema.drop();
});

const issuer = "https://as.test";
const resource = "https://mcp.test/mcp";

/** One instance: its own store (its own pool and LISTEN connection) on the shared schema. */
function instance(storage: Storage) {
  const server = createAuthorizationServer({
    issuer,
    resource,
    scopes: { "mcp:tools": "tools" },
    storage,
    interactionUrl: "/login",
    clients: [{ client_id: "pub", redirect_uris: ["http://127.0.0.1/cb"], grant_types: ["authorization_code", "refresh_token"] }],
  });
  const guard = createResourceGuard({ resource, authorizationServers: [issuer], verifier: server });
  const accepts = async (token: string) =>
    !((await guard.authenticate(new Request(resource, { headers: { Authorization: `Bearer ${token}` } }))) instanceof Response);
  return { server, accepts };
}

async function signIn(server: ReturnType<typeof instance>["server"]) {
  const verifier = "v".repeat(43);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const challenge = btoa(String.fromCharCode(...digest))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
  const authorize = await server.fetch(
    new Request(`${issuer}/authorize?response_type=code&client_id=pub&code_challenge=${challenge}&code_challenge_method=S256`),
  );
  const requestId = new URL(authorize.headers.get("Location")!).searchParams.get("request_id")!;
  const code = new URL((await server.completeAuthorization(requestId, { subject: "alice" })).headers.get("Location")!).searchParams.get("code")!;
  const response = await server.fetch(
    new Request(`${issuer}/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: "pub" }),
    }),
  );
  return (await response.json()) as { access_token: string; refresh_token: string };
}

describe.skipIf(Boolean(skipReason))("Two instances on one PostgreSQL", () => {
  it("AS-REV-5: a grant revoked at A is refused at B at once, not after B's grant cache (LISTEN/NOTIFY)", async () => {
    const stores = [createPostgresStore({ url: schema.url }), createPostgresStore({ url: schema.url })];
    try {
      const [a, b] = stores.map(instance) as [ReturnType<typeof instance>, ReturnType<typeof instance>];
      for (let round = 0; round < 3; round++) {
        const tokens = await signIn(a.server);
        // B verifies the token: it now trusts the grant for grantCacheSeconds (2 s).
        expect(await b.accepts(tokens.access_token)).toBe(true);
        expect(await b.accepts(tokens.access_token)).toBe(true);
        const started = Date.now();
        const revoked = await a.server.fetch(
          new Request(`${issuer}/revoke`, {
            method: "POST",
            headers: { "Content-Type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({ token: tokens.refresh_token, client_id: "pub" }),
          }),
        );
        expect(revoked.status).toBe(200);
        await expect.poll(() => b.accepts(tokens.access_token), { interval: 10, timeout: 1_000 }).toBe(false);
        expect(Date.now() - started).toBeLessThan(1_000);
      }
    } finally {
      await Promise.all(stores.map((store) => store.close?.()));
    }
  });
});
