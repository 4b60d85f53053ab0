import { fileURLToPath } from "node:url";
import { describeResourceServerMode, startExample } from "@portcullis/example-shared/testing";

const dir = fileURLToPath(new URL("..", import.meta.url));

// The Worker in workerd, with the mode's variables as vars.
describeResourceServerMode("examples/cloudflare-worker", (env) => startExample(dir, env));
