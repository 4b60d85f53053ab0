import { fileURLToPath } from "node:url";
import { describeResourceServerMode, startExample } from "@portcullis/example-shared/testing";

const dir = fileURLToPath(new URL("..", import.meta.url));

describeResourceServerMode("examples/express", (env) => startExample(dir, env));
