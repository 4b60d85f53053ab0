import { fileURLToPath } from "node:url";
import { describeAuditExploits, startExample } from "@portcullis/example-shared/testing";

describeAuditExploits("examples/node-http", () => startExample(fileURLToPath(new URL("..", import.meta.url))));
