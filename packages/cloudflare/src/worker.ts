import type { AuthInfo, Handles, ResourceGuard } from "@portcullis/core";
import type { ExecutionContext } from "./workers.js";

/** What {@link withPortcullis} builds from the Worker's `env`, once per isolate. */
export interface PortcullisSetup {
  /** The authorization server; omit it when tokens come from a separate one. */
  server?: Handles;
  /** The guard of the Worker's protected resource. */
  guard: ResourceGuard;
}

/**
 * A module Worker whose `fetch` also receives the verified token: `auth` is set on every guarded
 * route and `undefined` on the others.
 */
export interface PortcullisWorkerHandler<Env> {
  fetch(request: Request, env: Env, ctx: ExecutionContext, auth: AuthInfo | undefined): Response | Promise<Response>;
}

/** Options of {@link withPortcullis}. */
export interface PortcullisWorkerOptions<Env> {
  /** Builds the server and guard from `env` (bindings and vars); called once per `env` object. */
  setup(env: Env): PortcullisSetup;
  /**
   * Which requests need an access token. Default: the path of the guard's resource URL and the
   * paths below it (everything, when the resource is the origin's root).
   */
  protect?: (request: Request) => boolean;
  /** Scopes a guarded request needs. Default: the guard's `requiredScopes`. */
  scopes?: string[];
}

/**
 * Wraps a module Worker: Portcullis serves the authorization server's endpoints and the protected
 * resource metadata, answers the 401/403 challenge on guarded routes, and hands the verified
 * {@link AuthInfo} to the Worker's own `fetch` as a fourth argument. Other handlers (`scheduled`,
 * `queue`, ...) pass through unchanged. Web APIs only: no `nodejs_compat`.
 *
 * An exception anywhere in `fetch` (setup, the guard, the Worker's own `fetch`) is reported to the
 * guard's `onError` (before setup, the message alone to `console.error`) and answered with a bare
 * `{"error":"server_error"}` 500 with `Cache-Control: no-store`, never the stack.
 *
 * @example
 * export default withPortcullis(
 *   { fetch: (request, env, ctx, auth) => (auth ? handleMcp(request, auth) : new Response("hello")) },
 *   { setup: (env) => createAuth(env, createDurableObjectStore(env.PORTCULLIS_STORE)) },
 * );
 */
export function withPortcullis<Env extends object, W extends PortcullisWorkerHandler<Env> = PortcullisWorkerHandler<Env>>(
  worker: W,
  options: PortcullisWorkerOptions<Env>,
): Omit<W, "fetch"> & { fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> } {
  const setups = new WeakMap<Env, PortcullisSetup & { protect: (request: Request) => boolean }>();
  const setupFor = (env: Env) => {
    let setup = setups.get(env);
    if (!setup) {
      const built = options.setup(env);
      setup = { ...built, protect: options.protect ?? protectsResourcePath(built.guard.resource) };
      setups.set(env, setup);
    }
    return setup;
  };

  return {
    ...worker,
    async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
      let guard: ResourceGuard | undefined;
      try {
        const setup = setupFor(env);
        guard = setup.guard;
        // Cloudflare's edge sets CF-Connecting-IP and overwrites any a client sends: the address for
        // per-address rate limits.
        const connection = { remoteAddress: request.headers.get("CF-Connecting-IP") ?? undefined };
        for (const handler of setup.server ? [setup.server, guard] : [guard]) {
          const response = await handler.handle(request, connection);
          if (response) return response;
        }
        if (!setup.protect(request)) return await worker.fetch(request, env, ctx, undefined);
        // The token is checked from the headers first; the guard reads the body (through a clone,
        // within its limit) only once it passed, and only for MCP-aware scopes.
        const result = await guard.protect(request, options.scopes ? { scopes: options.scopes } : {});
        if (!result.ok) return result.response;
        const response = await worker.fetch(request, env, ctx, result.auth);
        const cors = Object.entries(result.headers);
        if (cors.length === 0) return response;
        // A Response from fetch() has immutable headers: copy it before adding ours.
        const withCors = new Response(response.body, response);
        for (const [name, value] of cors) withCors.headers.set(name, value);
        return withCors;
      } catch (error) {
        // Never the runtime's error page (a stack trace in development): a bare server_error.
        if (guard) return guard.serverError(error, request);
        console.error("[portcullis] request failed", error instanceof Error ? error.message : error);
        return new Response('{"error":"server_error"}', { status: 500, headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } });
      }
    },
  };
}

function protectsResourcePath(resource: string): (request: Request) => boolean {
  const path = new URL(resource).pathname.replace(/\/$/, "");
  if (path === "") return () => true;
  return (request) => {
    const { pathname } = new URL(request.url);
    return pathname === path || pathname.startsWith(`${path}/`);
  };
}
