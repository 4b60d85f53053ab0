import { describe, expect, it } from "vitest";
import { createMemoryStore } from "../storage/memory.js";
import type { Storage, StorageWrite } from "../storage/types.js";
import {
  basic,
  CONF_SECRET,
  createClockedServer,
  createTestServer,
  decodeJWT,
  expectTokenError,
  ISSUER,
  obtainConfidentialTokens,
  obtainTokens,
  resourceRequest,
  RESOURCE,
  tokenRequest,
  type Fetch,
} from "../../test/helpers.js";

function refresh(fetch: Fetch, refreshToken: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}) {
  return tokenRequest(fetch, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: "pub", ...extra }, headers);
}

function introspect(fetch: Fetch, token: string) {
  return fetch(`${ISSUER}/introspect`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: basic("conf", CONF_SECRET) },
    body: new URLSearchParams({ token }),
  }).then((r) => r.json() as Promise<Record<string, unknown>>);
}

describe("Refresh token grant (OAuth 2.1 §4.3)", () => {
  it("rotates: the response carries a new refresh token, and the old one is then invalid_grant (AS-RT-1)", async () => {
    const t = createClockedServer();
    const { body } = await obtainTokens(t.fetch, { scope: "mcp:tools" });
    const response = await refresh(t.fetch, body.refresh_token!);
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    const next = (await response.json()) as Record<string, string>;
    expect(next.refresh_token).toBeTypeOf("string");
    expect(next.refresh_token).not.toBe(body.refresh_token);
    expect(next.access_token).not.toBe(body.access_token);
    expect(next.scope).toBe("mcp:tools");
    t.clock.advance(31);
    await expectTokenError(await refresh(t.fetch, body.refresh_token!), "invalid_grant");
  });

  it("revokes the whole grant when a rotated-out refresh token is replayed (AS-RT-2)", async () => {
    const t = createClockedServer();
    const { body } = await obtainTokens(t.fetch);
    const rt2 = (await (await refresh(t.fetch, body.refresh_token!)).json()) as Record<string, string>;
    t.clock.advance(31);
    await expectTokenError(await refresh(t.fetch, body.refresh_token!), "invalid_grant");
    await expectTokenError(await refresh(t.fetch, rt2.refresh_token!), "invalid_grant");
    for (const token of [body.access_token!, rt2.access_token!]) {
      expect(((await t.guard.authenticate(resourceRequest(token))) as Response).status).toBe(401);
    }
    expect(t.events).toContainEqual(expect.objectContaining({ type: "replay.detected", kind: "refresh_token" }));
  });

  it("shows a revoked grant as inactive at introspection after refresh-token reuse (AS-RT-2)", async () => {
    const t = createClockedServer();
    const first = await obtainConfidentialTokens(t.fetch);
    const confRefresh = (token: string) =>
      tokenRequest(t.fetch, { grant_type: "refresh_token", refresh_token: token }, { Authorization: basic("conf", CONF_SECRET) });
    const second = (await (await confRefresh(first.refresh_token!)).json()) as Record<string, string>;
    expect(await introspect(t.fetch, second.access_token!)).toMatchObject({ active: true });
    t.clock.advance(31);
    await expectTokenError(await confRefresh(first.refresh_token!), "invalid_grant");
    expect(await introspect(t.fetch, second.access_token!)).toEqual({ active: false });
    expect(await introspect(t.fetch, second.refresh_token!)).toEqual({ active: false });
  });

  it("binds the refresh token to its client: pub2 presenting pub's token is invalid_grant, and revokes nothing (AS-RT-3)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    await expectTokenError(await refresh(t.fetch, body.refresh_token!, { client_id: "pub2" }), "invalid_grant");
    expect((await refresh(t.fetch, body.refresh_token!)).status).toBe(200);
  });

  it("requires a confidential client to authenticate on refresh (AS-RT-3)", async () => {
    const t = createTestServer();
    const tokens = await obtainConfidentialTokens(t.fetch);
    await expectTokenError(
      await tokenRequest(t.fetch, { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, client_id: "conf" }),
      "invalid_client",
      401,
    );
    const ok = await tokenRequest(
      t.fetch,
      { grant_type: "refresh_token", refresh_token: tokens.refresh_token! },
      { Authorization: basic("conf", CONF_SECRET) },
    );
    expect(ok.status).toBe(200);
  });

  it("refuses a scope beyond the grant with invalid_scope, without spending the token (AS-RT-4, AS-TOKEN-15)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch, { scope: "files:read" });
    await expectTokenError(await refresh(t.fetch, body.refresh_token!, { scope: "files:read files:write" }), "invalid_scope");
    await expectTokenError(await refresh(t.fetch, body.refresh_token!, { scope: "unknown" }), "invalid_scope");
    expect((await refresh(t.fetch, body.refresh_token!)).status).toBe(200);
  });

  it("narrows the access token on a narrower scope while the new refresh token keeps the whole grant (AS-RT-4)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch, { scope: "mcp:tools files:read" });
    const narrowed = (await (await refresh(t.fetch, body.refresh_token!, { scope: "files:read" })).json()) as Record<string, string>;
    expect(narrowed.scope).toBe("files:read");
    expect(decodeJWT(narrowed.access_token!).payload.scope).toBe("files:read");
    const widenedBack = (await (await refresh(t.fetch, narrowed.refresh_token!)).json()) as Record<string, string>;
    expect(widenedBack.scope).toBe("mcp:tools files:read");
  });

  it("refuses a resource other than the authorized one with invalid_target, and keeps the audience otherwise (AS-RT-5)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    await expectTokenError(await refresh(t.fetch, body.refresh_token!, { resource: "https://other.test" }), "invalid_target");
    const ok = (await (await refresh(t.fetch, body.refresh_token!, { resource: RESOURCE })).json()) as Record<string, string>;
    expect(decodeJWT(ok.access_token!).payload.aud).toBe(RESOURCE);
  });

  it("refuses an access token presented as a refresh token with invalid_grant (B26)", async () => {
    const t = createTestServer();
    const { body } = await obtainTokens(t.fetch);
    await expectTokenError(await refresh(t.fetch, body.access_token!), "invalid_grant");
  });

  it("refuses a missing refresh_token with invalid_request, an unknown or oversized one with invalid_grant, and one past the parameter limit with invalid_request", async () => {
    const t = createTestServer();
    await expectTokenError(await tokenRequest(t.fetch, { grant_type: "refresh_token", client_id: "pub" }), "invalid_request");
    await expectTokenError(await refresh(t.fetch, "nope"), "invalid_grant");
    await expectTokenError(await refresh(t.fetch, "r".repeat(600)), "invalid_grant");
    await expectTokenError(await refresh(t.fetch, "r".repeat(5000)), "invalid_request");
  });

  it("expires refresh tokens refreshTokenTtlSeconds after the grant, by the injected clock (AS-RT-6)", async () => {
    const t = createClockedServer({ refreshTokenTtlSeconds: 3600 });
    const { body } = await obtainTokens(t.fetch);
    t.clock.advance(1800);
    const next = (await (await refresh(t.fetch, body.refresh_token!)).json()) as Record<string, string>;
    expect(next.expires_in).toBe(3600);
    t.clock.advance(1801);
    await expectTokenError(await refresh(t.fetch, next.refresh_token!), "invalid_grant");
  });

  it("gives no refresh token to a client not registered for the refresh_token grant, and refuses the grant (unauthorized_client)", async () => {
    const t = createTestServer({ clients: [{ client_id: "once", redirect_uris: ["http://127.0.0.1/cb"], grant_types: ["authorization_code"] }] });
    const { body } = await obtainTokens(t.fetch, {}, "once");
    expect(body.access_token).toBeTypeOf("string");
    expect(body).not.toHaveProperty("refresh_token");
    await expectTokenError(await refresh(t.fetch, "anything", { client_id: "once" }), "unauthorized_client");
  });

  it("answers 503 when a write of the refresh fails (the spent record, the successor, the retry record), never a token response nor an unhandled rejection", async () => {
    // With the store's one-step consumeAndSet, and without it (consume, then set).
    for (const [failing, oneStep] of ["refresh-spent:", "refresh:", "refresh-replay:"].flatMap((f) => [[f, true] as const, [f, false] as const])) {
      let armed = false;
      const { consumeAndSet, ...base } = createMemoryStore();
      const storage: Storage = {
        ...base,
        set: async (key, value, options) => {
          if (armed && key.startsWith(failing)) throw new Error(`store down writing ${failing}`);
          return base.set(key, value, options);
        },
        ...(oneStep
          ? {
              consumeAndSet: async (key: string, entries: readonly StorageWrite[]) => {
                if (armed && entries.some((e) => e.key.startsWith(failing))) throw new Error(`store down writing ${failing}`);
                return consumeAndSet!(key, entries);
              },
            }
          : {}),
      };
      const t = createTestServer({ storage });
      const { body } = await obtainTokens(t.fetch);
      armed = true;
      const response = await refresh(t.fetch, body.refresh_token!);
      expect(response.status, `${failing} ${oneStep}`).toBe(503);
      expect(((await response.json()) as { error: string }).error).toBe("server_error");
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      if (oneStep) {
        // One step: the failed rotation spent nothing, so the client's next try works.
        armed = false;
        expect((await refresh(t.fetch, body.refresh_token!)).status).toBe(200);
      }
    }
  });
});
