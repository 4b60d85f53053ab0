import { fileURLToPath } from "node:url";
import { describeHostileInputs, startExample } from "@portcullis/example-shared/testing";

describeHostileInputs("examples/node-http", () => startExample(fileURLToPath(new URL("..", import.meta.url))));
