import { isLoopbackHost, LOOPBACK_HOSTS, parseURL } from "../lib/url.js";
import type { HeaderReader } from "./raw-headers.js";

/**
 * The default `Host` allow-list for a server at `url`: on a loopback host, the loopback names
 * (any port), which is what DNS rebinding cannot forge; elsewhere, every host.
 */
export function defaultAllowedHosts(url: URL): string[] | "*" {
  return isLoopbackHost(url) ? [...LOOPBACK_HOSTS] : "*";
}

/** Validates a configured `Host` allow-list: host names, optionally with a port. */
export function resolveAllowedHosts(input: string[] | "*" | undefined, url: URL, option: string): string[] | "*" {
  if (input === undefined) return defaultAllowedHosts(url);
  if (input === "*") return "*";
  return input.map((entry) => {
    const parsed = parseURL(`http://${entry}`);
    if (!parsed || parsed.pathname !== "/" || parsed.search || parsed.username || entry.includes("/") || entry === "")
      throw new TypeError(`Portcullis: ${option} entry ${JSON.stringify(entry)} is not a host or host:port`);
    return parsed.host;
  });
}

const hostMatches = (host: string, allowed: string[]) => {
  if (allowed.includes(host)) return true;
  const colon = host.lastIndexOf(":");
  // host:port matches an entry naming the host alone ([::1]:80's colon is after the bracket).
  return colon > host.lastIndexOf("]") && allowed.includes(host.slice(0, colon));
};

/**
 * Whether a request's host (its URL's, and its `Host` header's when present) is allowed: the
 * DNS-rebinding check, answered with 403 when false.
 */
export function isAllowedHost(request: { url: string; headers: HeaderReader }, allowed: string[] | "*"): boolean {
  if (allowed === "*") return true;
  const urlHost = hostOf(request.url);
  if (urlHost === undefined || !hostMatches(urlHost, allowed)) return false;
  const header = request.headers.get("Host");
  if (header === null || header === urlHost) return true;
  const headerHost = parseURL(`http://${header}`)?.host;
  return headerHost !== undefined && hostMatches(headerHost, allowed);
}

/** The host (`name[:port]`) of a URL a `Request` has serialised, without parsing it again. */
function hostOf(url: string): string | undefined {
  const authority = url.indexOf("//");
  if (authority === -1) return undefined;
  const end = url.indexOf("/", authority + 2);
  const host = url.slice(authority + 2, end === -1 ? undefined : end);
  return host === "" || host.includes("@") ? undefined : host;
}
