import { PortcullisClientError } from "./errors.js";

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Whether a URL's host is the loopback interface (`localhost`, `127.0.0.0/8`, `[::1]`). */
export function isLoopback(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname) || /^127\.\d+\.\d+\.\d+$/.test(url.hostname) || url.hostname.endsWith(".localhost");
}

/** Link-local and cloud metadata addresses: never fetched, whatever a document says. */
export function isLinkLocal(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return /^169\.254\.\d+\.\d+$/.test(host) || /^fe[89ab][0-9a-f]:/.test(host) || host === "metadata.google.internal" || host === "0.0.0.0" || host === "::";
}

/**
 * Checks a URL the client is about to fetch or open because a server named it: `https`, or `http`
 * on loopback only; never link-local or metadata addresses; no credentials in the URL.
 *
 * @param what - names the URL in the error message.
 */
export function verifyServerURL(value: unknown, what: string): URL {
  let url: URL;
  try {
    if (typeof value !== "string") throw new TypeError("not a string");
    url = new URL(value);
  } catch {
    throw new PortcullisClientError("invalid_metadata", `${what} is not a valid URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url))) {
    throw new PortcullisClientError("insecure_url", `${what} must be https (http only on loopback): ${url.href}`);
  }
  if (isLinkLocal(url)) throw new PortcullisClientError("forbidden_url", `${what} points at a link-local address: ${url.href}`);
  if (url.username || url.password) throw new PortcullisClientError("forbidden_url", `${what} carries credentials`);
  return url;
}
