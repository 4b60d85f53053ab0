import { fileURLToPath } from "node:url";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundle, startWorkerd } from "./workerd.js";

const ISSUER = "https://mcp.example";
let mf: Miniflare;

beforeAll(async () => {
  const script = await bundle(fileURLToPath(new URL("./wrapper-worker.ts", import.meta.url)));
  ({ mf } = await startWorkerd(script, { bindings: { ISSUER } }));
}, 60_000);
afterAll(async () => {
  await mf?.dispose();
});

const get = (path: string, headers: Record<string, string> = {}, method = "GET") =>
  mf.dispatchFetch(`${ISSUER}${path}`, { method, headers, redirect: "manual" });

describe("withPortcullis in workerd", () => {
  it("serves the authorization server's and the guard's metadata before the app sees the request", async () => {
    const as = await get("/.well-known/oauth-authorization-server");
    expect(as.status).toBe(200);
    expect(((await as.json()) as { issuer: string }).issuer).toBe(ISSUER);
    const prm = await get("/.well-known/oauth-protected-resource/mcp");
    expect(((await prm.json()) as { resource: string }).resource).toBe(`${ISSUER}/mcp`);
  });

  it("guards the resource path and the paths below it, handing AuthInfo to the app", async () => {
    for (const path of ["/mcp", "/mcp/tools"]) {
      const refused = await get(path);
      expect(refused.status).toBe(401);
      expect(refused.headers.get("WWW-Authenticate")).toContain(`resource_metadata="${ISSUER}/.well-known/oauth-protected-resource/mcp"`);
      await refused.arrayBuffer();
      const allowed = await get(path, { Authorization: "Bearer good" });
      expect(allowed.status).toBe(200);
      expect(await allowed.json()).toEqual({ path, auth: { clientId: "c1", scopes: ["mcp:tools"] } });
    }
  });

  it("answers 401 invalid_token and 403 insufficient_scope itself", async () => {
    const bad = await get("/mcp", { Authorization: "Bearer nope" });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
    await bad.arrayBuffer();
    const narrow = await get("/mcp", { Authorization: "Bearer narrow" });
    expect(narrow.status).toBe(403);
    expect(narrow.headers.get("WWW-Authenticate")).toContain('error="insufficient_scope"');
    await narrow.arrayBuffer();
  });

  it("passes other paths to the app without a token, and without AuthInfo", async () => {
    for (const path of ["/", "/mcpx", "/public"]) {
      const response = await get(path, { Authorization: "Bearer good" });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ path, auth: null });
    }
  });

  it("answers CORS preflight and adds CORS headers even to a response with immutable headers", async () => {
    const preflight = await get("/mcp", { Origin: ISSUER, "Access-Control-Request-Method": "POST" }, "OPTIONS");
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe(ISSUER);
    const foreign = await get("/mcp", { Origin: "https://evil.example", Authorization: "Bearer good" });
    expect(foreign.status).toBe(403);
    await foreign.arrayBuffer();
    const redirect = await get("/mcp/redirect", { Origin: ISSUER, Authorization: "Bearer good" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("Location")).toBe("https://elsewhere.example/");
    expect(redirect.headers.get("Access-Control-Allow-Origin")).toBe(ISSUER);
  });

  it("counts per-address rate limits by CF-Connecting-IP, the address Cloudflare's edge sets", async () => {
    const register = (ip: string) =>
      mf.dispatchFetch(`${ISSUER}/register`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "CF-Connecting-IP": ip },
        body: JSON.stringify({ redirect_uris: ["http://127.0.0.1/cb"], token_endpoint_auth_method: "none" }),
      });
    expect((await register("198.51.100.7")).status).toBe(201);
    expect((await register("198.51.100.7")).status).toBe(201);
    const limited = await register("198.51.100.7");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("Retry-After")).toMatch(/^\d+$/);
    expect((await register("203.0.113.9")).status).toBe(201);
  });

  it("builds the server and guard once per env, not once per request", async () => {
    await Promise.all(Array.from({ length: 5 }, async () => (await get("/public")).arrayBuffer()));
    expect(await (await get("/setups")).json()).toEqual({ setups: 1 });
  });
});
