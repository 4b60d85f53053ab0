import { project } from "../../vitest.shared.js";

// The suites start workerd through Miniflare and sleep through real TTLs.
export default project("cloudflare", { testTimeout: 60_000 });
