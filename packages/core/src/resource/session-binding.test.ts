import { describe, expect, it } from "vitest";
import { OAuthError } from "../errors.js";
import { createMemoryStore } from "../storage/memory.js";
import type { Storage } from "../storage/types.js";
import type { AuthInfo, TokenVerifier } from "../types.js";
import { createResourceGuard } from "./guard.js";
import { createSessionCheck } from "./session-binding.js";

const ISSUER = "https://as.test";
const RESOURCE = "https://mcp.test/mcp";

/** Tokens by name: `alice` and `bob` through the same client, `alice-other` Alice through another. */
const verifier: TokenVerifier = {
  async verifyAccessToken(token) {
    const users: Record<string, [string, string]> = { alice: ["alice", "app"], bob: ["bob", "app"], "alice-other": ["alice", "other-app"] };
    const user = Object.hasOwn(users, token) ? users[token] : undefined;
    if (!user) throw new OAuthError("invalid_token", "unknown token");
    return { token, clientId: user[1], scopes: ["mcp:tools"], extra: { sub: user[0] } };
  },
};

type GuardOptions = Parameters<typeof createResourceGuard>[0];
const guardWith = (extra: Partial<GuardOptions> = {}, resource = RESOURCE) =>
  createResourceGuard({ resource, authorizationServers: [ISSUER], verifier, requiredScopes: ["mcp:tools"], ...extra });

const call = (token: string, sessionId?: string, url = RESOURCE) =>
  new Request(url, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...(sessionId ? { "Mcp-Session-Id": sessionId } : {}) },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });

/** Asserts the 404 a stateful MCP server gives an unknown session, and that nothing of the token passed. */
async function expectSessionNotFound(result: AuthInfo | Response) {
  expect(result).toBeInstanceOf(Response);
  const response = result as Response;
  expect(response.status).toBe(404);
  expect(response.headers.get("Cache-Control")).toBe("no-store");
  expect(await response.json()).toEqual({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null });
}

describe("MCP sessions are bound to the user who opened them (Best Practices §Session Hijacking)", () => {
  it("RS-TOK-6: user A's session id with user B's token is a 404, never A's session; A's own token still passes", async () => {
    const guard = guardWith();
    const sessionId = crypto.randomUUID();
    const first = await guard.authenticate(call("alice", sessionId));
    expect(first).not.toBeInstanceOf(Response);
    await expectSessionNotFound(await guard.authenticate(call("bob", sessionId)));
    const again = await guard.authenticate(call("alice", sessionId));
    expect((again as AuthInfo).extra?.sub).toBe("alice");
    // Bob's own session is his.
    const bobs = crypto.randomUUID();
    expect(await guard.authenticate(call("bob", bobs))).not.toBeInstanceOf(Response);
    await expectSessionNotFound(await guard.authenticate(call("alice", bobs)));
  });

  it("RS-TOK-6: binds the client too: the same user through another client does not get the session", async () => {
    const guard = guardWith();
    const sessionId = crypto.randomUUID();
    expect(await guard.authenticate(call("alice", sessionId))).not.toBeInstanceOf(Response);
    await expectSessionNotFound(await guard.authenticate(call("alice-other", sessionId)));
  });

  it("RS-TOK-6: a shared store binds a session across instances, and keeps two resources' sessions apart", async () => {
    const storage = createMemoryStore();
    const one = guardWith({ sessionBinding: { storage } });
    const two = guardWith({ sessionBinding: { storage } });
    const sessionId = crypto.randomUUID();
    expect(await one.authenticate(call("alice", sessionId))).not.toBeInstanceOf(Response);
    await expectSessionNotFound(await two.authenticate(call("bob", sessionId)));
    // The same id minted by another MCP server on the shared store is that server's own session.
    const other = guardWith({ sessionBinding: { storage } }, "https://mcp.test/other");
    expect(await other.authenticate(call("bob", sessionId, "https://mcp.test/other"))).not.toBeInstanceOf(Response);
    // The store holds a hash of the id, never the id.
    const stored = await storage.list("mcp-session:");
    expect(stored).toHaveLength(2);
    for (const { key, value } of stored) {
      expect(key).toMatch(/^mcp-session:[A-Za-z0-9_-]{43}$/);
      expect(JSON.stringify(value)).not.toContain(sessionId);
    }
  });

  it("RS-TOK-6: checks nothing (and stores nothing) for a request without a session id or a valid token", async () => {
    const storage = createMemoryStore();
    const guard = guardWith({ sessionBinding: { storage } });
    expect(await guard.authenticate(call("alice"))).not.toBeInstanceOf(Response);
    expect(((await guard.authenticate(call("mallory", "s-1"))) as Response).status).toBe(401);
    expect(await storage.list("")).toEqual([]);
  });

  it("RS-TOK-6: sessionBinding: false turns the binding off", async () => {
    const guard = guardWith({ sessionBinding: false });
    const sessionId = crypto.randomUUID();
    expect(await guard.authenticate(call("alice", sessionId))).not.toBeInstanceOf(Response);
    expect(await guard.authenticate(call("bob", sessionId))).not.toBeInstanceOf(Response);
  });

  it("RS-TOK-6: a store that fails is a 503 reported to onError, never a pass", async () => {
    const broken = { ...createMemoryStore(), setIfAbsent: async () => Promise.reject(new Error("store down")) } as Storage;
    const errors: unknown[] = [];
    const guard = guardWith({ sessionBinding: { storage: broken }, onError: (error) => errors.push(error) });
    const result = (await guard.authenticate(call("alice", "s-1"))) as Response;
    expect(result.status).toBe(503);
    expect(result.headers.get("Retry-After")).toBe("5");
    expect(errors).toHaveLength(1);
  });

  it("RS-TOK-6: remembers an owner for ttlSeconds after the last write, and writes again past half of it while in use", async () => {
    let now = 1_000_000;
    const storage = createMemoryStore({ now: () => now });
    const check = createSessionCheck({ storage, ttlSeconds: 100 }, () => now)!;
    const alice = { token: "a", clientId: "app", scopes: [], extra: { sub: "alice" } };
    const bob = { token: "b", clientId: "app", scopes: [], extra: { sub: "bob" } };
    expect(await check("s", RESOURCE, alice)).toBe("owner");
    now += 60_000; // past half the TTL: this use writes the record again
    expect(await check("s", RESOURCE, alice)).toBe("owner");
    now += 60_000; // 120 s after the first write, 60 s after the second
    expect(await check("s", RESOURCE, bob)).toBe("other");
    now += 101_000; // forgotten: the session's next user owns it
    expect(await check("s", RESOURCE, bob)).toBe("owner");
  });

  it("RS-TOK-6: one user cannot fill the store: past maxSessionsPerUser new sessions are a 429, others and known sessions still pass", async () => {
    const storage = createMemoryStore();
    const guard = guardWith({ sessionBinding: { storage, maxSessionsPerUser: 3 } });
    const mine = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    for (const id of mine) expect(await guard.authenticate(call("alice", id))).not.toBeInstanceOf(Response);
    const refused = (await guard.authenticate(call("alice", crypto.randomUUID()))) as Response;
    expect(refused).toBeInstanceOf(Response);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("Retry-After")).toBe("60");
    expect((await refused.json()).error.code).toBe(-32001);
    // Her existing sessions keep working; Bob's quota is his own.
    expect(await guard.authenticate(call("alice", mine[0]!))).not.toBeInstanceOf(Response);
    expect(await guard.authenticate(call("bob", crypto.randomUUID()))).not.toBeInstanceOf(Response);
  });

  it("refuses a sessionBinding it cannot use at construction, naming the option", () => {
    expect(() => guardWith({ sessionBinding: { ttlSeconds: 5 } })).toThrow(/sessionBinding\.ttlSeconds/);
    expect(() => guardWith({ sessionBinding: { storage: {} as Storage } })).toThrow(/sessionBinding\.storage/);
    expect(() => guardWith({ sessionBinding: { store: createMemoryStore() } as never })).toThrow(/sessionBinding\.store.*storage/);
    expect(() => guardWith({ sessionBinding: true as never })).toThrow(/sessionBinding/);
  });
});
