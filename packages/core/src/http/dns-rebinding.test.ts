import { describe, expect, it } from "vitest";
import { createAuthorizationServer } from "../server.js";
import { createResourceGuard } from "../resource/guard.js";
import { createMemoryStore } from "../storage/memory.js";
import { createTestServer, ISSUER, RESOURCE } from "../../test/helpers.js";

function loopback(port = 8787, extra: Partial<Parameters<typeof createAuthorizationServer>[0]> = {}) {
  const issuer = `http://localhost:${port}`;
  const server = createAuthorizationServer({
    issuer,
    resource: `${issuer}/mcp`,
    scopes: { "mcp:tools": "t" },
    storage: createMemoryStore(),
    interactionUrl: "/login",
    onError: () => {},
    ...extra,
  });
  const guard = createResourceGuard({ resource: `${issuer}/mcp`, authorizationServers: [issuer], verifier: server });
  return { server, guard };
}

describe("DNS-rebinding protection for loopback servers (CVE-2025-66414 class, PEERS #16)", () => {
  it("answers a foreign Host with 403 on every endpoint of a loopback issuer, and serves the loopback names", async () => {
    const { server } = loopback();
    for (const path of ["/.well-known/oauth-authorization-server", "/token", "/register", "/jwks.json"]) {
      const evil = await server.fetch(
        new Request(`http://rebind.evil.test:8787${path}`, { method: path === "/token" || path === "/register" ? "POST" : "GET" }),
      );
      expect(evil.status, path).toBe(403);
    }
    const page = await server.fetch(new Request("http://rebind.evil.test:8787/authorize?client_id=x"));
    expect(page.status).toBe(403);
    expect(page.headers.get("Content-Type")).toMatch(/^text\/html/);
    for (const host of ["localhost:8787", "127.0.0.1:8787", "[::1]:8787", "LOCALHOST:8787"]) {
      expect((await server.fetch(new Request(`http://${host}/.well-known/oauth-authorization-server`))).status, host).toBe(200);
    }
  });

  it("checks the Host header too when it differs from the URL", async () => {
    const { server } = loopback();
    const forged = new Request("http://localhost:8787/.well-known/oauth-authorization-server", { headers: { Host: "rebind.evil.test:8787" } });
    expect((await server.fetch(forged)).status).toBe(403);
  });

  it("refuses a foreign Host at a loopback resource guard: authenticate, preflight and metadata", async () => {
    const { guard } = loopback();
    const evil = "http://rebind.evil.test:8787";
    const auth = await guard.authenticate(new Request(`${evil}/mcp`, { method: "POST" }));
    expect((auth as Response).status).toBe(403);
    expect(guard.preflight(new Request(`${evil}/mcp`, { method: "OPTIONS" })).status).toBe(403);
    expect((await guard.handle(new Request(`${evil}/.well-known/oauth-protected-resource/mcp`)))!.status).toBe(403);
    const ok = await guard.authenticate(new Request("http://127.0.0.1:8787/mcp", { method: "POST" }));
    expect((ok as Response).status).toBe(401);
  });

  it("does not check hosts for a public issuer by default, and follows an explicit allowedHosts list", async () => {
    const t = createTestServer();
    expect((await t.fetch("https://other-name.test/.well-known/oauth-authorization-server")).status).toBe(200);
    const strict = createTestServer({ allowedHosts: ["as.test"] });
    expect((await strict.fetch(`${ISSUER}/.well-known/oauth-authorization-server`)).status).toBe(200);
    expect((await strict.fetch("https://other-name.test/.well-known/oauth-authorization-server")).status).toBe(403);
    const open = loopback(8787, { allowedHosts: "*" });
    expect((await open.server.fetch(new Request("http://rebind.evil.test:8787/jwks.json"))).status).toBe(200);
    const ported = loopback(8787, { allowedHosts: ["localhost:8787"] });
    expect((await ported.server.fetch(new Request("http://localhost:9999/jwks.json"))).status).toBe(403);
    const guard = createResourceGuard({ resource: RESOURCE, authorizationServers: [ISSUER], verifier: t.server, allowedHosts: ["mcp.test"] });
    expect(((await guard.authenticate(new Request("https://elsewhere.test/mcp"))) as Response).status).toBe(403);
  });

  it("refuses a malformed allowedHosts entry with a TypeError", () => {
    expect(() => createTestServer({ allowedHosts: ["https://as.test/"] })).toThrow(TypeError);
    expect(() => createTestServer({ allowedHosts: [""] })).toThrow(TypeError);
  });
});
