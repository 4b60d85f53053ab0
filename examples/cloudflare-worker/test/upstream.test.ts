import { fileURLToPath } from "node:url";
import { describeUpstreamE2E, startExample } from "@portcullis/example-shared/testing";
import { startTestIdp } from "../../../packages/core/test/upstream/idp.js";

// `npm start`'s command: build the Worker, serve it in workerd through Miniflare, UPSTREAM_* as vars.
describeUpstreamE2E("examples/cloudflare-worker", startTestIdp, (env) =>
  startExample(fileURLToPath(new URL("..", import.meta.url)), env, ["npx", "tsx", "--conditions=portcullis:source", "src/main.ts"]),
);
