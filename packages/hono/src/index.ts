import type { Context, MiddlewareHandler } from "hono";
import { rawHeaders, readDeclaredBody, type AuthInfo, type GuardRequest, type Handles, type ResourceGuard } from "@portcullis/core";

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
    const path = c.req.path;
    const owned = handlers.map((handler) => handler.owns?.(path));
    if (owned.every((answer) => answer === false)) return next();
    const incoming = nodeIncoming(c);
    // On @hono/node-server, a body Portcullis reads comes straight from the Node stream (no Fetch
    // body stream), and the socket address serves per-address rate limits (read only when one
    // asks); elsewhere (Workers, Deno, Bun) the core's `clientIp` option says where it comes from.
    const method = c.req.method;
    const unread = incoming !== undefined && incoming.readableDidRead === false;
    const body = unread && owned.includes(true) && (method === "POST" || method === "PUT") ? await readDeclaredBody(incoming.headers?.["content-length"], incoming) : undefined;
    const connection = {
      get remoteAddress() {
        return incoming?.socket?.remoteAddress;
      },
      body,
    };
    for (const [i, handler] of handlers.entries()) {
      if (owned[i] === false) continue;
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
    const request = guardRequest(c, guard);
    if (c.req.method === "OPTIONS") return guard.preflight(request);
    const result = await guard.authenticate(request, options);
    if (result instanceof Response) return result;
    c.set("auth", result);
    await next();
    const cors = guard.corsHeaders(request);
    for (const name in cors) c.res.headers.set(name, cors[name]!);
  };
}

interface NodeIncoming extends AsyncIterable<Uint8Array> {
  rawHeaders?: string[];
  headers?: { "content-length"?: string };
  /** False until something (another middleware through `c.req`) has read the body. */
  readableDidRead?: boolean;
  socket?: { remoteAddress?: string };
}

/** The Node request under @hono/node-server, which sets `c.env.incoming`; elsewhere none. */
const nodeIncoming = (c: Context): NodeIncoming | undefined => (c.env as { incoming?: NodeIncoming } | undefined)?.incoming;

/**
 * On @hono/node-server, the request with its raw headers, so the guard's header reads build no
 * Fetch `Headers`; elsewhere, and when the guard reads the body, the `Request` itself.
 */
function guardRequest(c: Context, guard: ResourceGuard): GuardRequest {
  const raw = nodeIncoming(c)?.rawHeaders;
  if (!raw || guard.inspectsBody) return c.req.raw;
  return { method: c.req.method, url: c.req.url, headers: rawHeaders(raw) };
}
