import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createAuthorizationServer, createMemoryStore } from "../index.js";

const server = createAuthorizationServer({
  issuer: "https://as.test",
  resource: "https://as.test/mcp",
  scopes: { "mcp:tools": "Use the tools" },
  storage: createMemoryStore(),
  // Never contacted: a callback this server did not start is refused before the provider is asked.
  upstream: { issuer: "https://idp.invalid", clientId: "portcullis", tokenEncryptionKeys: "A".repeat(43) },
  onError: () => {},
});

const value = fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9_-]{43}$/), fc.constant(""), fc.string({ unit: "grapheme", maxLength: 600 }));
const name = fc.constantFrom("state", "code", "iss", "error", "error_description", "session_state", "x");

describe("Upstream callback with hostile input", () => {
  it("PX-5: any query or cookie it did not issue is a 4xx page: no redirect, no code, never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(name, value), { maxLength: 6 }), fc.option(fc.string(), { nil: undefined }), async (params, cookie) => {
        const url = new URL("https://as.test/upstream/callback");
        for (const [k, v] of params) url.searchParams.append(k, v);
        const response = await server.fetch(
          new Request(url, { headers: cookie ? { Cookie: `__Host-portcullis-upstream-x=${encodeURIComponent(cookie)}` } : {} }),
        );
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
        expect(response.headers.get("Location")).toBeNull();
        expect(response.headers.get("Content-Type")).toContain("text/html");
      }),
      { numRuns: 300, seed: 16 },
    );
  });

  it("answers other methods with 405 and serves no callback without the upstream option", async () => {
    expect((await server.fetch(new Request("https://as.test/upstream/callback", { method: "POST" }))).status).toBe(405);
    const plain = createAuthorizationServer({
      issuer: "https://as.test",
      resource: "https://as.test/mcp",
      scopes: {},
      storage: createMemoryStore(),
      login: { verifyPassword: async () => null },
    });
    expect(plain.owns("/upstream/callback")).toBe(false);
  });
});
