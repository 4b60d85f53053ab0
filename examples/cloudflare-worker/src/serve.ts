import { Miniflare } from "miniflare";
import type { DemoConfig } from "@portcullis/example-shared";
import { buildWorker, COMPATIBILITY_DATE } from "./build.js";

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
      ...(config.signingKeyRotationSeconds ? { SIGNING_KEY_ROTATION_SECONDS: String(config.signingKeyRotationSeconds) } : {}),
      ...(config.accessTokenTtlSeconds ? { ACCESS_TOKEN_TTL_SECONDS: String(config.accessTokenTtlSeconds) } : {}),
    },
    durableObjects: { PORTCULLIS_STORE: { className: "PortcullisStorageObject", useSQLite: true } },
  });
  const url = await mf.ready;
  return { mf, url };
}
