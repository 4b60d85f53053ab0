import { OAuthError } from "../errors.js";
import { decodeStrictUTF8, readAtMost } from "../lib/stream.js";

/** Largest request body read by any endpoint; past it the request is refused with 413. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Bodies adapters read before the core saw the request (`ConnectionInfo.body`), by request. */
const readBodies = new WeakMap<Request, Uint8Array>();

/** Records the body an adapter already read for `request`, for {@link readBody}. */
export function rememberBody(request: Request, body: Uint8Array): void {
  readBodies.set(request, body);
}

/**
 * Reads a request body from the runtime's own stream (a Node `IncomingMessage` is an async
 * iterable of chunks) when its `Content-Length` is declared and within the core's limit, so the
 * core need not build a Fetch body stream; answers `undefined`, reading nothing, otherwise
 * (chunked or oversized bodies are left for the core to read and refuse). For `serveOwned`.
 */
export async function readDeclaredBody(contentLength: string | null | undefined, chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array | undefined> {
  if (!contentLength || !/^\d{1,9}$/.test(contentLength)) return undefined;
  const length = Number(contentLength);
  if (length > MAX_BODY_BYTES) return undefined;
  const body = new Uint8Array(length);
  if (isUnreadNodeStream(chunks)) return readEvents(chunks, body);
  let offset = 0;
  for await (const chunk of chunks) offset = fill(body, offset, chunk);
  return offset === length ? body : body.subarray(0, offset);
}

/** Copies `chunk` into `body` at `offset`, cut at the body's end; answers the new offset. */
function fill(body: Uint8Array, offset: number, chunk: Uint8Array): number {
  // The HTTP parser frames the body by Content-Length; a longer one is cut, never overrun.
  const n = Math.min(chunk.length, body.length - offset);
  body.set(n === chunk.length ? chunk : chunk.subarray(0, n), offset);
  return offset + n;
}

/** The part of a Node `Readable` (an `IncomingMessage`) read through its events. */
interface NodeStream {
  on(event: string, listener: (arg: never) => void): unknown;
  removeListener(event: string, listener: (arg: never) => void): unknown;
  readableEnded?: boolean;
  destroyed?: boolean;
}

function isUnreadNodeStream(chunks: AsyncIterable<Uint8Array>): chunks is AsyncIterable<Uint8Array> & NodeStream {
  const stream = chunks as Partial<NodeStream>;
  return typeof stream.on === "function" && typeof stream.removeListener === "function" && stream.readableEnded === false && stream.destroyed === false;
}

/**
 * A Node stream's body through its `data` and `end` events: what `for await` reads, without the
 * async iterator's promise per chunk and end-of-stream watcher (about 7 µs a request on the
 * registration path). A stream that closes or fails before its end (the client went away) rejects.
 */
function readEvents(stream: NodeStream, body: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let offset = 0;
    const data = (chunk: Uint8Array) => {
      offset = fill(body, offset, chunk);
    };
    const end = () => {
      stop();
      resolve(offset === body.length ? body : body.subarray(0, offset));
    };
    const error = (cause: Error) => {
      stop();
      reject(cause);
    };
    const close = () => error(new Error("the request closed before its body ended"));
    const stop = () => {
      stream.removeListener("data", data);
      stream.removeListener("end", end);
      stream.removeListener("error", error);
      stream.removeListener("close", close);
    };
    stream.on("data", data);
    stream.on("end", end);
    stream.on("error", error);
    stream.on("close", close);
  });
}

/** Reads a body up to `limit` bytes without trusting `Content-Length`. */
export async function readBody(request: Request, limit = MAX_BODY_BYTES): Promise<string> {
  const declared = Number(request.headers.get("Content-Length") ?? "0");
  if (declared > limit) throw tooLarge();
  const known = readBodies.get(request);
  const bytes = known === undefined ? await readAtMost(request.body, limit) : known.length <= limit ? known : undefined;
  if (!bytes) throw tooLarge();
  try {
    return decodeStrictUTF8(bytes);
  } catch {
    throw new OAuthError("invalid_request", "request body is not valid UTF-8");
  }
}

function tooLarge(): OAuthError {
  return new OAuthError("invalid_request", "request body too large", { status: 413 });
}

/** The media type of a request, lower-cased, without parameters. */
export function mediaType(request: Request): string {
  return (request.headers.get("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Longest parameter value, decoded; `state` has the same documented limit (B10). */
export const MAX_PARAM_LENGTH = 4096;
/**
 * Longer parameters: an assertion is a JWT; the token of revocation and introspection may be
 * anything at all, and anything unknown is answered as such (RFC 7009 §2.2, RFC 7662 §2.2).
 */
const LONG_PARAMS: ReadonlyMap<string, number> = new Map([
  ["client_assertion", 8192],
  ["token", 64 * 1024],
]);
/** Most parameters in one query string or body. */
export const MAX_PARAMS = 64;

/**
 * Parameters of a query string or form body where each name appears at most once
 * (OAuth 2.1 §3.1: parameters MUST NOT be repeated). Empty values count as absent. A value
 * longer than {@link MAX_PARAM_LENGTH}, or more than {@link MAX_PARAMS} parameters, is
 * `invalid_request`.
 */
export class Params {
  private readonly values = new Map<string, string>();
  /** Names that appeared more than once. */
  readonly repeated: string[] = [];

  constructor(raw: string) {
    if (raw === "") return;
    let count = 0;
    for (const pair of raw.split("&")) {
      if (pair === "") continue;
      if (++count > MAX_PARAMS) throw new OAuthError("invalid_request", `more than ${MAX_PARAMS} parameters`);
      const eq = pair.indexOf("=");
      const name = decodeComponent(eq === -1 ? pair : pair.slice(0, eq));
      const value = decodeComponent(eq === -1 ? "" : pair.slice(eq + 1));
      if (name.length > 128 || value.length > (LONG_PARAMS.get(name) ?? MAX_PARAM_LENGTH)) {
        throw new OAuthError("invalid_request", `parameter too long: ${name.slice(0, 40)}`);
      }
      if (this.seen.has(name)) {
        if (!this.repeated.includes(name)) this.repeated.push(name);
        continue;
      }
      this.seen.add(name);
      if (value !== "") this.values.set(name, value);
    }
  }

  private readonly seen = new Set<string>();

  get(name: string): string | undefined {
    return this.values.has(name) ? this.values.get(name) : undefined;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** Throws `invalid_request` if any of `names` (or, without names, any parameter) was repeated. */
  assertNotRepeated(names?: string[]): void {
    const bad = names ? this.repeated.filter((n) => names.includes(n)) : this.repeated;
    if (bad.length > 0) throw new OAuthError("invalid_request", `parameter repeated: ${bad[0]}`);
  }
}

function decodeComponent(text: string): string {
  // Most names and values (tokens, codes, grant types) have nothing to decode.
  if (!text.includes("%") && !text.includes("+")) return text;
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    throw new OAuthError("invalid_request", "malformed percent-encoding");
  }
}

/** Parses an `application/x-www-form-urlencoded` body, refusing other media types. */
export async function readForm(request: Request): Promise<Params> {
  if (mediaType(request) !== "application/x-www-form-urlencoded") {
    throw new OAuthError("invalid_request", "content type must be application/x-www-form-urlencoded");
  }
  return new Params(await readBody(request));
}

/** Parses the query string of a URL. */
export function queryParams(url: URL): Params {
  return new Params(url.search.slice(1));
}
