// The adapter contract app (packages/core/test/adapter-contract/app.ts) behind withPortcullis.
import { createContractAuth, reached } from "../../core/test/adapter-contract/app.js";
import { withPortcullis } from "../src/index.js";

interface Env {
  ISSUER: string;
}

/** Errors the guard and server reported in this isolate, read back by the test at /__errors. */
let reported = 0;

export default withPortcullis<Env>(
  {
    async fetch(request, _env, _ctx, auth) {
      const { pathname } = new URL(request.url);
      if (pathname === "/__errors") return Response.json({ reported });
      if (pathname === "/mcp/throw") throw new Error("the app failed at /secret/path.ts:12:3");
      if (auth) return reached(auth);
      return new Response("not found", { status: 404 });
    },
  },
  {
    setup: (env) =>
      createContractAuth(env.ISSUER, () => {
        reported++;
      }),
  },
);
