import type { AddressInfo } from "node:net";
import { banner, demoConfig } from "@portcullis/example-shared";
import { DEFAULT_NODE_STORE, openStore, resolveHost, withSigningKeyEncryptionKey } from "@portcullis/example-shared/node";
import { createApp } from "./app.js";

// Without SIGNING_KEY_ENCRYPTION_KEY, the key is generated into a file beside the store.
const config = withSigningKeyEncryptionKey(demoConfig(process.env, { store: DEFAULT_NODE_STORE }));
const storage = await openStore(config.store);
const app = createApp(config, storage, { resolveHost });

const server = app.listen(config.port, (error?: Error) => {
  if (error) throw error;
  console.log(banner("MCP SDK migration", { ...config, port: (server.address() as AddressInfo).port }));
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.close();
    void storage.close?.();
    process.exit(0);
  });
}
