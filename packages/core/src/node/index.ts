// The Node `http` side of the Node-based adapters (@portcullis/node, @portcullis/express): reading
// a request for the guard and the core, and writing a Fetch `Response` back. Typed structurally,
// so nothing here imports `node:*` (or needs Node's types): the core stays free of both.
import { rawHeaders } from "../http/raw-headers.js";
import { readChunksAtMost } from "../lib/stream.js";
import type { GuardRequest, ProtectResult } from "../resource/guard.js";

/** What is read of a Node `http.IncomingMessage` (an Express request is one). */
export interface NodeRequest extends AsyncIterable<Uint8Array> {
  readonly method?: string | undefined;
  /** The request target, e.g. `/mcp?x=1`. */
  readonly url?: string | undefined;
  /** Header names and values, alternating, as received. */
  readonly rawHeaders: string[];
  readonly readableDidRead: boolean;
  readonly readableEnded: boolean;
  /** `encrypted` is set on a TLS socket. */
  readonly socket: { readonly encrypted?: boolean; readonly remoteAddress?: string | undefined } | null;
  removeAllListeners(event: "readable"): unknown;
  resume(): unknown;
}

/** What is written of a Node `http.ServerResponse` (an Express response is one). */
export interface NodeResponse {
  statusCode: number;
  readonly destroyed: boolean;
  setHeader(name: string, value: string | string[]): unknown;
  write(chunk: Uint8Array): boolean;
  end(chunk?: Uint8Array | string): unknown;
  destroy(): unknown;
  once(event: "drain" | "close", listener: () => void): unknown;
  off(event: "drain" | "close", listener: () => void): unknown;
}

/**
 * The request as the guard reads it, without building a Fetch `Request`: its raw headers behind
 * a header reader, and its URL.
 *
 * @param req The Node request.
 * @param url The absolute URL, when the framework knows it better (Express behind a trusted
 *   proxy). Default: `https` on a TLS socket, else `http`, the `Host` header (or HTTP/2
 *   `:authority`), and the target.
 */
export function nodeGuardRequest(req: NodeRequest, url?: string): GuardRequest {
  const headers = rawHeaders(req.rawHeaders);
  // Built from the raw headers (reading `req.headers` makes Node build its header object).
  url ??= `${req.socket?.encrypted ? "https" : "http"}://${headers.get("Host") ?? authority(req.rawHeaders)}${req.url ?? "/"}`;
  return { method: req.method ?? "GET", url, headers };
}

/** An HTTP/2 request's `:authority` pseudo-header, which stands for `Host`. */
function authority(raw: string[]): string {
  const at = raw.indexOf(":authority");
  return at !== -1 && at % 2 === 0 ? (raw[at + 1] ?? "") : "";
}

/**
 * The guard's body reader (a `BodyReader`) for a Node request whose body nothing has read: it reads the
 * stream, at most the guard's limit (stopping there, neither draining nor destroying it), and
 * leaves what it read parsed on `req.body` when it is JSON, where the MCP SDK's Node transport
 * takes it from. The stream reads once: the route gets the body from `req.body`.
 */
export function nodeBodyReader(req: NodeRequest & { body?: unknown }): (maxBytes: number) => Promise<Uint8Array | undefined> {
  return async (maxBytes) => {
    const bytes = await readChunksAtMost(req, maxBytes);
    if (bytes !== undefined) {
      try {
        req.body = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
      } catch {
        // Not JSON: the guard answers 400 and the route never runs.
      }
    }
    return bytes;
  };
}

/**
 * A Fetch `Request` for a Node request: its raw headers (without HTTP/2 pseudo-headers) and its
 * body, pulled from the stream only as the `Request` is read, so a request nobody reads leaves
 * the stream untouched.
 *
 * @param req The Node request.
 * @param url The absolute URL.
 * @param body `false` for no body; a body to send instead of the stream (one a body parser
 *   already consumed, rebuilt; its `Content-Length` is dropped); by default the stream.
 */
export function nodeFetchRequest(req: NodeRequest, url: string, body?: BodyInit | null | false): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (!req.rawHeaders[i]!.startsWith(":")) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  }
  const method = req.method ?? "GET";
  if (body === false || method === "GET" || method === "HEAD") return new Request(url, { method, headers });
  if (body !== undefined) {
    headers.delete("Content-Length");
    return new Request(url, { method, headers, body });
  }
  let chunks: AsyncIterator<Uint8Array> | undefined;
  const stream = new ReadableStream<Uint8Array>(
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
  return new Request(url, { method, headers, body: stream, duplex: "half" } as RequestInit);
}

/**
 * Writes a Fetch `Response` to a Node response: its status, its headers (each `Set-Cookie` as its
 * own header line), and its body as it streams, waiting for the socket to drain. A body that fails
 * midway cuts the connection (never a cut answer that looks whole); a client that went away stops
 * the body.
 *
 * When `req` is given and its body was left part-read (the guard stopped at its limit), the rest
 * is discarded once the answer is out, as Node does for a body nobody read, so the connection
 * neither stalls nor buffers it.
 *
 * @param response The response to send.
 * @param res The Node response, its headers not sent yet.
 * @param req The request it answers.
 */
export async function sendResponse(response: Response, res: NodeResponse, req?: NodeRequest): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) if (name !== "set-cookie") res.setHeader(name, value);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("Set-Cookie", cookies);
  await writeBody(response.body, res);
  if (req?.readableDidRead && !req.readableEnded) {
    // The guard's reader left a `readable` listener, which would keep `resume()` from flowing.
    req.removeAllListeners("readable");
    req.resume();
  }
}

/**
 * Writes the guard's refusal ({@link ProtectResult} with `ok: false`): as it is when the guard
 * gave its plain form (a challenge: no Fetch `Response` is built or streamed), else through
 * {@link sendResponse}.
 *
 * @param result The refusal from `guard.protect`.
 * @param res The Node response.
 * @param req The Node request, left flowing when the guard read part of its body.
 */
export function sendRefusal(result: Extract<ProtectResult, { ok: false }>, res: NodeResponse, req?: NodeRequest): Promise<void> | void {
  const plain = result.plain;
  if (!plain) return sendResponse(result.response, res, req);
  res.statusCode = plain.status;
  for (const name in plain.headers) res.setHeader(name, plain.headers[name]!);
  res.end(plain.body);
  if (req?.readableDidRead && !req.readableEnded) {
    req.removeAllListeners("readable");
    req.resume();
  }
}

async function writeBody(body: ReadableStream<Uint8Array> | null, res: NodeResponse): Promise<void> {
  if (!body) return void res.end();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return void res.end();
      if (!res.write(value)) await drained(res);
      if (res.destroyed) return void reader.cancel().catch(() => {});
    }
  } catch {
    res.destroy();
  }
}

/** Until the socket takes more (or closes). */
function drained(res: NodeResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}
