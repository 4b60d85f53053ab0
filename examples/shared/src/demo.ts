import { createAuthorizationServer, createResourceGuard, type Storage } from "@portcullis/core";
import { resourceServerBanner, resourceServerConfig, type ResourceServerConfig } from "./resource-server.js";
import { upstreamBanner, upstreamConfig, upstreamOptions, type UpstreamDemoConfig } from "./upstream.js";

/** The contract every example honours, read from the environment. */
export interface DemoConfig {
  port: number;
  /** Issuer and base of the resource URL (`PUBLIC_URL`, default `http://localhost:PORT`). */
  publicUrl: string;
  username: string;
  password: string;
  /** Whether the password was generated because `DEMO_PASSWORD` was unset. */
  generatedPassword: boolean;
  /** `STORE`: `memory`, `sqlite:<file>`, a `redis://` URL or a `postgres://` URL. */
  store: string;
  /** `ALLOW_INSECURE_CIMD=1`: admit http metadata documents on loopback, for trying a local client. */
  allowInsecureCimd: boolean;
  /** `SESSION_TTL_SECONDS`: how long a sign-in on the built-in pages lasts (default 8 hours). */
  sessionTtlSeconds: number | undefined;
  /** `AUTH_MODE=resource-server`: the external authorization server (see `resource-server.ts`). */
  resourceServer?: ResourceServerConfig;
  /** `UPSTREAM_ISSUER` and its companions: users sign in at that identity provider, not with the password. */
  upstream: UpstreamDemoConfig | undefined;
  /** `SIGNING_KEY_ROTATION_SECONDS`: rotate the signing key on this period; unset: no rotation. */
  signingKeyRotationSeconds: number | undefined;
  /** `ACCESS_TOKEN_TTL_SECONDS`: the access-token lifetime; unset: the server's default (3600). */
  accessTokenTtlSeconds: number | undefined;
  /**
   * `SIGNING_KEY_ENCRYPTION_KEY`: 32 random bytes, base64url, that encrypt the private signing
   * keys in the store (`keyEncryptionKeys`). When unset, the Node examples generate one into a
   * file beside the store (see `withSigningKeyEncryptionKey` in `@portcullis/example-shared/node`).
   */
  keyEncryptionKey: string | undefined;
  /** Where a generated signing-key encryption key was kept, to say so at start. */
  generatedKeyEncryptionKeyFile?: string;
}

/** A variable holding a whole number of seconds, at least `min`; undefined when unset or empty. */
function seconds(env: Record<string, string | undefined>, name: string, min: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number of seconds, at least ${min}; got ${raw}`);
  return value;
}

/**
 * Reads PORT, PUBLIC_URL, DEMO_USERNAME, DEMO_PASSWORD, STORE, ALLOW_INSECURE_CIMD, AUTH_MODE (with
 * its UPSTREAM_* variables), the UPSTREAM_* sign-in variables, SIGNING_KEY_ROTATION_SECONDS,
 * ACCESS_TOKEN_TTL_SECONDS and SIGNING_KEY_ENCRYPTION_KEY.
 */
export function demoConfig(env: Record<string, string | undefined>, defaults: { store: string }): DemoConfig {
  const port = Number(env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got ${env.PORT}`);
  const publicUrl = (env.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, "");
  const password = env.DEMO_PASSWORD;
  const resourceServer = resourceServerConfig(env);
  return {
    port,
    publicUrl,
    username: env.DEMO_USERNAME ?? "demo",
    password: password ?? randomPassword(),
    generatedPassword: password === undefined,
    store: env.STORE ?? defaults.store,
    allowInsecureCimd: env.ALLOW_INSECURE_CIMD === "1",
    sessionTtlSeconds: seconds(env, "SESSION_TTL_SECONDS", 60),
    ...(resourceServer ? { resourceServer } : {}),
    // In resource-server mode the identity provider is the authorization server: nobody signs in here.
    upstream: resourceServer ? undefined : upstreamConfig(env),
    signingKeyRotationSeconds: seconds(env, "SIGNING_KEY_ROTATION_SECONDS", 2),
    accessTokenTtlSeconds: seconds(env, "ACCESS_TOKEN_TTL_SECONDS", 1),
    keyEncryptionKey: env.SIGNING_KEY_ENCRYPTION_KEY || undefined,
  };
}

function randomPassword(): string {
  const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => alphabet[b % alphabet.length]).join("");
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Compares the digests, so the time taken does not depend on where the strings differ. */
async function sameSecret(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([digest(a), digest(b)]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

/** The scopes the demo offers. */
export const DEMO_SCOPES = {
  "mcp:tools": "Use the MCP server's tools",
  "mcp:admin": "Use the administrative tools (admin_echo)",
};

/**
 * The authorization server and resource guard every example mounts: issuer `PUBLIC_URL`, MCP at
 * `/mcp`, one demo user checked by the built-in login page.
 */
export function createDemoAuth(config: DemoConfig, storage: Storage, runtime: { resolveHost?: (hostname: string) => Promise<string[]> } = {}) {
  const resource = `${config.publicUrl}/mcp`;
  const server = createAuthorizationServer({
    issuer: config.publicUrl,
    resource,
    scopes: DEMO_SCOPES,
    defaultScopes: ["mcp:tools"],
    storage,
    serviceName: "Portcullis demo",
    ...(config.accessTokenTtlSeconds ? { accessTokenTtlSeconds: config.accessTokenTtlSeconds } : {}),
    ...(config.signingKeyRotationSeconds ? { signingKeyRotation: { periodSeconds: config.signingKeyRotationSeconds } } : {}),
    // The private signing keys are stored encrypted: a copy of the store cannot sign tokens.
    ...(config.keyEncryptionKey ? { keyEncryptionKeys: config.keyEncryptionKey } : {}),
    // The audit trail: one JSON line per event on stdout (events never carry tokens or secrets).
    onEvent: (event) => console.log(JSON.stringify({ time: new Date().toISOString(), ...event })),
    clientMetadataDocuments: {
      ...(runtime.resolveHost ? { resolveHost: runtime.resolveHost } : {}),
      allowInsecureLoopback: config.allowInsecureCimd,
    },
    ...(config.sessionTtlSeconds ? { sessions: { ttlSeconds: config.sessionTtlSeconds } } : {}),
    ...(config.upstream
      ? { upstream: upstreamOptions(config.upstream) }
      : {
          login: {
            async verifyPassword({ username, password }: { username: string; password: string }) {
              const ok = (await sameSecret(username, config.username)) && (await sameSecret(password, config.password));
              return ok ? { subject: username, claims: { preferred_username: username } } : null;
            },
          },
        }),
  });
  const guard = createResourceGuard({
    resource,
    authorizationServers: [server.issuer],
    verifier: server,
    requiredScopes: ["mcp:tools"],
    // admin_echo needs mcp:admin on top: a call without it is refused with a step-up challenge.
    mcp: { tools: { admin_echo: ["mcp:admin"] } },
    resourceName: "Portcullis demo MCP server",
    allowedOrigins: [new URL(config.publicUrl).origin],
  });
  return { server, guard, resource };
}

/** The banner an example prints at start. */
export function banner(name: string, config: DemoConfig): string {
  if (config.resourceServer) return resourceServerBanner(name, config, config.resourceServer);
  const mcpUrl = `${config.publicUrl}/mcp`;
  return [
    `Portcullis demo (${name}) listening on port ${config.port}`,
    `  MCP server:   ${mcpUrl}`,
    `  Issuer:       ${config.publicUrl}`,
    // A password in a store URL stays out of the log.
    `  Store:        ${config.store.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@")}`,
    ...(config.signingKeyRotationSeconds ? [`  Signing keys: rotated every ${config.signingKeyRotationSeconds} s`] : []),
    ...(config.accessTokenTtlSeconds ? [`  Access tokens live ${config.accessTokenTtlSeconds} s`] : []),
    `  Signing keys: ${config.keyEncryptionKey ? `encrypted in the store with ${config.generatedKeyEncryptionKeyFile ? `a key generated and kept in ${config.generatedKeyEncryptionKeyFile} (set SIGNING_KEY_ENCRYPTION_KEY to choose one)` : "SIGNING_KEY_ENCRYPTION_KEY"}` : "stored unencrypted (set SIGNING_KEY_ENCRYPTION_KEY to encrypt them)"}`,
    ...(config.upstream
      ? upstreamBanner(config.upstream, config.publicUrl)
      : [
          `  Demo user:    ${config.username}`,
          `  Password:     ${config.generatedPassword ? `${config.password}  (generated; set DEMO_PASSWORD to choose one)` : "(from DEMO_PASSWORD)"}`,
        ]),
    ``,
    `Connect an MCP client to ${mcpUrl}, for example:`,
    `  npx @modelcontextprotocol/inspector   (transport "Streamable HTTP", URL ${mcpUrl})`,
    `  claude mcp add --transport http portcullis-demo ${mcpUrl}`,
    `It discovers the authorization server, registers itself and opens the sign-in page in your browser.`,
  ].join("\n");
}
