import { project } from "../../vitest.shared.js";

export default project("example-cloudflare-worker", { testTimeout: 60_000 });
