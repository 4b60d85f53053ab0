import type { MiddlewareHandler } from "hono";
import type { AuthInfo, Handles, ResourceGuard } from "@portcullis/core";

declare module "hono" {
  interface ContextVariableMap {
    /** The verified access token of a request that passed `bearerAuth`. */
    auth: AuthInfo;
  }
}

/**
 * Serves the authorization server's endpoints and each guard's protected resource metadata;
 * every other request goes on to the next handler.
 *
 * @example
 * app.use(oauthRoutes(server, guard));
 */
export function oauthRoutes(...handlers: Handles[]): MiddlewareHandler {
  return async (c, next) => {
    // On @hono/node-server the socket address, for per-address rate limits; elsewhere (Workers,
    // Deno, Bun) the core's `clientIp` option says where the address comes from.
    const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
    const connection = { remoteAddress: incoming?.socket?.remoteAddress };
    for (const handler of handlers) {
      const response = await handler.handle(c.req.raw, connection);
      if (response) return response;
    }
    await next();
  };
}

/**
 * Requires a valid access token: answers the guard's 401/403 challenge itself, or sets
 * `c.get("auth")` and adds CORS headers for allowed browser origins.
 *
 * @example
 * app.all("/mcp", bearerAuth(guard), (c) => transport.handleRequest(c.req.raw, { authInfo: c.get("auth") }));
 */
export function bearerAuth(guard: ResourceGuard, options: { scopes?: string[] } = {}): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === "OPTIONS") return guard.preflight(c.req.raw);
    const result = await guard.authenticate(c.req.raw, options);
    if (result instanceof Response) return result;
    c.set("auth", result);
    await next();
    for (const [name, value] of Object.entries(guard.corsHeaders(c.req.raw))) c.res.headers.set(name, value);
  };
}
