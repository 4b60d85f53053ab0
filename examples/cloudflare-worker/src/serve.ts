import { Miniflare } from "miniflare";
import type { DemoConfig } from "@portcullis/example-shared";
import { buildWorker, COMPATIBILITY_DATE } from "./build.js";

/** The UPSTREAM_* vars the Worker reads, from the example contract's configuration. */
function upstreamBindings(config: DemoConfig): Record<string, string> {
  const u = config.upstream;
  if (!u) return {};
  return {
    UPSTREAM_ISSUER: u.issuer,
    UPSTREAM_CLIENT_ID: u.clientId,
    UPSTREAM_SCOPES: u.scopes.join(" "),
    ...(u.clientSecret ? { UPSTREAM_CLIENT_SECRET: u.clientSecret } : {}),
    ...(u.tokenKey ? { UPSTREAM_TOKEN_KEY: u.tokenKey } : {}),
  };
}

/**
 * Builds the Worker and serves it in workerd through Miniflare on `config.port`, with the
 * Durable Object binding wrangler.jsonc declares (in memory: nothing outlives the process).
 */
export async function serveWorker(config: DemoConfig, options: { port?: number } = {}) {
  const { code } = await buildWorker();
  const mf = new Miniflare({
    modules: true,
    script: code,
    compatibilityDate: COMPATIBILITY_DATE,
    host: "127.0.0.1",
    port: options.port ?? config.port,
    bindings: {
      PUBLIC_URL: config.publicUrl,
      DEMO_USERNAME: config.username,
      DEMO_PASSWORD: config.password,
      ...upstreamBindings(config),
      ...resourceServerVars(config),
      ...(config.signingKeyRotationSeconds ? { SIGNING_KEY_ROTATION_SECONDS: String(config.signingKeyRotationSeconds) } : {}),
      ...(config.accessTokenTtlSeconds ? { ACCESS_TOKEN_TTL_SECONDS: String(config.accessTokenTtlSeconds) } : {}),
      ...(config.sessionTtlSeconds ? { SESSION_TTL_SECONDS: String(config.sessionTtlSeconds) } : {}),
      ...(config.keyEncryptionKey ? { SIGNING_KEY_ENCRYPTION_KEY: config.keyEncryptionKey } : {}),
    },
    durableObjects: { PORTCULLIS_STORE: { className: "PortcullisStorageObject", useSQLite: true } },
  });
  const url = await mf.ready;
  return { mf, url };
}

/** The resource-server mode's variables, as the Worker reads them. */
function resourceServerVars(config: DemoConfig): Record<string, string> {
  const upstream = config.resourceServer;
  if (!upstream) return {};
  return {
    AUTH_MODE: "resource-server",
    UPSTREAM_ISSUER: upstream.issuer,
    ...(upstream.introspection
      ? { UPSTREAM_INTROSPECTION_CLIENT_ID: upstream.introspection.clientId, UPSTREAM_INTROSPECTION_CLIENT_SECRET: upstream.introspection.clientSecret }
      : {}),
  };
}
