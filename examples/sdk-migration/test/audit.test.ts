import { fileURLToPath } from "node:url";
import { describeAuditExploits, startExample } from "@portcullis/example-shared/testing";

describeAuditExploits("examples/sdk-migration", () => startExample(fileURLToPath(new URL("..", import.meta.url))));
