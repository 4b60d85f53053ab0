import { createDurableObjectStore, withPortcullis, type DurableObjectNamespaceLike } from "@portcullis/cloudflare";
import { createDemoAuth, demoConfig, handleMcpRequest } from "@portcullis/example-shared";

// The Durable Object class must be exported by the Worker that binds it (see wrangler.jsonc).
export { PortcullisStorageObject } from "@portcullis/cloudflare";

/** The Worker's bindings: the store's Durable Object namespace and the example contract's vars. */
export interface Env {
  PORTCULLIS_STORE: DurableObjectNamespaceLike;
  /** The Worker's public origin, e.g. `https://portcullis-demo.example.workers.dev`. */
  PUBLIC_URL?: string;
  DEMO_USERNAME?: string;
  /** A secret (`wrangler secret put DEMO_PASSWORD`). Required: isolates must agree on it. */
  DEMO_PASSWORD?: string;
  /** Rotate the signing key every this many seconds; unset: no rotation. */
  SIGNING_KEY_ROTATION_SECONDS?: string;
  /** The access-token lifetime in seconds; unset: 3600. */
  ACCESS_TOKEN_TTL_SECONDS?: string;
}

/** The demo MCP server at /mcp behind Portcullis, with its state in a Durable Object. */
export default withPortcullis<Env>(
  {
    async fetch(request, _env, _ctx, auth) {
      if (auth) return handleMcpRequest(request, auth);
      const url = new URL(request.url);
      if (url.pathname === "/") return new Response(`Portcullis demo on Cloudflare Workers. MCP server at ${url.origin}/mcp\n`);
      return new Response("Not found\n", { status: 404 });
    },
  },
  {
    setup(env) {
      if (!env.DEMO_PASSWORD) throw new Error("set DEMO_PASSWORD (wrangler secret put DEMO_PASSWORD): every isolate must check the same password");
      const { PUBLIC_URL, DEMO_USERNAME, DEMO_PASSWORD, SIGNING_KEY_ROTATION_SECONDS, ACCESS_TOKEN_TTL_SECONDS } = env;
      const config = demoConfig(
        { PUBLIC_URL, DEMO_USERNAME, DEMO_PASSWORD, SIGNING_KEY_ROTATION_SECONDS, ACCESS_TOKEN_TTL_SECONDS },
        { store: "durable-object" },
      );
      return createDemoAuth(config, createDurableObjectStore(env.PORTCULLIS_STORE));
    },
  },
);
