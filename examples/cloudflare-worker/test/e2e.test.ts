import { fileURLToPath } from "node:url";
import { describeMcpClientE2E, startExample } from "@portcullis/example-shared/testing";

// `npm start`'s command: build the Worker, serve it in workerd through Miniflare.
describeMcpClientE2E("examples/cloudflare-worker", () =>
  startExample(fileURLToPath(new URL("..", import.meta.url)), {}, ["npx", "tsx", "--conditions=portcullis:source", "src/main.ts"]),
);
