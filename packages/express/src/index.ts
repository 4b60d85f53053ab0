import type { Request as ExpressRequest, RequestHandler, Response as ExpressResponse } from "express";
import { MAX_JSON_DEPTH, OAuthError, serveOwned, type AuthInfo, type BodyReader, type Handles, type ResourceGuard } from "@portcullis/core";
import { nodeBodyReader, nodeFetchRequest, nodeGuardRequest, sendRefusal, sendResponse } from "@portcullis/core/node";

declare global {
  // Declaration merging is how Express types what middleware adds to a request.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified access token of a request that passed `requireBearerAuth`. */
      auth?: AuthInfo;
    }
  }
}

/**
 * Serves the authorization server's endpoints and each guard's protected resource metadata;
 * every other request goes on to `next()` with its body unread. Works before or after
 * `express.json()` / `express.urlencoded()`; mounted before them, it answers exactly as the core
 * does. After them it sees the parsed body: `express.urlencoded()` decodes a malformed
 * percent-encoding leniently where the core refuses it (400), so a request the core would refuse
 * as malformed is answered for the value it decoded to instead.
 *
 * Does not interpret anything: status, headers and body are the core's.
 *
 * @example
 * app.use(oauthRouter(server, guard));
 */
export function oauthRouter(...handlers: Handles[]): RequestHandler {
  // Not an async function: a path none of them may own (the MCP route itself) goes on at once,
  // without a promise of ours for Express to watch.
  return (req, res, next) => {
    const path = pathOnly(req.originalUrl);
    if (handlers.every((handler) => handler.owns?.(path) === false)) return next();
    return serve(handlers, path, req, res, next);
  };
}

async function serve(handlers: Handles[], path: string, req: ExpressRequest, res: ExpressResponse, next: () => void): Promise<void> {
  let response: Response | undefined;
  try {
    // The socket address serves per-address rate limits; forwarded headers are the core's call.
    response = await serveOwned(handlers, {
      path,
      method: req.method,
      request: (withBody) =>
        nodeFetchRequest(req, urlOf(req), !withBody || req.method === "GET" || req.method === "HEAD" ? false : req.readableEnded ? parsedBody(req) : undefined),
      remoteAddress: () => req.socket.remoteAddress,
      body: req.readableDidRead ? undefined : { contentLength: req.headers["content-length"], chunks: req },
    });
  } catch (error) {
    // The core answers its own failures; this is the adapter's (a body that cannot be rebuilt).
    console.error("[portcullis] request failed", error instanceof Error ? error.message : error);
    response = new Response('{"error":"server_error"}', { status: 500, headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } });
  }
  if (response) return sendResponse(response, res, req);
  next();
}

/**
 * Requires a valid access token: answers the guard's 401/403 challenge (and the CORS preflight)
 * itself, or sets `req.auth` and CORS headers for allowed browser origins.
 *
 * Nothing of the body is read before the token passed. A guard with MCP-aware scopes then reads
 * the JSON-RPC body of a POST: as a body parser mounted before left it, or else from the stream, at
 * most the guard's limit (413 past it, 400 when it is not JSON), left parsed on `req.body` where the
 * MCP transport takes it from. Otherwise the body stays unread. A failure of the guard is reported
 * to its `onError` and answered with a bare 500, never Express's error page.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 * @example
 * app.post("/mcp", requireBearerAuth(guard), (req, res) => transport.handleRequest(req, res, req.body));
 */
export function requireBearerAuth(guard: ResourceGuard, options: { scopes?: string[] } = {}): RequestHandler {
  return async (req, res, next) => {
    // What the guard reads, without building a Fetch Request.
    const request = nodeGuardRequest(req, urlOf(req));
    // A body reader only where the guard may read one: the hot path allocates nothing more.
    const result = await guard.protect(request, guard.inspectsBody && req.method === "POST" ? { ...options, ...bodyForGuard(req) } : options);
    if (!result.ok) return sendRefusal(result, res, req);
    req.auth = result.auth;
    for (const name in result.headers) res.setHeader(name, result.headers[name]!);
    next();
  };
}

/**
 * How the guard gets the JSON-RPC body (it asks only once the token passed): when the stream is
 * still unread, read from it through the guard's limit and left parsed on `req.body`; the value
 * a JSON body parser mounted before made of it; or the text or bytes `express.text()` /
 * `express.raw()` left. A body another parser consumed (a form) cannot be checked: 400.
 */
function bodyForGuard(req: ExpressRequest): { body: BodyReader } | { parsedBody: unknown } {
  if (!consumed(req)) return { body: nodeBodyReader(req) };
  const body: unknown = req.body;
  if (typeof body === "string") return { body: async () => body };
  if (body instanceof Uint8Array) return { body: async () => body };
  if (body !== undefined && req.is("json")) return { parsedBody: body };
  return {
    body: async () => {
      throw new OAuthError("invalid_request", "the request body must be JSON", { status: 400 });
    },
  };
}

/** Whether a body parser (or anything else) already read the request stream. */
const consumed = (req: ExpressRequest) => req.readableEnded || req.readableDidRead || (req as { _body?: boolean })._body === true;

const pathOnly = (target: string) => {
  const query = target.indexOf("?");
  return query === -1 ? target : target.slice(0, query);
};

const urlOf = (req: ExpressRequest) => `${req.protocol}://${req.host}${req.originalUrl}`;

/** The body a parser that ran first consumed, rebuilt for the core from what it parsed. */
function parsedBody(req: ExpressRequest): BodyInit | null {
  const body: unknown = req.body;
  if (body === undefined || body === null) return null;
  if (typeof body === "string") return body;
  if (body instanceof Uint8Array) return new Uint8Array(body);
  if (!req.is("application/x-www-form-urlencoded")) return toJSON(body);
  // Repeated parameters come back as arrays; they are sent repeated so the core can refuse them.
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(body)) for (const item of [value].flat()) form.append(name, String(item));
  return form.toString();
}

/**
 * The JSON text of what a JSON body parser made. A value nested deeper than `JSON.stringify`'s
 * stack allows (thousands of levels) came from a text the core refuses for its depth alone
 * (`MAX_JSON_DEPTH`): it goes on as a text nested just past that depth, which the core refuses
 * the same way, never as a 500 here.
 */
function toJSON(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "";
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return `${"[".repeat(MAX_JSON_DEPTH + 1)}${"]".repeat(MAX_JSON_DEPTH + 1)}`;
  }
}
