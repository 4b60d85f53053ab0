import { decodeStrictUTF8, readAtMost } from "../lib/stream.js";
import { isLoopbackHost, parseURL } from "../lib/url.js";

/**
 * The external authorization server could not be asked (unreachable, slow, an answer that is not
 * what its role requires). Not the token's fault: the guard answers 503, never 401 or a pass.
 */
export class AuthorizationServerUnavailableError extends Error {
  constructor(message: string) {
    super(`authorization server unavailable: ${message}`);
    this.name = "AuthorizationServerUnavailableError";
  }
}

/** The metadata of an authorization server that a resource server reads (RFC 8414 §2). */
export interface IssuerMetadata {
  issuer: string;
  jwks_uri?: string;
  introspection_endpoint?: string;
  introspection_endpoint_auth_methods_supported?: string[];
}

/** How requests to the issuer are made: operator-chosen URLs, bounded in time and size. */
export interface IssuerHTTP {
  fetch: typeof fetch;
  timeoutMs: number;
  maxBytes: number;
}

/**
 * Whether a URL may be used to reach the issuer: https, or http on a loopback host (local
 * development); never with credentials or a fragment.
 */
export function isIssuerURL(value: string): boolean {
  const url = parseURL(value);
  if (!url || url.username || url.password || url.hash || value.includes("#")) return false;
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url));
}

/**
 * GETs or POSTs to the issuer and answers the JSON object of a 200. No redirects, at most
 * `maxBytes` read, everything within `timeoutMs`.
 *
 * @throws {AuthorizationServerUnavailableError} For a network failure, a timeout, another status,
 *   an oversized body or one that is not a JSON object.
 */
export async function fetchIssuerJSON(
  http: IssuerHTTP,
  url: string,
  init: { method?: "GET" | "POST"; headers?: Record<string, string>; body?: string } = {},
): Promise<Record<string, unknown>> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new AuthorizationServerUnavailableError(`${url} did not answer within ${http.timeoutMs} ms`));
    }, http.timeoutMs);
  });
  const where = new URL(url);
  const name = `${where.origin}${where.pathname}`;
  try {
    const exchange = async () => {
      let response: Response;
      try {
        response = await http.fetch(url, {
          method: init.method ?? "GET",
          headers: { Accept: "application/json", ...init.headers },
          ...(init.body === undefined ? {} : { body: init.body }),
          redirect: "manual",
          signal: controller.signal,
        });
      } catch (error) {
        throw new AuthorizationServerUnavailableError(`${name}: ${error instanceof Error ? error.message : "request failed"}`);
      }
      if (response.status !== 200) {
        void response.body?.cancel().catch(() => {});
        throw new AuthorizationServerUnavailableError(`${name} answered ${response.status}`);
      }
      if (Number(response.headers.get("Content-Length") ?? "0") > http.maxBytes) {
        void response.body?.cancel().catch(() => {});
        throw new AuthorizationServerUnavailableError(`${name} answered more than ${http.maxBytes} bytes`);
      }
      let bytes: Uint8Array | undefined;
      try {
        bytes = await readAtMost(response.body, http.maxBytes);
      } catch {
        throw new AuthorizationServerUnavailableError(`${name}: the answer could not be read`);
      }
      if (!bytes) throw new AuthorizationServerUnavailableError(`${name} answered more than ${http.maxBytes} bytes`);
      let value: unknown;
      try {
        value = JSON.parse(decodeStrictUTF8(bytes));
      } catch {
        throw new AuthorizationServerUnavailableError(`${name} did not answer JSON`);
      }
      if (typeof value !== "object" || value === null || Array.isArray(value))
        throw new AuthorizationServerUnavailableError(`${name} did not answer a JSON object`);
      return value as Record<string, unknown>;
    };
    return await Promise.race([exchange(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Where the issuer's metadata may be: OIDC discovery first, then RFC 8414 (path inserted). */
export function metadataURLs(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "");
  return [`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`, `${url.origin}/.well-known/oauth-authorization-server${path}`];
}

/**
 * Finds the issuer's metadata: OpenID Connect Discovery 1.0 §4, falling back to RFC 8414 §3.
 * A document counts only if its `issuer` is exactly the configured one (RFC 8414 §3.3) and every
 * endpoint it names that a resource server uses is an {@link isIssuerURL}.
 *
 * @throws {AuthorizationServerUnavailableError} When neither location answers such a document.
 */
export async function discoverIssuer(http: IssuerHTTP, issuer: string): Promise<IssuerMetadata> {
  const failures: string[] = [];
  for (const url of metadataURLs(issuer)) {
    let document: Record<string, unknown>;
    try {
      document = await fetchIssuerJSON(http, url);
    } catch (error) {
      failures.push((error as Error).message);
      continue;
    }
    if (document.issuer !== issuer) {
      failures.push(`${url} names another issuer`);
      continue;
    }
    const metadata: IssuerMetadata = { issuer };
    for (const name of ["jwks_uri", "introspection_endpoint"] as const) {
      const value = document[name];
      if (value === undefined) continue;
      if (typeof value !== "string" || !isIssuerURL(value)) throw new AuthorizationServerUnavailableError(`${url}: ${name} is not an https URL`);
      metadata[name] = value;
    }
    const methods = document.introspection_endpoint_auth_methods_supported;
    if (Array.isArray(methods)) metadata.introspection_endpoint_auth_methods_supported = methods.filter((m): m is string => typeof m === "string");
    return metadata;
  }
  throw new AuthorizationServerUnavailableError(`no metadata for ${issuer} (${failures.join("; ")})`);
}
