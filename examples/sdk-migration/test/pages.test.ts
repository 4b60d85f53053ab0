import { fileURLToPath } from "node:url";
import { describePagesE2E, startExample } from "@portcullis/example-shared/testing";

const SESSION = { SESSION_TTL_SECONDS: "3600" };
const dir = fileURLToPath(new URL("..", import.meta.url));
describePagesE2E("examples/sdk-migration", () => startExample(dir, SESSION), fileURLToPath(new URL("../test-artefacts", import.meta.url)));
