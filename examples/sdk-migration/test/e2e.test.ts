import { fileURLToPath } from "node:url";
import { describeMcpClientE2E, startExample } from "@portcullis/example-shared/testing";

describeMcpClientE2E("examples/sdk-migration", () => startExample(fileURLToPath(new URL("..", import.meta.url))));
