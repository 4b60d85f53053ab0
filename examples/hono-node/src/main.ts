import { serve } from "@hono/node-server";
import { banner, demoConfig } from "@portcullis/example-shared";
import { DEFAULT_NODE_STORE, openStore, resolveHost, withSigningKeyEncryptionKey, withUpstreamTokenKey } from "@portcullis/example-shared/node";
import { createApp } from "./app.js";

// Keys left unset (SIGNING_KEY_ENCRYPTION_KEY; UPSTREAM_TOKEN_KEY with UPSTREAM_ISSUER) are generated
// into files beside the store.
const config = withSigningKeyEncryptionKey(withUpstreamTokenKey(demoConfig(process.env, { store: DEFAULT_NODE_STORE })));
const storage = await openStore(config.store);
const app = createApp(config, storage, { resolveHost });

// Keep Node's own Request and Response: the lightweight replacements break HEAD answers.
const server = serve({ fetch: app.fetch, port: config.port, overrideGlobalObjects: false }, (info) => {
  console.log(banner("Hono on Node", { ...config, port: info.port }));
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.close();
    void storage.close?.();
    process.exit(0);
  });
}
