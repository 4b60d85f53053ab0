import { project } from "../../vitest.shared.js";

export default project("example-express", { testTimeout: 60_000 });
