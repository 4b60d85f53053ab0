// The fuzz suites' app as a Worker under withPortcullis: Portcullis, a guarded /mcp, the app.
// `/__fuzz/mint` hands the test its access token (mcp:tools only); the fuzzer never builds that path.
import { withPortcullis } from "../src/index.js";
import { createFuzzTarget, REACHED_APP, REACHED_MCP } from "../../core/test/security/fuzz/target.js";

interface Env {
  ISSUER: string;
}

let target: ReturnType<typeof createFuzzTarget> | undefined;

export default withPortcullis<Env>(
  {
    async fetch(request, _env, _ctx, auth) {
      const { pathname } = new URL(request.url);
      if (pathname === "/__fuzz/mint" && target) return Response.json({ token: await target.mint() });
      return Response.json(auth ? REACHED_MCP : REACHED_APP);
    },
  },
  {
    setup(env) {
      target = createFuzzTarget(env.ISSUER);
      return { server: target.server, guard: target.guard };
    },
  },
);
