import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { serveOwned, type AuthInfo, type Handles, type ResourceGuard } from "@portcullis/core";
import { nodeBodyReader, nodeGuardRequest, sendRefusal, sendResponse } from "@portcullis/core/node";

/** A `node:http` / `node:https` request listener. */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/**
 * A Node request that passed {@link withBearerAuth}. `body` is set, parsed, only when the guard
 * had to read it (MCP-aware scopes): pass it to the MCP transport as its parsed body.
 */
export type AuthenticatedRequest = IncomingMessage & { auth: AuthInfo; body?: unknown };

/**
 * A listener for `http.createServer` / `https.createServer` that serves the authorization server's
 * endpoints and each guard's protected resource metadata. Other paths go to the optional last
 * argument, a Node listener, with the body unread; without one, the server's own 404 answers.
 *
 * Does not patch Node's globals (`overrideGlobalObjects: false`).
 *
 * @example
 * http.createServer(toNodeListener(server, guard, (req, res) => app(req, res))).listen(8787);
 */
export function toNodeListener(
  server: Handles & { fetch(request: Request, connection?: { remoteAddress?: string | undefined }): Promise<Response> },
  ...rest: Handles[] | [...Handles[], NodeListener]
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const last = rest.at(-1);
  const fallback = typeof last === "function" ? last : undefined;
  const handlers = [server, ...(rest.filter((item) => typeof item !== "function") as Handles[])];
  const listener = getRequestListener(
    async (request, env) => {
      const incoming = env.incoming as IncomingMessage;
      const outgoing = env.outgoing as ServerResponse;
      try {
        // The socket address serves per-address rate limits; forwarded headers are the core's call.
        const remoteAddress = () => incoming.socket.remoteAddress;
        const response = await serveOwned(handlers, {
          path: pathOf(incoming),
          method: request.method,
          request: () => request,
          remoteAddress,
          body: incoming.readableDidRead ? undefined : { contentLength: incoming.headers["content-length"], chunks: incoming },
        });
        if (response) return response;
        if (!fallback) return await server.fetch(request, { remoteAddress: remoteAddress() });
        await fallback(incoming, outgoing);
      } catch (error) {
        // Not @hono/node-server's answer, which puts the message in the body.
        fail(error, outgoing);
      }
      return RESPONSE_ALREADY_SENT;
    },
    { overrideGlobalObjects: false },
  );
  if (!fallback) return listener;
  // The app's own paths go straight to the fallback, without a Request built for them.
  return async (req, res) => {
    const path = pathOf(req);
    if (handlers.some((handler) => handler.owns?.(path) !== false)) return listener(req, res);
    try {
      await fallback(req, res);
    } catch (error) {
      fail(error, res);
    }
  };
}

/** The path of a request's target, without its query. */
function pathOf(req: IncomingMessage): string {
  const target = req.url ?? "/";
  const query = target.indexOf("?");
  return query === -1 ? target : target.slice(0, query);
}

/**
 * Requires a valid access token before `listener` runs: answers the guard's 401/403 challenge
 * (and the CORS preflight) itself, or sets `req.auth` (where the MCP SDK's Node
 * `StreamableHTTPServerTransport` reads it) and CORS headers for allowed browser origins.
 *
 * Nothing of the body is read before the token passed. A guard with MCP-aware scopes then reads
 * the JSON-RPC body of a POST, at most its limit (413 past it, 400 when it is not JSON), and hands
 * it on parsed as `req.body`; otherwise the body stays unread for the listener. A failure of the
 * guard or the listener is reported to the guard's `onError` and answered with a bare 500.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 * @example
 * const mcp = withBearerAuth(guard, (req, res) => transport.handleRequest(req, res, req.body));
 */
export function withBearerAuth(
  guard: ResourceGuard,
  listener: (req: AuthenticatedRequest, res: ServerResponse) => unknown,
  options: { scopes?: string[] } = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    // What the guard reads, without building a Fetch Request.
    const request = nodeGuardRequest(req);
    // A body reader only where the guard may read one: the hot path allocates nothing more.
    const result = await guard.protect(request, guard.inspectsBody && req.method === "POST" ? { ...options, body: nodeBodyReader(req) } : options);
    if (!result.ok) return sendRefusal(result, res, req);
    for (const name in result.headers) res.setHeader(name, result.headers[name]!);
    try {
      await listener(Object.assign(req, { auth: result.auth }), res);
    } catch (error) {
      const response = guard.serverError(error, request);
      if (res.headersSent) res.destroy();
      else await sendResponse(response, res, req);
    }
  };
}

/** Never a stack trace: a listener's failure is a bare 500 (or a cut connection once headers went out). */
function fail(error: unknown, res: ServerResponse): void {
  console.error("[portcullis] request failed", error instanceof Error ? error.message : error);
  if (!res.headersSent) res.writeHead(500, { "Content-Type": "application/json", "Cache-Control": "no-store" }).end('{"error":"server_error"}');
  else res.destroy();
}

/** The verified access token of a request that passed {@link withBearerAuth}, if it did. */
export function getAuth(req: IncomingMessage): AuthInfo | undefined {
  return (req as Partial<AuthenticatedRequest>).auth;
}
