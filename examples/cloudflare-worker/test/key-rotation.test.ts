import { fileURLToPath } from "node:url";
import { describeKeyRotation, startExample } from "@portcullis/example-shared/testing";

// The Worker gets SIGNING_KEY_ROTATION_SECONDS and ACCESS_TOKEN_TTL_SECONDS as vars.
describeKeyRotation("examples/cloudflare-worker", (env) => startExample(fileURLToPath(new URL("..", import.meta.url)), env));
