import { fileURLToPath } from "node:url";
import { describeHostileInputs, startExample } from "@portcullis/example-shared/testing";

describeHostileInputs("examples/express", () => startExample(fileURLToPath(new URL("..", import.meta.url))));
