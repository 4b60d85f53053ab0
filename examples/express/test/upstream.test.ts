import { fileURLToPath } from "node:url";
import { describeUpstreamE2E, startExample } from "@portcullis/example-shared/testing";
import { startTestIdp } from "../../../packages/core/test/upstream/idp.js";

describeUpstreamE2E("examples/express", startTestIdp, (env) => startExample(fileURLToPath(new URL("..", import.meta.url)), env));
