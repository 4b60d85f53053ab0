import { randomBytes } from "node:crypto";
import { banner, demoConfig } from "@portcullis/example-shared";
import { serveWorker } from "./serve.js";

// The example contract reads PORT, PUBLIC_URL, DEMO_USERNAME, DEMO_PASSWORD, AUTH_MODE, the
// UPSTREAM_* variables, SIGNING_KEY_ROTATION_SECONDS, ACCESS_TOKEN_TTL_SECONDS and
// SIGNING_KEY_ENCRYPTION_KEY; the Worker gets them as vars. State lives in the Durable Object,
// whatever STORE says.
const read = demoConfig(process.env, { store: "durable-object" });
// The Worker takes SIGNING_KEY_ENCRYPTION_KEY as a secret; locally, one is generated for this process when unset.
const given =
  read.keyEncryptionKey || read.resourceServer
    ? read
    : {
        ...read,
        keyEncryptionKey: randomBytes(32).toString("base64url"),
        generatedKeyEncryptionKeyFile: "memory (this process only, like the Durable Object)",
      };
// The Worker needs UPSTREAM_TOKEN_KEY as a var; locally, one is generated for this process when unset.
const config =
  given.upstream && !given.upstream.tokenKey
    ? {
        ...given,
        upstream: {
          ...given.upstream,
          tokenKey: randomBytes(32).toString("base64url"),
          generatedKeyFile: "memory (this process only, like the Durable Object)",
        },
      }
    : given;
const { mf, url } = await serveWorker(config);

console.log(banner("Cloudflare Worker in workerd", { ...config, port: Number(url.port), store: "Durable Object PortcullisStorageObject (in memory)" }));

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void mf.dispose().finally(() => process.exit(0));
  });
}
