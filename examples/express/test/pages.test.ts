import { fileURLToPath } from "node:url";
import { describePagesE2E, startExample } from "@portcullis/example-shared/testing";

const dir = fileURLToPath(new URL("..", import.meta.url));
describePagesE2E("examples/express", () => startExample(dir), fileURLToPath(new URL("../test-artefacts", import.meta.url)));
