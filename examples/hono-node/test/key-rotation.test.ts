import { fileURLToPath } from "node:url";
import { describeKeyRotation, startExample } from "@portcullis/example-shared/testing";

describeKeyRotation("examples/hono-node", (env) => startExample(fileURLToPath(new URL("..", import.meta.url)), env), { twoInstances: true });
