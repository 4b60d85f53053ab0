import { fileURLToPath } from "node:url";
import { describeHostileInputs, startExample } from "@portcullis/example-shared/testing";

describeHostileInputs("examples/sdk-migration", () => startExample(fileURLToPath(new URL("..", import.meta.url))));
