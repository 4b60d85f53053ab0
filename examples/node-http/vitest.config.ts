import { project } from "../../vitest.shared.js";

export default project("example-node-http", { testTimeout: 60_000 });
