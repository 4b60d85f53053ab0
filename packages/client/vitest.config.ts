import { project } from "../../vitest.shared.js";

export default project("client", { testTimeout: 60_000 });
