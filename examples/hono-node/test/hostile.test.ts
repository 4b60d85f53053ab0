import { fileURLToPath } from "node:url";
import { describeHostileInputs, startExample } from "@portcullis/example-shared/testing";

describeHostileInputs("examples/hono-node", () => startExample(fileURLToPath(new URL("..", import.meta.url))));
