import { fileURLToPath } from "node:url";
import { describePagesE2E, startExample } from "@portcullis/example-shared/testing";

// The same pages from the Worker in workerd (sessions and consents in the Durable Object).
describePagesE2E(
  "examples/cloudflare-worker",
  () =>
    startExample(fileURLToPath(new URL("..", import.meta.url)), { SESSION_TTL_SECONDS: "3600" }, [
      "npx",
      "tsx",
      "--conditions=portcullis:source",
      "src/main.ts",
    ]),
  fileURLToPath(new URL("../test-artefacts", import.meta.url)),
);
