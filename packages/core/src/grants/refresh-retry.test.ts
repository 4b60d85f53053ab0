import { describe, expect, it } from "vitest";
import { createClock, createTestServer, expectTokenError, obtainTokens, resourceRequest, tokenRequest, type Fetch } from "../../test/helpers.js";
import { createMemoryStore } from "../storage/memory.js";
import type { Storage } from "../storage/types.js";

const refresh = (fetch: Fetch, token: string, extra: Record<string, string> = {}) =>
  tokenRequest(fetch, { grant_type: "refresh_token", refresh_token: token, client_id: "pub", ...extra });

/** A clocked server over a memory store that also records every value written. */
function recordingServer(overrides: Parameters<typeof createTestServer>[0] = {}) {
  const clock = createClock();
  const inner = createMemoryStore({ now: clock.now });
  const written: string[] = [];
  const storage: Storage = {
    ...inner,
    async set(key, value, options) {
      written.push(`${key}=${JSON.stringify(value)}`);
      return inner.set(key, value, options);
    },
    async setIfAbsent(key, value, options) {
      written.push(`${key}=${JSON.stringify(value)}`);
      return inner.setIfAbsent(key, value, options);
    },
    async consumeAndSet(key, entries) {
      for (const entry of entries) written.push(`${entry.key}=${JSON.stringify(entry.value)}`);
      return inner.consumeAndSet!(key, entries);
    },
  };
  return { ...createTestServer({ now: clock.now, storage, ...overrides }), clock, written };
}

const isLive = async (t: ReturnType<typeof createTestServer>, accessToken: string) =>
  !((await t.guard.authenticate(resourceRequest(accessToken))) instanceof Response);

describe("Refresh token retry within the reuse interval (RFC 9700 §4.14.2, PEERS #7)", () => {
  it("gives a client that lost the response the same refresh token again, with a new access token, within 30 s by default", async () => {
    const t = recordingServer();
    const { body } = await obtainTokens(t.fetch, { scope: "mcp:tools files:read" });
    const first = await refresh(t.fetch, body.refresh_token!, { scope: "mcp:tools" });
    expect(first.status).toBe(200);
    const lost = (await first.json()) as Record<string, string | number>;
    t.clock.advance(29);
    const retry = await refresh(t.fetch, body.refresh_token!, { scope: "mcp:tools" });
    expect(retry.status).toBe(200);
    expect(retry.headers.get("Cache-Control")).toBe("no-store");
    const again = (await retry.json()) as Record<string, string | number>;
    expect(again).toMatchObject({ refresh_token: lost.refresh_token, scope: "mcp:tools", token_type: "Bearer", expires_in: lost.expires_in });
    expect(again.access_token).not.toBe(lost.access_token);
    // Both access tokens work: whichever response the client kept, it holds a live pair.
    expect(await isLive(t, String(lost.access_token))).toBe(true);
    expect(await isLive(t, String(again.access_token))).toBe(true);
    // A second retry still gets the same successor, which then rotates normally, once.
    const twice = (await (await refresh(t.fetch, body.refresh_token!, { scope: "mcp:tools" })).json()) as Record<string, string>;
    expect(twice.refresh_token).toBe(lost.refresh_token);
    expect((await refresh(t.fetch, String(lost.refresh_token))).status).toBe(200);
    expect(t.events).toContainEqual(expect.objectContaining({ type: "token.refreshed", replayed: true }));
    expect(t.events).not.toContainEqual(expect.objectContaining({ type: "replay.detected" }));
  });

  it("keeps the successor hidden: the store never holds the issued access or refresh token", async () => {
    const t = recordingServer();
    const { body } = await obtainTokens(t.fetch);
    const next = (await (await refresh(t.fetch, body.refresh_token!)).json()) as Record<string, string>;
    const dump = t.written.join("\n");
    expect(dump).toContain("refresh-replay:");
    for (const secret of [body.access_token!, body.refresh_token!, next.access_token!, next.refresh_token!]) expect(dump).not.toContain(secret);
  });

  it("treats reuse after the interval as theft: invalid_grant, and the whole grant is revoked", async () => {
    const t = recordingServer();
    const { body } = await obtainTokens(t.fetch);
    const next = (await (await refresh(t.fetch, body.refresh_token!)).json()) as Record<string, string>;
    t.clock.advance(30);
    await expectTokenError(await refresh(t.fetch, body.refresh_token!), "invalid_grant");
    expect(await isLive(t, next.access_token!)).toBe(false);
    await expectTokenError(await refresh(t.fetch, next.refresh_token!), "invalid_grant");
    expect(t.events).toContainEqual(expect.objectContaining({ type: "replay.detected", kind: "refresh_token" }));
  });

  it("follows refreshTokenReuseIntervalSeconds, and 0 turns the retry off", async () => {
    const off = recordingServer({ refreshTokenReuseIntervalSeconds: 0 });
    const a = await obtainTokens(off.fetch);
    const rotated = (await (await refresh(off.fetch, a.body.refresh_token!)).json()) as Record<string, string>;
    await expectTokenError(await refresh(off.fetch, a.body.refresh_token!), "invalid_grant");
    expect(await isLive(off, rotated.access_token!)).toBe(false);

    const long = recordingServer({ refreshTokenReuseIntervalSeconds: 120 });
    const b = await obtainTokens(long.fetch);
    await refresh(long.fetch, b.body.refresh_token!);
    long.clock.advance(100);
    expect((await refresh(long.fetch, b.body.refresh_token!)).status).toBe(200);
    expect(() => createTestServer({ refreshTokenReuseIntervalSeconds: 301 })).toThrow(TypeError);
  });

  it("revokes when the old token comes back after its successor was used: no retry, and the concurrent child dies too (PEERS #11)", async () => {
    const t = recordingServer();
    const { body } = await obtainTokens(t.fetch);
    const second = (await (await refresh(t.fetch, body.refresh_token!)).json()) as Record<string, string>;
    const third = (await (await refresh(t.fetch, second.refresh_token!)).json()) as Record<string, string>;
    await expectTokenError(await refresh(t.fetch, body.refresh_token!), "invalid_grant");
    expect(await isLive(t, third.access_token!)).toBe(false);
    await expectTokenError(await refresh(t.fetch, third.refresh_token!), "invalid_grant");
  });

  it("revokes when the second request is not the same request (another scope or resource)", async () => {
    const t = recordingServer();
    const { body } = await obtainTokens(t.fetch, { scope: "mcp:tools files:read" });
    const next = (await (await refresh(t.fetch, body.refresh_token!)).json()) as Record<string, string>;
    await expectTokenError(await refresh(t.fetch, body.refresh_token!, { scope: "files:read" }), "invalid_grant");
    expect(await isLive(t, next.access_token!)).toBe(false);
  });

  it("gives no retry to another client, and revokes nothing for it (AS-RT-3)", async () => {
    const t = recordingServer();
    const { body } = await obtainTokens(t.fetch);
    const next = (await (await refresh(t.fetch, body.refresh_token!)).json()) as Record<string, string>;
    await expectTokenError(await refresh(t.fetch, body.refresh_token!, { client_id: "pub2" }), "invalid_grant");
    expect(await isLive(t, next.access_token!)).toBe(true);
  });

  it("gives no retry once the grant is revoked", async () => {
    const t = recordingServer();
    const { body } = await obtainTokens(t.fetch);
    const next = (await (await refresh(t.fetch, body.refresh_token!)).json()) as Record<string, string>;
    const revoked = await t.fetch("https://as.test/revoke", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: next.access_token!, client_id: "pub" }),
    });
    expect(revoked.status).toBe(200);
    await expectTokenError(await refresh(t.fetch, body.refresh_token!), "invalid_grant");
  });
});
