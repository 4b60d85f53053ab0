import type { Handles } from "../types.js";
import { readDeclaredBody } from "./body.js";
import { jsonResponse } from "./responses.js";

/** What an adapter knows of a request, for {@link serveOwned}. */
export interface OwnedRequest {
  /** The request target's path, without the query. */
  path: string;
  method: string;
  /** Builds the Fetch `Request`, only once a handler may serve it; `withBody` is false when the body was read here. */
  request(withBody: boolean): Request;
  /** The socket's peer address, read only when a rate limit asks. */
  remoteAddress(): string | undefined;
  /** The runtime's own body stream (a Node `IncomingMessage`), when nothing has read it yet. */
  body?: { contentLength: string | undefined; chunks: AsyncIterable<Uint8Array> } | undefined;
}

/**
 * For adapters: the response of the first of `handlers` that serves the request, or `undefined`
 * when none does, so the framework's next handler runs. Builds no `Request` for a path no handler
 * owns, and reads the body of a POST or PUT a handler surely serves straight from the runtime's
 * stream when its `Content-Length` is declared and within the core's limit (no Fetch body stream).
 * A request whose `Host` and target form no URL (the `Request` cannot be built) is a 400.
 */
export async function serveOwned(handlers: readonly Handles[], input: OwnedRequest): Promise<Response | undefined> {
  const owned = handlers.map((handler) => handler.owns?.(input.path));
  if (owned.every((answer) => answer === false)) return undefined;
  const readsBody = input.body !== undefined && owned.includes(true) && (input.method === "POST" || input.method === "PUT");
  const body = readsBody ? await readDeclaredBody(input.body!.contentLength, input.body!.chunks) : undefined;
  let request: Request;
  try {
    request = input.request(body === undefined);
  } catch (error) {
    // A Host (or target) that forms no URL: the client's mistake, whatever the framework let through.
    if (!(error instanceof TypeError)) throw error;
    return jsonResponse({ error: "invalid_request", error_description: "the request's Host and target do not form a URL" }, { status: 400, noStore: true });
  }
  const connection = new OwnedConnection(input, body);
  for (const [i, handler] of handlers.entries()) {
    if (owned[i] === false) continue;
    const response = await handler.handle(request, connection);
    if (response) return response;
  }
  return undefined;
}

/**
 * What a handler knows of the connection: the body read here, and the peer address, read from the
 * socket only when asked (a rate limit, `clientIp`). The getter lives on the class: an object
 * literal with a getter gets an accessor and a hidden class of its own each time it is built,
 * allocated where only a full collection frees them (on the registration path, about 5 KB a
 * request and a mark-compact every few hundred milliseconds).
 */
class OwnedConnection {
  readonly #input: OwnedRequest;
  readonly body: Uint8Array | undefined;
  constructor(input: OwnedRequest, body: Uint8Array | undefined) {
    this.#input = input;
    this.body = body;
  }
  get remoteAddress(): string | undefined {
    return this.#input.remoteAddress();
  }
}
