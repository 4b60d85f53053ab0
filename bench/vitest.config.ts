import { project } from "../vitest.shared.js";

// The harness test starts real servers and a load generator: give it room on a busy 2-core machine.
export default project("bench", { testTimeout: 240_000 });
