import { createDurableObjectStore, withPortcullis, type DurableObjectNamespaceLike } from "@portcullis/cloudflare";
import { createExampleAuth, demoConfig, handleMcpRequest } from "@portcullis/example-shared";

// The Durable Object class must be exported by the Worker that binds it (see wrangler.jsonc).
export { PortcullisStorageObject } from "@portcullis/cloudflare";

/** The Worker's bindings: the store's Durable Object namespace and the example contract's vars. */
export interface Env {
  PORTCULLIS_STORE: DurableObjectNamespaceLike;
  /** The Worker's public origin, e.g. `https://portcullis-demo.example.workers.dev`. */
  PUBLIC_URL?: string;
  DEMO_USERNAME?: string;
  /** A secret (`wrangler secret put DEMO_PASSWORD`). Required unless UPSTREAM_ISSUER is set: isolates must agree on it. */
  DEMO_PASSWORD?: string;
  /** How long a sign-in on the built-in pages lasts, in seconds (default 8 hours). */
  SESSION_TTL_SECONDS?: string;
  /** `resource-server`: no authorization server here; /mcp accepts UPSTREAM_ISSUER's tokens. */
  AUTH_MODE?: string;
  /**
   * The identity provider: users sign in there instead of with the password (with the UPSTREAM_*
   * vars below), or, with AUTH_MODE=resource-server, the external authorization server.
   */
  UPSTREAM_ISSUER?: string;
  UPSTREAM_CLIENT_ID?: string;
  /** A secret (`wrangler secret put UPSTREAM_CLIENT_SECRET`); unset, a public client with PKCE. */
  UPSTREAM_CLIENT_SECRET?: string;
  UPSTREAM_SCOPES?: string;
  /** A secret: 32 random bytes, base64url, encrypting upstream tokens at rest. Required with UPSTREAM_ISSUER (sign-in mode). */
  UPSTREAM_TOKEN_KEY?: string;
  /** This resource server's client at the upstream, for introspecting opaque tokens (resource-server mode). */
  UPSTREAM_INTROSPECTION_CLIENT_ID?: string;
  /** A secret (`wrangler secret put UPSTREAM_INTROSPECTION_CLIENT_SECRET`). */
  UPSTREAM_INTROSPECTION_CLIENT_SECRET?: string;
  /** Rotate the signing key every this many seconds; unset: no rotation. */
  SIGNING_KEY_ROTATION_SECONDS?: string;
  /** The access-token lifetime in seconds; unset: 3600. */
  ACCESS_TOKEN_TTL_SECONDS?: string;
  /**
   * A secret (`wrangler secret put SIGNING_KEY_ENCRYPTION_KEY`): 32 random bytes, base64url,
   * encrypting the private signing keys in the Durable Object. Unset, they are stored unencrypted.
   */
  SIGNING_KEY_ENCRYPTION_KEY?: string;
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
      const resourceServerMode = env.AUTH_MODE === "resource-server";
      if (!env.DEMO_PASSWORD && !env.UPSTREAM_ISSUER)
        throw new Error("set DEMO_PASSWORD (wrangler secret put DEMO_PASSWORD): every isolate must check the same password");
      if (!resourceServerMode && env.UPSTREAM_ISSUER && !env.UPSTREAM_TOKEN_KEY) {
        throw new Error("set UPSTREAM_TOKEN_KEY (wrangler secret put UPSTREAM_TOKEN_KEY): every isolate must open the same upstream tokens");
      }
      const {
        PUBLIC_URL,
        DEMO_USERNAME,
        DEMO_PASSWORD,
        AUTH_MODE,
        UPSTREAM_ISSUER,
        UPSTREAM_CLIENT_ID,
        UPSTREAM_CLIENT_SECRET,
        UPSTREAM_SCOPES,
        UPSTREAM_TOKEN_KEY,
      } = env;
      const {
        UPSTREAM_INTROSPECTION_CLIENT_ID,
        UPSTREAM_INTROSPECTION_CLIENT_SECRET,
        SIGNING_KEY_ROTATION_SECONDS,
        ACCESS_TOKEN_TTL_SECONDS,
        SESSION_TTL_SECONDS,
        SIGNING_KEY_ENCRYPTION_KEY,
      } = env;
      const config = demoConfig(
        {
          PUBLIC_URL,
          DEMO_USERNAME,
          DEMO_PASSWORD,
          AUTH_MODE,
          UPSTREAM_ISSUER,
          UPSTREAM_CLIENT_ID,
          UPSTREAM_CLIENT_SECRET,
          UPSTREAM_SCOPES,
          UPSTREAM_TOKEN_KEY,
          UPSTREAM_INTROSPECTION_CLIENT_ID,
          UPSTREAM_INTROSPECTION_CLIENT_SECRET,
          SIGNING_KEY_ROTATION_SECONDS,
          ACCESS_TOKEN_TTL_SECONDS,
          SESSION_TTL_SECONDS,
          SIGNING_KEY_ENCRYPTION_KEY,
        },
        { store: "durable-object" },
      );
      return createExampleAuth(config, createDurableObjectStore(env.PORTCULLIS_STORE));
    },
  },
);
