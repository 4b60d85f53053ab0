// The runtime module every Durable Object class with RPC methods extends. Declared here so the
// package compiles without @cloudflare/workers-types; the runtime (or wrangler) provides it.
declare module "cloudflare:workers" {
  export abstract class DurableObject<Env = unknown> {
    protected ctx: import("./workers.js").DurableObjectState;
    protected env: Env;
    constructor(ctx: import("./workers.js").DurableObjectState, env: Env);
  }
}
