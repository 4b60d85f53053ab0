import { createRemoteVerifier, createResourceGuard, type AuthorizationServer, type ResourceGuard, type Storage } from "@portcullis/core";
import { createDemoAuth, DEMO_SCOPES, type DemoConfig } from "./demo.js";

/** `AUTH_MODE=resource-server`: tokens come from an external authorization server. */
export interface ResourceServerConfig {
  /** `UPSTREAM_ISSUER`: the external authorization server's issuer identifier. */
  issuer: string;
  /** `UPSTREAM_INTROSPECTION_CLIENT_ID` / `_SECRET`: for opaque tokens (RFC 7662). */
  introspection?: { clientId: string; clientSecret: string };
}

/**
 * Reads `AUTH_MODE` (`authorization-server`, the default, or `resource-server`) and, in
 * resource-server mode, `UPSTREAM_ISSUER` and the optional `UPSTREAM_INTROSPECTION_CLIENT_ID` /
 * `UPSTREAM_INTROSPECTION_CLIENT_SECRET`.
 *
 * @returns The resource-server settings, or `undefined` in the default mode.
 * @throws {Error} For an unknown mode, a missing or non-https issuer (http only on loopback), or
 *   one introspection variable without the other.
 */
export function resourceServerConfig(env: Record<string, string | undefined>): ResourceServerConfig | undefined {
  const mode = env.AUTH_MODE ?? "authorization-server";
  if (mode === "authorization-server") return undefined;
  if (mode !== "resource-server") throw new Error(`AUTH_MODE must be authorization-server (the default) or resource-server, got ${mode}`);
  const issuer = env.UPSTREAM_ISSUER;
  if (!issuer) throw new Error("AUTH_MODE=resource-server needs UPSTREAM_ISSUER: the issuer of the authorization server whose tokens /mcp accepts");
  let url: URL | undefined;
  try {
    url = new URL(issuer);
  } catch {
    url = undefined;
  }
  const loopback = url !== undefined && ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  if (!url || !(url.protocol === "https:" || (url.protocol === "http:" && loopback))) {
    throw new Error(`UPSTREAM_ISSUER must be an https URL (http only on localhost, 127.0.0.1 or [::1]), got ${issuer}`);
  }
  const clientId = env.UPSTREAM_INTROSPECTION_CLIENT_ID;
  const clientSecret = env.UPSTREAM_INTROSPECTION_CLIENT_SECRET;
  if (Boolean(clientId) !== Boolean(clientSecret))
    throw new Error("set both UPSTREAM_INTROSPECTION_CLIENT_ID and UPSTREAM_INTROSPECTION_CLIENT_SECRET, or neither");
  return { issuer, ...(clientId && clientSecret ? { introspection: { clientId, clientSecret } } : {}) };
}

/**
 * The resource server alone: no authorization server endpoint, the guard of `/mcp` accepting the
 * external issuer's tokens for `${PUBLIC_URL}/mcp` (JWTs through its keys, opaque tokens through
 * introspection) and naming it in the protected resource metadata.
 */
export function createResourceServerAuth(config: DemoConfig, upstream: ResourceServerConfig) {
  const resource = `${config.publicUrl}/mcp`;
  const verifier = createRemoteVerifier({ issuer: upstream.issuer, ...(upstream.introspection ? { introspection: upstream.introspection } : {}) });
  const guard = createResourceGuard({
    resource,
    verifier,
    requiredScopes: ["mcp:tools"],
    scopesSupported: Object.keys(DEMO_SCOPES),
    mcp: { tools: { admin_echo: ["mcp:admin"] } },
    resourceName: "Portcullis demo MCP server",
    allowedOrigins: [new URL(config.publicUrl).origin],
    // The upstream being unreachable is answered 503; say why on the console.
    onError: (error) => console.error("[portcullis]", error instanceof Error ? error.message : error),
  });
  return { verifier, guard, resource };
}

/**
 * What an example mounts, by `AUTH_MODE`: the demo's own authorization server and guard, or (in
 * resource-server mode) the guard alone, with no `server`.
 */
export function createExampleAuth(
  config: DemoConfig,
  storage: Storage,
  runtime: Parameters<typeof createDemoAuth>[2] = {},
): { server?: AuthorizationServer; guard: ResourceGuard; resource: string } {
  if (config.resourceServer) return createResourceServerAuth(config, config.resourceServer);
  return createDemoAuth(config, storage, runtime);
}

/** The banner of an example in resource-server mode. */
export function resourceServerBanner(name: string, config: DemoConfig, upstream: ResourceServerConfig): string {
  const mcpUrl = `${config.publicUrl}/mcp`;
  return [
    `Portcullis demo (${name}) listening on port ${config.port}`,
    `  MCP server:   ${mcpUrl}`,
    `  Mode:         resource server (AUTH_MODE=resource-server): no authorization server here`,
    `  Tokens from:  ${upstream.issuer}${upstream.introspection ? "  (opaque tokens by introspection)" : ""}`,
    ``,
    `Connect an MCP client to ${mcpUrl}: it is sent to ${upstream.issuer} to sign in.`,
  ].join("\n");
}
