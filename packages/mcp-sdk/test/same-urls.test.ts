import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { mcpAuthRouter } from "@modelcontextprotocol/sdk/server/auth/router.js";
import { DemoInMemoryAuthProvider } from "@modelcontextprotocol/sdk/examples/server/demoInMemoryOAuthProvider.js";
import { discoverOAuthServerInfo, registerClient } from "@modelcontextprotocol/sdk/client/auth.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuthorizationServer, createMemoryStore, createResourceGuard } from "@portcullis/core";
import { oauthRouter } from "@portcullis/express";

/**
 * The SDK's `mcpAuthRouter` and Portcullis, each mounted at the root of an Express app the same
 * way (issuer = the app's origin, MCP at /mcp): what an SDK client discovered and cached from the
 * first must still be where the second serves it.
 */

const SCOPES = ["mcp:tools"];

/** A provider with every optional member, so the SDK's router advertises every endpoint it can. */
class FullProvider extends DemoInMemoryAuthProvider {
  async revokeToken(): Promise<void> {}
}

async function listen(app: express.Express): Promise<{ http: Server; base: string }> {
  const http = createServer(app);
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return { http, base: `http://localhost:${(http.address() as AddressInfo).port}` };
}

/** Listens first (the issuer names the port), then mounts the router. */
async function mounted(mount: (app: express.Express, base: string) => void) {
  const app = express();
  const { http, base } = await listen(app);
  mount(app, base);
  return { http, base };
}

const pathOf = (url: unknown) => (typeof url === "string" ? new URL(url).pathname : url);
const json = async (url: string) => {
  const response = await fetch(url);
  expect(response.status, url).toBe(200);
  return (await response.json()) as Record<string, unknown> &
    Record<"scopes_supported" | "grant_types_supported" | "token_endpoint_auth_methods_supported" | "authorization_servers", string[]>;
};

describe("Portcullis mounted where mcpAuthRouter was serves what SDK clients discovered", () => {
  let sdk: { http: Server; base: string };
  let portcullis: { http: Server; base: string };

  beforeAll(async () => {
    sdk = await mounted((app, base) => {
      app.use(
        mcpAuthRouter({
          provider: new FullProvider(),
          issuerUrl: new URL(base),
          resourceServerUrl: new URL(`${base}/mcp`),
          scopesSupported: SCOPES,
          resourceName: "Demo",
        }),
      );
    });
    portcullis = await mounted((app, base) => {
      const server = createAuthorizationServer({
        issuer: base,
        resource: `${base}/mcp`,
        scopes: { "mcp:tools": "Use the tools" },
        storage: createMemoryStore(),
        login: { verifyPassword: async () => null },
      });
      const guard = createResourceGuard({
        resource: `${base}/mcp`,
        authorizationServers: [server.issuer],
        verifier: server,
        requiredScopes: SCOPES,
        resourceName: "Demo",
      });
      app.use(oauthRouter(server, guard));
    });
  });
  afterAll(async () => {
    await Promise.all([sdk, portcullis].map(({ http }) => new Promise((resolve) => http.close(resolve))));
  });

  it("serves both well-known documents at the same paths", async () => {
    for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource/mcp"]) {
      expect((await fetch(`${sdk.base}${path}`)).status, `SDK ${path}`).toBe(200);
      expect((await fetch(`${portcullis.base}${path}`)).status, `Portcullis ${path}`).toBe(200);
    }
  });

  it("advertises every endpoint the SDK's router advertised, at the same path", async () => {
    const before = await json(`${sdk.base}/.well-known/oauth-authorization-server`);
    const after = await json(`${portcullis.base}/.well-known/oauth-authorization-server`);
    const endpoints = Object.keys(before).filter((key) => key.endsWith("_endpoint"));
    expect(endpoints.sort()).toEqual(["authorization_endpoint", "registration_endpoint", "revocation_endpoint", "token_endpoint"]);
    for (const key of endpoints) expect(pathOf(after[key]), key).toBe(pathOf(before[key]));
    expect(endpoints.map((key) => pathOf(after[key])).sort()).toEqual(["/authorize", "/register", "/revoke", "/token"]);
  });

  it("still supports every value the SDK's router advertised (PKCE S256, code, the grants, client auth methods, scopes)", async () => {
    const before = await json(`${sdk.base}/.well-known/oauth-authorization-server`);
    const after = await json(`${portcullis.base}/.well-known/oauth-authorization-server`);
    for (const key of [
      "response_types_supported",
      "code_challenge_methods_supported",
      "grant_types_supported",
      "token_endpoint_auth_methods_supported",
      "revocation_endpoint_auth_methods_supported",
      "scopes_supported",
    ]) {
      expect(after[key], key).toEqual(expect.arrayContaining(before[key] as string[]));
    }
    expect(after.code_challenge_methods_supported).toEqual(["S256"]);
  });

  it("differs where documented: the issuer loses its trailing slash, and Portcullis adds iss, introspection, JWKS and client_credentials", async () => {
    const before = await json(`${sdk.base}/.well-known/oauth-authorization-server`);
    const after = await json(`${portcullis.base}/.well-known/oauth-authorization-server`);
    // The SDK serialises the issuer URL (`new URL(origin).href`), which adds a slash; RFC 8414 §2 issuers compare as strings.
    expect(before.issuer).toBe(`${sdk.base}/`);
    expect(after.issuer).toBe(portcullis.base);
    expect(before.authorization_response_iss_parameter_supported).toBeUndefined();
    expect(after.authorization_response_iss_parameter_supported).toBe(true);
    expect(pathOf(after.introspection_endpoint)).toBe("/introspect");
    expect(pathOf(after.jwks_uri)).toBe("/jwks.json");
    expect(after.grant_types_supported).toContain("client_credentials");
    expect(after.scopes_supported).toEqual(["mcp:tools", "offline_access"]);
  });

  it("serves the same protected resource metadata, its issuer spelled without the slash", async () => {
    const before = await json(`${sdk.base}/.well-known/oauth-protected-resource/mcp`);
    const after = await json(`${portcullis.base}/.well-known/oauth-protected-resource/mcp`);
    expect(pathOf(after.resource)).toBe(pathOf(before.resource));
    expect(after.resource).toBe(`${portcullis.base}/mcp`);
    expect(before.authorization_servers).toEqual([`${sdk.base}/`]);
    expect(after.authorization_servers).toEqual([portcullis.base]);
    expect(after.scopes_supported).toEqual(before.scopes_supported);
    expect(after.resource_name).toBe(before.resource_name);
  });

  it("the SDK client discovers both alike, and registers with both", async () => {
    const clientMetadata = {
      client_name: "cached client",
      redirect_uris: ["http://127.0.0.1:9/callback"],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
    const found = await Promise.all(
      [sdk, portcullis].map(async ({ base }) => {
        const info = await discoverOAuthServerInfo(new URL(`${base}/mcp`));
        const client = await registerClient(info.authorizationServerUrl, { metadata: info.authorizationServerMetadata, clientMetadata });
        return { info, client };
      }),
    );
    const [before, after] = found as [(typeof found)[0], (typeof found)[0]];
    const asRecord = (metadata: unknown) => metadata as Record<string, unknown>;
    for (const key of ["authorization_endpoint", "token_endpoint", "registration_endpoint", "revocation_endpoint"]) {
      expect(pathOf(asRecord(after.info.authorizationServerMetadata)[key]), key).toBe(pathOf(asRecord(before.info.authorizationServerMetadata)[key]));
    }
    expect(before.client.client_id).toBeTypeOf("string");
    expect(after.client.client_id).toBeTypeOf("string");
    expect(after.client.redirect_uris).toEqual(clientMetadata.redirect_uris);
  });

  it("answers the SDK client's error cases the way it recovers from them: a bad code is 400 invalid_grant, an unknown client 401 invalid_client", async () => {
    // (Behind mcpAuthRouter these answers were the provider's to get right: the SDK's demo
    // provider throws a plain Error for a bad code, which its token handler answers 500.)
    for (const { base } of [portcullis]) {
      const registered = (await (
        await fetch(`${base}/register`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ redirect_uris: ["http://127.0.0.1:9/callback"], token_endpoint_auth_method: "none" }),
        })
      ).json()) as { client_id: string };
      const token = (params: Record<string, string>) =>
        fetch(`${base}/token`, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(params) });
      const badCode = await token({
        grant_type: "authorization_code",
        code: "nope",
        code_verifier: "v".repeat(43),
        client_id: registered.client_id,
        redirect_uri: "http://127.0.0.1:9/callback",
      });
      expect(badCode.status, base).toBe(400);
      expect(((await badCode.json()) as { error: string }).error, base).toBe("invalid_grant");
      const unknown = await token({ grant_type: "authorization_code", code: "nope", code_verifier: "v".repeat(43), client_id: "unknown-client" });
      expect(unknown.status, base).toBe(401);
      expect(((await unknown.json()) as { error: string }).error, base).toBe("invalid_client");
    }
  });
});
