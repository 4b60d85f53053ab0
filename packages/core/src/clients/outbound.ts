import { isIPLiteral, specialBlockOf } from "../lib/ip.js";
import { nodeBuiltin, type NodeProcess } from "../lib/node-builtin.js";
import { isLoopbackHost } from "../lib/url.js";
import { decodeStrictUTF8, readAtMost } from "../lib/stream.js";
import type { OutboundOptions } from "../options.js";

/**
 * The outbound policy after resolution: the `outbound` option ({@link OutboundOptions}, where
 * each member and the safe defaults are described), older names read, with its on/off switch.
 */
export type OutboundPolicy = Omit<OutboundOptions, "allowedHosts" | "deniedHosts">;

/** Why an outbound fetch was refused or failed; the message is safe to log, never sent to clients. */
export class OutboundError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "OutboundError";
  }
}

/** Special-use and private-use DNS names (RFC 6761, 6762, 8375, 7686, 9476, ICANN `.internal`, RFC 6762 App. G). */
const SPECIAL_NAME_SUFFIXES = [
  "localhost",
  "local",
  "internal",
  "home.arpa",
  "localdomain",
  "invalid",
  "onion",
  "alt",
  "lan",
  "home",
  "corp",
  "intranet",
  "private",
];

/** A host name lower-cased, without the trailing dot of a fully qualified name. */
const normalHost = (host: string) => host.toLowerCase().replace(/\.$/, "");

/** Whether a host matches a policy pattern: `name` exactly, or `*.name` for its subdomains. */
export function hostMatches(hostname: string, pattern: string): boolean {
  const host = normalHost(hostname);
  const p = normalHost(pattern);
  return p.startsWith("*.") ? host.endsWith(p.slice(1)) && host.length > p.length - 1 : host === p;
}

/**
 * Checks a URL against the policy before any resolution or connection: on, https (or loopback
 * http when allowed), no userinfo, allowed and not denied, no special IP literal or special-use
 * name. Throws {@link OutboundError}; answers whether the loopback development exception applies.
 */
export function checkOutboundURL(url: URL, options: OutboundPolicy): { loopbackException: boolean } {
  if (options.enabled === false) throw new OutboundError("outbound fetches are turned off");
  const loopbackException = options.allowInsecureLoopback === true && isLoopbackHost(url);
  if (url.protocol !== "https:" && !(loopbackException && url.protocol === "http:")) throw new OutboundError("must use https");
  if (url.username || url.password) throw new OutboundError("must not contain userinfo");
  const host = normalHost(url.hostname);
  if (host === "") throw new OutboundError("has no host");
  if (options.deniedFetchHosts?.some((p) => hostMatches(host, p))) throw new OutboundError("host is denied by policy");
  if (options.allowedFetchHosts && !options.allowedFetchHosts.some((p) => hostMatches(host, p))) throw new OutboundError("host is not allowed by policy");
  if (loopbackException) return { loopbackException };
  if (isIPLiteral(url.hostname)) {
    const block = specialBlockOf(url.hostname);
    if (block) throw new OutboundError(`host is not a public address (${block.name})`);
  } else if (!host.includes(".")) {
    throw new OutboundError("host is a single-label name");
  } else if (SPECIAL_NAME_SUFFIXES.some((suffix) => host === suffix || host.endsWith(`.${suffix}`))) {
    throw new OutboundError("host is a special-use name");
  }
  return { loopbackException };
}

type Lookup = (host: string, options: { all: true; verbatim: true }) => Promise<{ address: string }[]>;

/** The default resolver: `node:dns` where the runtime has it, else none. */
function defaultResolver(): ((hostname: string) => Promise<string[]>) | undefined {
  const lookup = nodeBuiltin<{ promises?: { lookup?: Lookup } }>("node:dns")?.promises?.lookup;
  if (typeof lookup !== "function") return undefined;
  return async (hostname) => (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);
}

/** Resolves a host and refuses it unless every address is public; answers the addresses, or undefined without a resolver. */
async function resolvePublic(hostname: string, options: OutboundPolicy): Promise<string[] | undefined> {
  const resolve = options.resolveHost ?? defaultResolver();
  if (!resolve) return undefined;
  let addresses: string[];
  try {
    addresses = await resolve(normalHost(hostname));
  } catch (error) {
    throw new OutboundError("host does not resolve", error);
  }
  if (!Array.isArray(addresses) || addresses.length === 0) throw new OutboundError("host does not resolve");
  for (const address of addresses) {
    const block = typeof address === "string" ? specialBlockOf(address) : { name: "not an address" };
    if (block) throw new OutboundError(`host resolves to a non-public address (${block.name})`);
  }
  return addresses;
}

// The slice of node:http(s) the pinned transport uses.
interface IncomingLike {
  statusCode?: number;
  rawHeaders: string[];
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  destroy(): unknown;
}
interface RequestModule {
  request(
    url: URL,
    options: Record<string, unknown>,
    callback: (response: IncomingLike) => void,
  ): { on(event: "error" | "close", l: (e?: Error) => void): unknown; end(): unknown; destroy(error?: Error): unknown };
}
type LookupCallback = (error: Error | null, address: string | { address: string; family: number }[], family?: number) => void;

/** Whether this is Node itself (not Bun, Deno or workerd's compatibility layer), whose http client honours `lookup`. */
function isNode(): boolean {
  const versions = (globalThis as { process?: NodeProcess }).process?.versions;
  return typeof versions?.node === "string" && !versions.bun && !versions.deno;
}

/**
 * A GET over `node:https` (or `node:http` for the loopback exception) that connects only to
 * `pinned`, the addresses already checked: no second DNS lookup, so no rebinding. No redirect is
 * followed, no compression asked for, no connection pooled with the application's.
 */
function nodeTransport(): ((request: Request, pinned: string[] | undefined, signal: AbortSignal) => Promise<Response>) | undefined {
  if (!isNode()) return undefined;
  const https = nodeBuiltin<RequestModule>("node:https");
  const http = nodeBuiltin<RequestModule>("node:http");
  if (typeof https?.request !== "function" || typeof http?.request !== "function") return undefined;
  return (request, pinned, signal) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(request.url);
      const lookup =
        pinned &&
        ((_host: string, opts: { all?: boolean; family?: number }, callback: LookupCallback) => {
          const all = pinned.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })).filter((a) => !opts?.family || a.family === opts.family);
          if (all.length === 0) return callback(Object.assign(new Error("no address of the family asked for"), { code: "ENOTFOUND" }), "");
          if (opts?.all) callback(null, all);
          else callback(null, all[0]!.address, all[0]!.family);
        });
      const module = url.protocol === "https:" ? https : http;
      const outgoing = module.request(
        url,
        {
          method: "GET",
          headers: { Accept: "application/json", "Accept-Encoding": "identity" },
          agent: false,
          ...(lookup ? { lookup } : {}),
        },
        (response) => {
          const headers = new Headers();
          for (let i = 0; i + 1 < response.rawHeaders.length; i += 2) {
            try {
              headers.append(response.rawHeaders[i]!, response.rawHeaders[i + 1]!);
            } catch {
              // A header the Fetch API cannot hold is dropped.
            }
          }
          const status = response.statusCode ?? 0;
          if (status !== 200) {
            response.destroy();
            resolve(new Response(null, { status: status >= 200 && status <= 599 ? status : 502, headers }));
            return;
          }
          let open = true;
          const body = new ReadableStream<Uint8Array>({
            start(controller) {
              response.on("data", (chunk) => {
                if (!open) return;
                controller.enqueue(new Uint8Array(chunk));
                if ((controller.desiredSize ?? 0) <= 0) response.pause();
              });
              response.on("end", () => {
                if (open) controller.close();
                open = false;
              });
              response.on("error", (error) => {
                if (open) controller.error(error);
                open = false;
              });
            },
            pull() {
              response.resume();
            },
            cancel() {
              open = false;
              response.destroy();
            },
          });
          resolve(new Response(body, { status, headers }));
        },
      );
      outgoing.on("error", reject);
      // Closes the socket at the time limit, whether or not the response has begun.
      const abort = () => outgoing.destroy(new OutboundError("fetch timed out"));
      if (signal.aborted) abort();
      else signal.addEventListener("abort", abort, { once: true });
      outgoing.on("close", () => signal.removeEventListener("abort", abort));
      outgoing.end();
    });
}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  if (Number(response.headers.get("Content-Length") ?? "0") > maxBytes) throw new OutboundError("document too large");
  const bytes = await readAtMost(response.body, maxBytes);
  if (!bytes) throw new OutboundError("document too large");
  try {
    return decodeStrictUTF8(bytes);
  } catch {
    throw new OutboundError("document is not UTF-8");
  }
}

/**
 * GETs JSON from a URL a client chose, under the outbound policy ({@link OutboundPolicy}):
 * checked before anything else, resolved and checked again by address, fetched without following
 * redirects (only a 200 counts), at most `maxBytes` read, all within `timeoutMs` even when the
 * fetch, the resolver or the body stream ignores the abort signal. Throws {@link OutboundError}.
 */
export async function fetchPublicJSON(url: URL, options: OutboundPolicy, defaults: { maxBytes?: number } = {}): Promise<{ body: unknown; response: Response }> {
  const { loopbackException } = checkOutboundURL(url, options);
  const maxBytes = options.maxBytes ?? defaults.maxBytes ?? 5120;
  // A timer of our own rather than AbortSignal.timeout: cleared once settled, and driven by a test's fake clock.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException("fetch timed out", "TimeoutError")), options.timeoutMs ?? 5000);
  const signal = controller.signal;
  let onAbort: () => void = () => {};
  const deadline = new Promise<never>((_, reject) => {
    onAbort = () => reject(new OutboundError("fetch timed out"));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  deadline.catch(() => {});
  let response: Response | undefined;
  try {
    const pinned = loopbackException || isIPLiteral(url.hostname) ? undefined : await Promise.race([resolvePublic(url.hostname, options), deadline]);
    const request = new Request(url.href, { method: "GET", redirect: "manual", signal, headers: { Accept: "application/json" } });
    const given = options.fetch;
    const node = given ? undefined : nodeTransport();
    const transport = given ? given(request) : node ? node(request, pinned, signal) : fetch(request);
    response = await Promise.race([transport, deadline]);
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      throw new OutboundError(`fetch answered ${response.status}`);
    }
    const text = await Promise.race([readCapped(response, maxBytes), deadline]);
    try {
      return { body: JSON.parse(text), response };
    } catch {
      throw new OutboundError("not JSON");
    }
  } catch (error) {
    if (signal.aborted) void response?.body?.cancel().catch(() => {});
    if (error instanceof OutboundError) throw error;
    throw new OutboundError(signal.aborted ? "fetch timed out" : "fetch failed", error);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}
