import { project } from "../../vitest.shared.js";

export default project("example-hono-node", { testTimeout: 60_000 });
