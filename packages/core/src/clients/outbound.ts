import { isIPLiteral, isSpecialUseAddress } from "../lib/ip.js";
import { isLoopbackHost } from "../lib/url.js";
import { readAtMost } from "../lib/stream.js";

/** How the server fetches documents from URLs that clients choose (metadata documents, `jwks_uri`). */
export interface OutboundOptions {
  /** The fetch to use. Default: the global `fetch`. */
  fetch?: (request: Request) => Promise<Response>;
  /**
   * Resolves a host name to its addresses, so a host that resolves to a private, loopback or
   * link-local address is refused before any connection. Without it (Workers has no DNS API)
   * only IP-literal hosts are checked; give one wherever the runtime can resolve.
   */
  resolveHost?: (hostname: string) => Promise<string[]>;
  /** Largest body read, in bytes. Default 5,120. */
  maxBytes?: number;
  /** Whole-exchange timeout. Default 5,000 ms. */
  timeoutMs?: number;
  /** Development only: also admit `http://` URLs on loopback hosts. */
  allowInsecureLoopback?: boolean;
}

/** Why an outbound fetch was refused or failed; the message is safe to log, never sent to clients. */
export class OutboundError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "OutboundError";
  }
}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  if (Number(response.headers.get("Content-Length") ?? "0") > maxBytes) throw new OutboundError("document too large");
  const bytes = await readAtMost(response.body, maxBytes);
  if (!bytes) throw new OutboundError("document too large");
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new OutboundError("document is not UTF-8");
  }
}

/**
 * GETs JSON from a URL a client chose, guarded against SSRF: https only (loopback http only when
 * allowed), no special-use address (IP literals, and every resolved address when `resolveHost`
 * is given), no redirects followed, only a 200 accepted, at most `maxBytes`, within `timeoutMs`
 * even when the fetch or the body stream ignores the abort signal.
 *
 * Does not pin the resolved address for the connection (`fetch` cannot): a host whose DNS answer
 * changes between the check and the connection is a residual risk that `resolveHost` narrows but
 * does not close; a host allow-list closes it.
 */
export async function fetchPublicJSON(url: URL, options: OutboundOptions): Promise<{ body: unknown; response: Response }> {
  const insecureOk = options.allowInsecureLoopback === true && url.protocol === "http:" && isLoopbackHost(url);
  if (url.protocol !== "https:" && !insecureOk) throw new OutboundError("must use https");
  if (isIPLiteral(url.hostname) && isSpecialUseAddress(url.hostname) && !insecureOk) throw new OutboundError("host is not a public address");
  if (options.resolveHost && !isIPLiteral(url.hostname) && !insecureOk) {
    let addresses: string[];
    try {
      addresses = await options.resolveHost(url.hostname);
    } catch (error) {
      throw new OutboundError("host does not resolve", error);
    }
    if (addresses.length === 0 || addresses.some(isSpecialUseAddress)) throw new OutboundError("host resolves to a non-public address");
  }
  const doFetch = options.fetch ?? ((request: Request) => fetch(request));
  const signal = AbortSignal.timeout(options.timeoutMs ?? 5000);
  let onAbort: () => void = () => {};
  const deadline = new Promise<never>((_, reject) => {
    onAbort = () => reject(new OutboundError("fetch timed out"));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  deadline.catch(() => {});
  let response: Response | undefined;
  try {
    response = await Promise.race([
      doFetch(new Request(url.href, { method: "GET", redirect: "manual", signal, headers: { Accept: "application/json" } })),
      deadline,
    ]);
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      throw new OutboundError(`fetch answered ${response.status}`);
    }
    const text = await Promise.race([readCapped(response, options.maxBytes ?? 5120), deadline]);
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
    signal.removeEventListener("abort", onAbort);
  }
}
