import type { Context, MiddlewareHandler } from "hono";
import { rawHeaders, readAtMost, serveOwned, type AuthInfo, type GuardRequest, type Handles, type ResourceGuard } from "@portcullis/core";

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
  // Not an async function: a path none of them may own (the MCP route itself) goes on with
  // `next()`'s own promise, not one of ours resolved with it (two more microtask turns a request).
  return (c, next) => {
    const path = c.req.path;
    if (handlers.every((handler) => handler.owns?.(path) === false)) return next();
    return serve(handlers, c, path, next);
  };
}

async function serve(handlers: Handles[], c: Context, path: string, next: () => Promise<void>): Promise<Response | undefined> {
  // On @hono/node-server, the Node stream for the body and the socket address for per-address
  // rate limits; elsewhere (Workers, Deno, Bun) the core's `clientIp` option says where the
  // address comes from.
  const incoming = nodeIncoming(c);
  const response = await serveOwned(handlers, {
    path,
    method: c.req.method,
    request: () => c.req.raw,
    remoteAddress: () => incoming?.socket?.remoteAddress,
    body: incoming?.readableDidRead === false ? { contentLength: incoming.headers?.["content-length"], chunks: incoming } : undefined,
  });
  if (response) return response;
  await next();
}

/**
 * Requires a valid access token: answers the guard's 401/403 challenge itself, or sets
 * `c.get("auth")` and adds CORS headers for allowed browser origins.
 *
 * Nothing of the body is read before the token passed. A guard with MCP-aware scopes then reads
 * the JSON-RPC body of a POST through a clone, at most its limit (413 past it, 400 when it is not
 * JSON), leaving `c.req.raw` readable for the MCP transport. A failure of the guard is reported to
 * its `onError` and answered with a bare 500.
 *
 * @example
 * app.all("/mcp", bearerAuth(guard), (c) => transport.handleRequest(c.req.raw, { authInfo: c.get("auth") }));
 */
export function bearerAuth(guard: ResourceGuard, options: { scopes?: string[] } = {}): MiddlewareHandler {
  return async (c, next) => {
    const request = guardRequest(c);
    const result = await guard.protect(request, guard.inspectsBody && c.req.method === "POST" ? { ...options, body: bodyReader(c) } : options);
    if (!result.ok) return result.response;
    c.set("auth", result.auth);
    await next();
    for (const name in result.headers) c.res.headers.set(name, result.headers[name]!);
  };
}

/**
 * The guard's reader of a POST body: through a clone, left readable; or, when a middleware before
 * already read it through `c.req`, as Hono cached it.
 */
const bodyReader = (c: Context) => (maxBytes: number) => (c.req.raw.bodyUsed ? c.req.text() : readAtMost(c.req.raw.clone().body, maxBytes));

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
 * Fetch `Headers`; elsewhere the `Request` itself.
 */
function guardRequest(c: Context): GuardRequest {
  const raw = nodeIncoming(c)?.rawHeaders;
  if (!raw) return c.req.raw;
  return { method: c.req.method, url: c.req.url, headers: rawHeaders(raw) };
}
