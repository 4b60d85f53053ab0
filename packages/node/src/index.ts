import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { AuthInfo, Handles, ResourceGuard } from "@portcullis/core";

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
  return getRequestListener(
    async (request, env) => {
      // The socket address, for per-address rate limits; forwarded headers are the core's call.
      const connection = { remoteAddress: (env.incoming as IncomingMessage).socket.remoteAddress };
      for (const handler of handlers) {
        const response = await handler.handle(request, connection);
        if (response) return response;
      }
      if (!fallback) return server.fetch(request, connection);
      await fallback(env.incoming as IncomingMessage, env.outgoing as ServerResponse);
      return RESPONSE_ALREADY_SENT;
    },
    { overrideGlobalObjects: false },
  );
}

/**
 * Requires a valid access token before `listener` runs: answers the guard's 401/403 challenge
 * (and the CORS preflight) itself, or sets `req.auth` (where the MCP SDK's Node
 * `StreamableHTTPServerTransport` reads it) and CORS headers for allowed browser origins. The
 * body stays unread for the listener.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 * @example
 * const mcp = withBearerAuth(guard, (req, res) => transport.handleRequest(req, res));
 */
export function withBearerAuth(
  guard: ResourceGuard,
  listener: (req: AuthenticatedRequest, res: ServerResponse) => unknown,
  options: { scopes?: string[] } = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return getRequestListener(
    async (request, env) => {
      if (request.method === "OPTIONS") return guard.preflight(request);
      // A guard with MCP-aware scopes reads the JSON-RPC body: read it once here and hand it on
      // parsed as `req.body`, since the stream cannot be read twice.
      const text = guard.inspectsBody && request.method === "POST" ? await request.text() : undefined;
      const checked = text === undefined ? request : new Request(request.url, { method: request.method, headers: request.headers, body: text });
      const result = await guard.authenticate(checked, options);
      if (result instanceof Response) return result;
      const outgoing = env.outgoing as ServerResponse;
      for (const [name, value] of Object.entries(guard.corsHeaders(request))) outgoing.setHeader(name, value);
      const incoming = Object.assign(env.incoming as IncomingMessage, { auth: result });
      if (text !== undefined) Object.assign(incoming, { body: parseJSON(text) });
      await listener(incoming, outgoing);
      return RESPONSE_ALREADY_SENT;
    },
    { overrideGlobalObjects: false },
  );
}

/** The verified access token of a request that passed {@link withBearerAuth}, if it did. */
export function getAuth(req: IncomingMessage): AuthInfo | undefined {
  return (req as Partial<AuthenticatedRequest>).auth;
}

function parseJSON(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
