import { banner, demoConfig } from "@portcullis/example-shared";
import { serveWorker } from "./serve.js";

// The example contract reads PORT, PUBLIC_URL, DEMO_USERNAME, DEMO_PASSWORD,
// SIGNING_KEY_ROTATION_SECONDS and ACCESS_TOKEN_TTL_SECONDS; the Worker gets
// them as vars. State lives in the Durable Object, whatever STORE says.
const config = demoConfig(process.env, { store: "durable-object" });
const { mf, url } = await serveWorker(config);

console.log(banner("Cloudflare Worker in workerd", { ...config, port: Number(url.port), store: "Durable Object PortcullisStorageObject (in memory)" }));

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void mf.dispose().finally(() => process.exit(0));
  });
}
