import { fileURLToPath } from "node:url";
import { describeAuditExploits, startExample } from "@portcullis/example-shared/testing";

// Served as `npm start` serves it: the bundled Worker in workerd through Miniflare.
describeAuditExploits("examples/cloudflare-worker", () => startExample(fileURLToPath(new URL("..", import.meta.url))), {
  resetsUnreadUploads: true,
});
