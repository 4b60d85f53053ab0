/// <reference path="../../../../packages/core/test/upstream/oidc-provider.d.ts" />
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";

/** A running oidc-provider on loopback: the external identity provider / authorization server of the tests. */
export interface TestIdp {
  /** Its issuer identifier, `http://127.0.0.1:<port>`. */
  issuer: string;
  /** A confidential client that may introspect tokens (`client_secret_basic`). */
  introspector: { clientId: string; clientSecret: string };
  /**
   * An access token from the client credentials grant for `resource` (its `aud`), without a
   * browser: an RS256 JWT (`jwt`), an opaque token (`opaque`), or an opaque one that expires after
   * two seconds (`short`).
   */
  clientCredentialsToken(resource: string, options?: { kind?: "jwt" | "opaque" | "short"; scope?: string }): Promise<string>;
  /** Revokes a token (RFC 7009) that {@link TestIdp.clientCredentialsToken} minted. */
  revoke(token: string, kind?: "jwt" | "opaque" | "short"): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link startTestIdp}. */
export interface TestIdpOptions {
  /** Access token lifetime in seconds. Default 600. */
  accessTokenTtlSeconds?: number;
  /** Scopes a resource server offers. Default `mcp:tools mcp:admin`. */
  resourceScopes?: string;
}

/**
 * Starts panva's oidc-provider on a free loopback port as an upstream authorization server:
 * discovery, dynamic client registration, resource indicators (access tokens with `aud` = the
 * resource, RS256 JWTs for signed-in users), introspection, revocation, the client credentials
 * grant (JWT or opaque tokens, by client), and its development login and consent pages (any login
 * and password; the login is the user's `sub`).
 */
export async function startTestIdp(options: TestIdpOptions = {}): Promise<TestIdp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), alg: "RS256", use: "sig", kid: "rs-1" };
  const introspector = { clientId: "portcullis-resource-server", clientSecret: "introspection-secret-0123456789" };
  const machines = {
    jwt: { clientId: "machine-jwt", clientSecret: "machine-secret-0123456789" },
    opaque: { clientId: "machine-opaque", clientSecret: "machine-secret-0123456789" },
    short: { clientId: "machine-short", clientSecret: "machine-secret-0123456789" },
  };
  const resourceScopes = options.resourceScopes ?? "mcp:tools mcp:admin";
  const ttl = options.accessTokenTtlSeconds ?? 600;

  const provider = new Provider(issuer, {
    clients: [
      { client_id: introspector.clientId, client_secret: introspector.clientSecret, grant_types: [], response_types: [], redirect_uris: [] },
      ...Object.values(machines).map((m) => ({
        client_id: m.clientId,
        client_secret: m.clientSecret,
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
      })),
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: ["test-idp-cookie-key-0123456789abcdef"] },
    scopes: ["openid", "offline_access", ...resourceScopes.split(" ")],
    claims: { openid: ["sub"], email: ["email", "email_verified"] },
    findAccount: async (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: async () => ({ sub: id, email: `${id}@idp.test`, email_verified: true }),
    }),
    pkce: { required: () => true },
    ttl: {
      AccessToken: (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) => token.resourceServer?.accessTokenTTL ?? ttl,
      ClientCredentials: (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) => token.resourceServer?.accessTokenTTL ?? ttl,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
      // Any confidential client may introspect: the resource server's client is one.
      introspection: { enabled: true, allowedPolicy: async () => true },
      revocation: { enabled: true, allowedPolicy: async () => true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx: unknown, _client: unknown, oneOf?: string[]) => oneOf?.[0] ?? undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string, client: { clientId: string }) => ({
          scope: resourceScopes,
          audience: resource,
          accessTokenTTL: client.clientId === machines.short.clientId ? 2 : ttl,
          accessTokenFormat: client.clientId === machines.jwt.clientId || !client.clientId.startsWith("machine-") ? "jwt" : "opaque",
          jwt: { sign: { alg: "RS256" } },
        }),
      },
    },
  });
  // oidc-provider reports each failed request on its own; the tests assert on the responses.
  provider.on("server_error", () => {});
  server.on("request", provider.callback());

  const basic = (client: { clientId: string; clientSecret: string }) => `Basic ${btoa(`${client.clientId}:${client.clientSecret}`)}`;

  return {
    issuer,
    introspector,
    async clientCredentialsToken(resource, { kind = "jwt", scope = "mcp:tools" } = {}) {
      const response = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: { Authorization: basic(machines[kind]), "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "client_credentials", resource, scope }),
      });
      const body = (await response.json()) as { access_token?: string };
      if (!response.ok || !body.access_token) throw new Error(`test IdP refused client credentials: ${JSON.stringify(body)}`);
      return body.access_token;
    },
    async revoke(token, kind = "opaque") {
      const response = await fetch(`${issuer}/token/revocation`, {
        method: "POST",
        headers: { Authorization: basic(machines[kind]), "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token }),
      });
      if (!response.ok) throw new Error(`test IdP refused revocation: ${response.status}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
