import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { createAuthorizationServer, createMemoryStore, createResourceGuard } from "@portcullis/core";
import { oauthRoutes } from "../src/index.js";

const ORIGIN = "http://localhost:9999";

describe("Two MCP endpoints on one origin through oauthRoutes (RFC 9728 §3.1)", () => {
  it("RS-PRM-4: serves each endpoint's document at its own path, and passes the root well-known URL on to the app", async () => {
    const server = createAuthorizationServer({
      issuer: ORIGIN,
      resource: [`${ORIGIN}/mcp`, `${ORIGIN}/other/mcp`],
      scopes: { "mcp:tools": "Use the tools" },
      storage: createMemoryStore(),
      interactionUrl: "/login",
    });
    const guard = (resource: string) => createResourceGuard({ resource, authorizationServers: [ORIGIN], verifier: server, requiredScopes: ["mcp:tools"] });
    const hono = new Hono();
    hono.use(oauthRoutes(server, guard(`${ORIGIN}/mcp`), guard(`${ORIGIN}/other/mcp`)));
    for (const path of ["/mcp", "/other/mcp"]) {
      const response = await hono.request(`${ORIGIN}/.well-known/oauth-protected-resource${path}`);
      expect(response.status, path).toBe(200);
      expect(((await response.json()) as { resource: string }).resource).toBe(`${ORIGIN}${path}`);
    }
    const root = await hono.request(`${ORIGIN}/.well-known/oauth-protected-resource`);
    expect(root.status).toBe(404);
    expect(await root.text()).not.toContain("/mcp");
  });
});
