import type { Request as ExpressRequest, RequestHandler, Response as ExpressResponse } from "express";
import { rawHeaders, serveOwned, type AuthInfo, type GuardRequest, type Handles, type ResourceGuard } from "@portcullis/core";

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
 * `express.json()` / `express.urlencoded()`.
 *
 * Does not interpret anything: status, headers and body are the core's.
 *
 * @example
 * app.use(oauthRouter(server, guard));
 */
export function oauthRouter(...handlers: Handles[]): RequestHandler {
  return async (req, res, next) => {
    // The socket address serves per-address rate limits; forwarded headers are the core's call.
    const response = await serveOwned(handlers, {
      path: pathOnly(req.originalUrl),
      method: req.method,
      request: (withBody) => toRequest(req, withBody),
      remoteAddress: () => req.socket.remoteAddress,
      body: req.readableDidRead ? undefined : { contentLength: req.headers["content-length"], chunks: req },
    });
    if (response) return send(response, res);
    next();
  };
}

/**
 * Requires a valid access token: answers the guard's 401/403 challenge (and the CORS preflight)
 * itself, or sets `req.auth` and CORS headers for allowed browser origins. The body stays unread.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 * @example
 * app.post("/mcp", requireBearerAuth(guard), (req, res) => transport.handleRequest(req, res, req.body));
 */
export function requireBearerAuth(guard: ResourceGuard, options: { scopes?: string[] } = {}): RequestHandler {
  return async (req, res, next) => {
    // What the guard reads, without building a Fetch Request.
    const request: GuardRequest = { method: req.method, url: urlOf(req), headers: rawHeaders(req.rawHeaders) };
    if (req.method === "OPTIONS") return send(guard.preflight(request), res);
    const body = guard.inspectsBody && req.method === "POST" ? await bodyForGuard(req) : undefined;
    const result = await guard.authenticate(request, body === undefined ? options : { ...options, body });
    if (result instanceof Response) return send(result, res);
    req.auth = result;
    const cors = guard.corsHeaders(request);
    for (const name in cors) res.setHeader(name, cors[name]!);
    next();
  };
}

/**
 * A guard with MCP-aware scopes reads the JSON-RPC body: as a body parser left it, or, when the
 * stream was still unread, read here and left parsed on `req.body`, where the MCP transport
 * takes it from.
 */
async function bodyForGuard(req: ExpressRequest): Promise<string | undefined> {
  if (req.readableEnded) {
    const parsed = parsedBody(req);
    return parsed instanceof Uint8Array ? new TextDecoder().decode(parsed) : (parsed as string | undefined);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    req.body = JSON.parse(text);
  } catch {
    req.body = text;
  }
  return text;
}

const pathOnly = (target: string) => {
  const query = target.indexOf("?");
  return query === -1 ? target : target.slice(0, query);
};

const urlOf = (req: ExpressRequest) => `${req.protocol}://${req.host}${req.originalUrl}`;

function toRequest(req: ExpressRequest, withBody: boolean): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (!req.rawHeaders[i]!.startsWith(":")) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  }
  const url = urlOf(req);
  if (!withBody || req.method === "GET" || req.method === "HEAD") return new Request(url, { method: req.method, headers });
  if (req.readableEnded) {
    // A body parser ran first: the stream is spent, so the body is rebuilt from what it parsed.
    headers.delete("Content-Length");
    return new Request(url, { method: req.method, headers, body: parsedBody(req) });
  }
  // Pulled only when the core reads it, so a path the core does not own leaves the stream untouched.
  let chunks: AsyncIterator<Uint8Array> | undefined;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        chunks ??= req[Symbol.asyncIterator]();
        const { done, value } = await chunks.next();
        if (done) controller.close();
        else controller.enqueue(value);
      },
    },
    { highWaterMark: 0 },
  );
  return new Request(url, { method: req.method, headers, body, duplex: "half" } as RequestInit);
}

function parsedBody(req: ExpressRequest): BodyInit | undefined {
  const body: unknown = req.body;
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return body;
  if (body instanceof Uint8Array) return new Uint8Array(body);
  if (!req.is("application/x-www-form-urlencoded")) return JSON.stringify(body);
  // Repeated parameters come back as arrays; they are sent repeated so the core can refuse them.
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(body)) for (const item of [value].flat()) form.append(name, String(item));
  return form.toString();
}

async function send(response: Response, res: ExpressResponse): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) if (name !== "set-cookie") res.setHeader(name, value);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("Set-Cookie", cookies);
  res.end(response.body ? new Uint8Array(await response.arrayBuffer()) : undefined);
}
