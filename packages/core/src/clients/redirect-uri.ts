import { isLoopbackHost, parseURL } from "../lib/url.js";

/** Why a redirect URI is refused at registration, or undefined when it is acceptable. */
export function redirectUriProblem(raw: string): string | undefined {
  if (raw.length > 2000) return "redirect URI too long";
  // Raw-string rules first: the URL parser would silently strip or fix these.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (/[\x00-\x20\x7F\\]/.test(raw)) return "redirect URI contains whitespace, control characters or a backslash";
  if (raw.includes("#")) return "redirect URI must not contain a fragment";
  const url = parseURL(raw);
  if (!url) return "redirect URI must be an absolute URI";
  if (url.username || url.password || raw.slice(0, raw.indexOf("?") === -1 ? undefined : raw.indexOf("?")).includes("@")) {
    return "redirect URI must not contain userinfo";
  }
  // The authorization response adds these; a second copy from the registered query would be ambiguous.
  for (const name of ["code", "state", "iss", "error", "error_description"]) {
    if (url.searchParams.has(name)) return `redirect URI query must not contain ${name}`;
  }
  if (url.protocol === "https:") return url.hostname ? undefined : "redirect URI needs a host";
  if (url.protocol === "http:") {
    return isLoopbackHost(url) ? undefined : "http redirect URIs are only allowed on loopback (localhost, 127.0.0.1, [::1])";
  }
  // A private-use scheme for native apps must be a reverse domain name (RFC 8252 §7.1), which
  // also keeps out javascript:, data:, file: and the like.
  const scheme = url.protocol.slice(0, -1);
  return scheme.includes(".") ? undefined : "redirect URI scheme must be https, loopback http, or a reverse-domain private-use scheme";
}

/**
 * Whether a requested redirect URI matches a registered one: exact string comparison, except that
 * an http loopback URI may differ in port (RFC 8252 §7.3), never in name, scheme, path or query.
 */
export function redirectUriMatches(registered: string, requested: string): boolean {
  if (registered === requested) return true;
  if (!registered.startsWith("http://") || !requested.startsWith("http://")) return false;
  const a = parseURL(registered);
  const b = parseURL(requested);
  if (!a || !b || !isLoopbackHost(a) || a.hostname !== b.hostname) return false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (requested.includes("@") || requested.includes("#") || /[\x00-\x20\x7F\\]/.test(requested)) return false;
  // The port must be written as a plain number in range; the URL parser has checked the range.
  const port = /^http:\/\/(?:\[[^\]]+\]|[^/:?]+)(?::(\d{1,5}))?(?=[/?]|$)/.exec(requested);
  if (!port || port[1] === "0" || (port[1] !== undefined && /^0/.test(port[1]))) return false;
  const strip = (u: URL) => `${u.protocol}//${u.hostname}${u.pathname}${u.search}`;
  // Compare the raw strings with the authority removed, so path and query stay byte-exact.
  const rest = (raw: string) => raw.replace(/^http:\/\/(?:\[[^\]]+\]|[^/:?]+)(?::\d*)?/, "");
  // The host as written, too: the parser would equate [0:0:0:0:0:0:0:1] with [::1], LOCALHOST with localhost.
  const host = (raw: string) => /^http:\/\/(\[[^\]]+\]|[^/:?]+)/.exec(raw)?.[1];
  return strip(a) === strip(b) && rest(registered) === rest(requested) && host(registered) === host(requested);
}
