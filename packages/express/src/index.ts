import type { Request as ExpressRequest, RequestHandler, Response as ExpressResponse } from "express";
import { OAuthError, rawHeaders, readChunksAtMost, serveOwned, type AuthInfo, type BodyReader, type GuardRequest, type Handles, type ResourceGuard } from "@portcullis/core";

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
  return async (req, res, next) => {
    let response: Response | undefined;
    try {
      // The socket address serves per-address rate limits; forwarded headers are the core's call.
      response = await serveOwned(handlers, {
        path: pathOnly(req.originalUrl),
        method: req.method,
        request: (withBody) => toRequest(req, withBody),
        remoteAddress: () => req.socket.remoteAddress,
        body: req.readableDidRead ? undefined : { contentLength: req.headers["content-length"], chunks: req },
      });
    } catch (error) {
      // The core answers its own failures; this is the adapter's (a body that cannot be rebuilt).
      console.error("[portcullis] request failed", error instanceof Error ? error.message : error);
      response = new Response('{"error":"server_error"}', { status: 500, headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } });
    }
    if (response) return send(response, res, req);
    next();
  };
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
    const request: GuardRequest = { method: req.method, url: urlOf(req), headers: rawHeaders(req.rawHeaders) };
    let result: AuthInfo | Response;
    try {
      if (req.method === "OPTIONS") return await send(guard.preflight(request), res, req);
      // A body reader only where the guard may read one: the hot path allocates nothing more.
      result = await guard.authenticate(request, guard.inspectsBody && req.method === "POST" ? { ...options, ...bodyForGuard(req) } : options);
    } catch (error) {
      return await send(guard.serverError(error, request), res, req);
    }
    if (result instanceof Response) return send(result, res, req);
    req.auth = result;
    const cors = guard.corsHeaders(request);
    for (const name in cors) res.setHeader(name, cors[name]!);
    next();
  };
}

/**
 * How the guard gets the JSON-RPC body (it asks only once the token passed): the value a JSON
 * body parser mounted before made of it; the text or bytes `express.text()` / `express.raw()`
 * left; or, when the stream is still unread, read from it through the guard's limit and left
 * parsed on `req.body`. A body another parser consumed (a form) cannot be checked: 400.
 */
function bodyForGuard(req: ExpressRequest): { body: BodyReader } | { parsedBody: unknown } {
  if (!consumed(req)) {
    return {
      body: async (maxBytes) => {
        const bytes = await readChunksAtMost(req, maxBytes);
        // The guard answers 400 for anything but UTF-8 JSON, so this parses when it passes.
        if (bytes !== undefined) req.body = parseJSON(new TextDecoder().decode(bytes));
        return bytes;
      },
    };
  }
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

function parseJSON(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
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
  if (!req.is("application/x-www-form-urlencoded")) return toJSON(body);
  // Repeated parameters come back as arrays; they are sent repeated so the core can refuse them.
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(body)) for (const item of [value].flat()) form.append(name, String(item));
  return form.toString();
}

/**
 * `JSON.stringify` for what a JSON parser made, without recursion: a body nested deeper than the
 * stack goes on to the core, which refuses it as it refuses the same text, instead of a 500 here.
 */
function toJSON(value: unknown): string {
  const out: string[] = [];
  // Each frame: a value to write, or a closing bracket, or a separator.
  const stack: ({ value: unknown } | { text: string })[] = [{ value }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if ("text" in frame) {
      out.push(frame.text);
      continue;
    }
    const current = frame.value;
    if (Array.isArray(current)) {
      out.push("[");
      stack.push({ text: "]" });
      for (let i = current.length - 1; i >= 0; i--) {
        stack.push({ value: current[i] === undefined || typeof current[i] === "function" ? null : current[i] });
        if (i > 0) stack.push({ text: "," });
      }
    } else if (typeof current === "object" && current !== null && !("toJSON" in current && typeof current.toJSON === "function")) {
      const entries = Object.entries(current).filter(([, item]) => item !== undefined && typeof item !== "function");
      out.push("{");
      stack.push({ text: "}" });
      for (let i = entries.length - 1; i >= 0; i--) {
        stack.push({ value: entries[i]![1] });
        stack.push({ text: `${JSON.stringify(entries[i]![0])}:` });
        if (i > 0) stack.push({ text: "," });
      }
    } else {
      out.push(JSON.stringify(current) ?? "null");
    }
  }
  return out.join("");
}

/**
 * Writes a Fetch response. When the request's body was left part-read (the guard stopped at its
 * limit), the rest is discarded once the answer is out, as Node does for a body nobody read.
 */
async function send(response: Response, res: ExpressResponse, req: ExpressRequest): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) if (name !== "set-cookie") res.setHeader(name, value);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("Set-Cookie", cookies);
  res.end(response.body ? new Uint8Array(await response.arrayBuffer()) : undefined);
  if (req.readableDidRead && !req.readableEnded) {
    // The guard's reader left a `readable` listener, which would keep `resume()` from flowing.
    req.removeAllListeners("readable");
    req.resume();
  }
}
