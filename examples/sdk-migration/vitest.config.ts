import { project } from "../../vitest.shared.js";

export default project("example-sdk-migration", { testTimeout: 60_000 });
