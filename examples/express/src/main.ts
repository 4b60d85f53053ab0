import type { AddressInfo } from "node:net";
import { banner, demoConfig } from "@portcullis/example-shared";
import { DEFAULT_NODE_STORE, openStore, resolveHost, withSigningKeyEncryptionKey, withUpstreamTokenKey } from "@portcullis/example-shared/node";
import { createApp } from "./app.js";

// Keys left unset (SIGNING_KEY_ENCRYPTION_KEY; UPSTREAM_TOKEN_KEY with UPSTREAM_ISSUER) are generated
// into files beside the store.
const config = withSigningKeyEncryptionKey(withUpstreamTokenKey(demoConfig(process.env, { store: DEFAULT_NODE_STORE })));
const storage = await openStore(config.store);
const app = createApp(config, storage, { resolveHost });

const server = app.listen(config.port, (error?: Error) => {
  if (error) throw error;
  console.log(banner("Express", { ...config, port: (server.address() as AddressInfo).port }));
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.close();
    void storage.close?.();
    process.exit(0);
  });
}
