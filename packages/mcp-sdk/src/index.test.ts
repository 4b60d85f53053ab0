import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import { InvalidTokenError, ServerError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import type { AuthInfo as SdkAuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { createMemoryStore, createResourceGuard, jwtTokenVerifier, type AuthorizationServer, type Storage } from "@portcullis/core";
import { createClockedServer, createTestServer, ISSUER, obtainTokens, RESOURCE } from "../../core/test/helpers.js";
import { toSdkVerifier, type SdkTokenVerifier } from "./index.js";

const running: Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

const METADATA_URL = "https://mcp.test/.well-known/oauth-protected-resource/mcp";

/** The SDK's own `requireBearerAuth` on /mcp (and on /admin with a scope the tokens lack), answering the `AuthInfo` it set. */
async function sdkApp(verifier: SdkTokenVerifier) {
  const app = express();
  const answer = (req: express.Request, res: express.Response) => {
    const auth = (req as express.Request & { auth?: SdkAuthInfo }).auth!;
    res.json({ ...auth, resourceIsURL: auth.resource instanceof URL, resource: auth.resource?.href });
  };
  app.post("/mcp", requireBearerAuth({ verifier, requiredScopes: ["mcp:tools"], resourceMetadataUrl: METADATA_URL }), answer);
  app.post("/admin", requireBearerAuth({ verifier, requiredScopes: ["files:write"], resourceMetadataUrl: METADATA_URL }), answer);
  const http = createServer(app);
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  running.push(http);
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return (path: string, token?: string) =>
    fetch(`${base}${path}`, { method: "POST", headers: token === undefined ? {} : { Authorization: `Bearer ${token}` } });
}

/** A store whose reads fail once `failing` is set, as a storage outage would. */
function failingStore() {
  const state = { failing: false };
  const inner = createMemoryStore();
  const storage: Storage = new Proxy(inner, {
    get(target, property) {
      if (property === "get" && state.failing) return () => Promise.reject(new Error("storage down"));
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { storage, state };
}

const sources = {
  "the authorization server": (server: AuthorizationServer, options = {}) => toSdkVerifier(server, options),
  "a resource guard": (server: AuthorizationServer, options = {}) =>
    toSdkVerifier(createResourceGuard({ resource: RESOURCE, authorizationServers: [ISSUER], verifier: server, requiredScopes: ["mcp:tools"] }), options),
};

describe.each(Object.entries(sources))("toSdkVerifier(%s) behind the MCP SDK's requireBearerAuth", (_name, toVerifier) => {
  it("hands the route the SDK's AuthInfo: token, clientId, scopes, expiresAt in seconds, resource as a URL, extra", async () => {
    const { server, fetch: asFetch } = createTestServer();
    const { body } = await obtainTokens(asFetch);
    const call = await sdkApp(toVerifier(server));
    const response = await call("/mcp", body.access_token);
    expect(response.status).toBe(200);
    const auth = (await response.json()) as Record<string, unknown>;
    expect(auth).toMatchObject({ token: body.access_token, clientId: "pub", scopes: ["mcp:tools"], resource: RESOURCE, resourceIsURL: true });
    expect(auth.expiresAt).toBeTypeOf("number");
    expect(Math.abs((auth.expiresAt as number) - (Date.now() / 1000 + Number(body.expires_in)))).toBeLessThan(5);
    expect(auth.extra).toMatchObject({ sub: "alice", iss: ISSUER, preferred_username: "alice" });
  });

  it("RS-401-3: a malformed, unknown or revoked token is the SDK's 401 invalid_token with its challenge", async () => {
    const { server, fetch: asFetch } = createTestServer();
    const { body } = await obtainTokens(asFetch);
    const call = await sdkApp(toVerifier(server));
    const revoked = await asFetch(`${ISSUER}/revoke`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: body.refresh_token!, client_id: "pub" }),
    });
    expect(revoked.status).toBe(200);
    for (const token of ["not-a-jwt", "a,b", "x".repeat(9000), "eyJhbGciOiJub25lIn0.e30.", body.access_token!]) {
      const response = await call("/mcp", token);
      expect(response.status, token.slice(0, 20)).toBe(401);
      expect(response.headers.get("WWW-Authenticate")).toMatch(
        /^Bearer error="invalid_token", error_description="[^"]*", scope="mcp:tools", resource_metadata="https:\/\/mcp\.test\/\.well-known\/oauth-protected-resource\/mcp"$/,
      );
      expect(((await response.json()) as { error: string }).error).toBe("invalid_token");
    }
    // No header at all: the SDK's own challenge, unchanged.
    expect((await call("/mcp")).status).toBe(401);
  });

  it("RS-401-3: an expired token is 401 invalid_token", async () => {
    const { server, fetch: asFetch, clock } = createClockedServer();
    const { body } = await obtainTokens(asFetch);
    const call = await sdkApp(toVerifier(server));
    expect((await call("/mcp", body.access_token)).status).toBe(200);
    clock.advance(Number(body.expires_in) + 120);
    const response = await call("/mcp", body.access_token);
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
  });

  it("RS-403-1: a valid token without the route's requiredScopes is the SDK's 403 insufficient_scope", async () => {
    const { server, fetch: asFetch } = createTestServer();
    const { body } = await obtainTokens(asFetch);
    const response = await (await sdkApp(toVerifier(server)))("/admin", body.access_token);
    expect(response.status).toBe(403);
    expect(response.headers.get("WWW-Authenticate")).toContain('error="insufficient_scope", error_description="Insufficient scope", scope="files:write"');
  });

  it("answers 500 (the SDK's ServerError), never a pass, when the token cannot be checked", async () => {
    const { storage, state } = failingStore();
    const errors: unknown[] = [];
    const { server, fetch: asFetch } = createTestServer({ storage, onError: (error) => errors.push(error) });
    const { body } = await obtainTokens(asFetch);
    const verifier = toVerifier(server, toVerifier === sources["a resource guard"] ? {} : { onError: (error: unknown) => errors.push(error) });
    state.failing = true;
    await expect(verifier.verifyAccessToken(body.access_token!)).rejects.toBeInstanceOf(ServerError);
    const response = await (await sdkApp(verifier))("/mcp", body.access_token);
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain("storage down");
  });
});

describe("toSdkVerifier: the resource a token must be meant for", () => {
  const OTHER = "https://other.test/mcp";

  it("RS-TOK-1: a token meant for another resource of the same server is 401 invalid_token", async () => {
    const { server, fetch: asFetch } = createTestServer({ resource: [RESOURCE, OTHER] });
    const { body } = await obtainTokens(asFetch);
    const forOther = await sdkApp(toSdkVerifier(server, { resource: OTHER }));
    const response = await forOther("/mcp", body.access_token);
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
    expect((await (await sdkApp(toSdkVerifier(server, { resource: RESOURCE })))("/mcp", body.access_token)).status).toBe(200);
  });

  it("RS-TOK-1: a separate resource server verifies with jwtTokenVerifier and its own resource", async () => {
    const { fetch: asFetch } = createTestServer();
    const { body } = await obtainTokens(asFetch);
    // The resource server's own process: the issuer's keys, fetched as it would from jwks_uri.
    const verifier = jwtTokenVerifier({ issuer: ISSUER, jwks: async () => (await asFetch(`${ISSUER}/jwks.json`)).json() });
    expect(() => toSdkVerifier(verifier)).toThrow(/needs the resource/);
    expect((await (await sdkApp(toSdkVerifier(verifier, { resource: RESOURCE })))("/mcp", body.access_token)).status).toBe(200);
    expect((await (await sdkApp(toSdkVerifier(verifier, { resource: OTHER })))("/mcp", body.access_token)).status).toBe(401);
  });

  it("names what is missing when the resource cannot be told, or the source is not Portcullis", () => {
    const { server } = createTestServer({ resource: [RESOURCE, OTHER] });
    expect(() => toSdkVerifier(server)).toThrow(/2 resources; pass toSdkVerifier\(server, \{ resource \}\)/);
    const guard = createResourceGuard({ resource: RESOURCE, authorizationServers: [ISSUER], verifier: server });
    expect(() => toSdkVerifier(guard, { resource: OTHER })).toThrow(TypeError);
    expect(() => toSdkVerifier({} as never)).toThrow(/authorization server, a resource guard, or a token verifier/);
  });

  it("throws the SDK's own InvalidTokenError class, which requireBearerAuth recognises by instanceof", async () => {
    const { server } = createTestServer();
    await expect(toSdkVerifier(server).verifyAccessToken("nope")).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("without the wrapper, the server's own verifyAccessToken says what to use instead", async () => {
    const { server } = createTestServer();
    const bare = server as unknown as SdkTokenVerifier;
    await expect(bare.verifyAccessToken("token")).rejects.toThrow(/toSdkVerifier\(server\) from @portcullis\/mcp-sdk/);
  });
});
