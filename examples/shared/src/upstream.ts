import type { UpstreamOptions } from "@portcullis/core";

/** The upstream identity provider of the example contract, read from the environment. */
export interface UpstreamDemoConfig {
  /** `UPSTREAM_ISSUER`: the provider's issuer (`http://` only on a loopback address). */
  issuer: string;
  /** `UPSTREAM_CLIENT_ID`: the client registered there, redirect URI `${PUBLIC_URL}/upstream/callback`. */
  clientId: string;
  /** `UPSTREAM_CLIENT_SECRET`: a confidential client's secret; unset, a public client with PKCE. */
  clientSecret: string | undefined;
  /** `UPSTREAM_SCOPES` (space-separated); default `openid profile email offline_access`. */
  scopes: string[];
  /**
   * `UPSTREAM_TOKEN_KEY`: 32 random bytes, base64url, that encrypt upstream tokens at rest. When
   * unset, the Node examples generate one into a file beside the store (see `withUpstreamTokenKey`
   * in `@portcullis/example-shared/node`).
   */
  tokenKey: string | undefined;
  /** Where a generated key was kept, to say so at start. */
  generatedKeyFile?: string;
}

export const DEFAULT_UPSTREAM_SCOPES = "openid profile email offline_access";

/** Reads UPSTREAM_ISSUER, UPSTREAM_CLIENT_ID, UPSTREAM_CLIENT_SECRET, UPSTREAM_SCOPES and UPSTREAM_TOKEN_KEY; undefined without UPSTREAM_ISSUER. */
export function upstreamConfig(env: Record<string, string | undefined>): UpstreamDemoConfig | undefined {
  const issuer = env.UPSTREAM_ISSUER?.trim();
  if (!issuer) return undefined;
  const url = URL.canParse(issuer) ? new URL(issuer) : undefined;
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) throw new Error(`UPSTREAM_ISSUER must be an https URL, got ${issuer}`);
  if (url.protocol === "http:" && !isLoopback(url.hostname))
    throw new Error(`UPSTREAM_ISSUER may use http:// only on a loopback address (local development), got ${issuer}`);
  const clientId = env.UPSTREAM_CLIENT_ID?.trim();
  if (!clientId) throw new Error("UPSTREAM_ISSUER needs UPSTREAM_CLIENT_ID (the client registered at the identity provider)");
  return {
    // As given: an issuer is compared exactly, and some (Auth0) end with a slash.
    issuer,
    clientId,
    clientSecret: env.UPSTREAM_CLIENT_SECRET || undefined,
    scopes: (env.UPSTREAM_SCOPES ?? DEFAULT_UPSTREAM_SCOPES).split(/\s+/).filter(Boolean),
    tokenKey: env.UPSTREAM_TOKEN_KEY || undefined,
  };
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

/** The `upstream` option of the demo's authorization server. */
export function upstreamOptions(config: UpstreamDemoConfig): UpstreamOptions {
  if (!config.tokenKey) throw new Error("set UPSTREAM_TOKEN_KEY (32 random bytes, base64url): it encrypts the upstream tokens at rest");
  return {
    issuer: config.issuer,
    clientId: config.clientId,
    ...(config.clientSecret ? { clientSecret: config.clientSecret } : {}),
    scopes: config.scopes,
    tokenEncryptionKeys: config.tokenKey,
  };
}

/** The banner lines that say how users sign in through the provider. */
export function upstreamBanner(config: UpstreamDemoConfig, publicUrl: string): string[] {
  return [
    `  Sign-in:      ${config.issuer} (client ${config.clientId}, ${config.clientSecret ? "confidential" : "public, PKCE"}; scopes ${config.scopes.join(" ")})`,
    `  Redirect URI: ${publicUrl}/upstream/callback   (register it at the identity provider)`,
    `  Token key:    ${config.generatedKeyFile ? `generated, kept in ${config.generatedKeyFile} (set UPSTREAM_TOKEN_KEY to choose one)` : "(from UPSTREAM_TOKEN_KEY)"}`,
  ];
}
