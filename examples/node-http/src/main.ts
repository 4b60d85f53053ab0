import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { banner, demoConfig } from "@portcullis/example-shared";
import { DEFAULT_NODE_STORE, openStore, resolveHost, withSigningKeyEncryptionKey, withUpstreamTokenKey } from "@portcullis/example-shared/node";
import { createListener } from "./app.js";

// Keys left unset (SIGNING_KEY_ENCRYPTION_KEY; UPSTREAM_TOKEN_KEY with UPSTREAM_ISSUER) are generated
// into files beside the store.
const config = withSigningKeyEncryptionKey(withUpstreamTokenKey(demoConfig(process.env, { store: DEFAULT_NODE_STORE })));
const storage = await openStore(config.store);

const server = createServer(createListener(config, storage, { resolveHost }));
server.listen(config.port, () => {
  console.log(banner("Node http", { ...config, port: (server.address() as AddressInfo).port }));
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.close();
    void storage.close?.();
    process.exit(0);
  });
}
