import { OAuthError } from "../errors.js";
import { checkOutboundURL, fetchPublicJSON, OutboundError, type OutboundPolicy } from "./outbound.js";
import type { ClientMetadataDocumentOptions } from "../options.js";
import { parseURL } from "../lib/url.js";
import type { ClientMetadata } from "../types.js";
import { redirectUriProblem } from "./redirect-uri.js";

/**
 * The metadata document settings after resolution: the switch, the cache bounds
 * ({@link ClientMetadataDocumentOptions}), and the whole outbound policy.
 */
export interface MetadataDocumentPolicy extends OutboundPolicy {
  enabled?: boolean;
  minCacheSeconds: number;
  maxCacheSeconds: number;
}

const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const URL_MEMBERS = ["client_uri", "logo_uri", "tos_uri", "policy_uri"] as const;

/** Whether a `client_id` names a metadata document rather than a registered client. */
export function isMetadataDocumentClientId(clientId: string, options: OutboundPolicy): boolean {
  return clientId.startsWith("https://") || (options.allowInsecureLoopback === true && clientId.startsWith("http://"));
}

/**
 * Checks a client ID URL before anything is fetched (CIMD §3): https, a path, no userinfo,
 * fragment or dot segments, and a host the outbound policy allows ({@link checkOutboundURL}).
 */
export function verifyClientIdURL(clientId: string, options: OutboundPolicy): URL {
  const refuse = (why: string): never => {
    throw OAuthError.because("cimd_url_invalid", `client metadata document URL refused: ${why}`);
  };
  if (clientId.length > 2048) refuse("too long");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (/[\x00-\x20\x7F\\#]/.test(clientId)) refuse("contains a fragment, whitespace or control characters");
  const url = parseURL(clientId);
  if (!url) return refuse("not a URL");
  if (url.username || url.password) refuse("must not contain userinfo");
  const rawPath = clientId
    .slice(clientId.indexOf("//") + 2)
    .replace(/^[^/]*/, "")
    .split("?")[0]!;
  if (rawPath === "" || rawPath === "/") refuse("must have a path");
  if (rawPath.split("/").some((segment) => segment === "." || segment === ".." || /^%2e(%2e)?$/i.test(segment) || /^\.%2e$|^%2e\.$/i.test(segment))) {
    refuse("must not contain . or .. segments");
  }
  try {
    checkOutboundURL(url, options);
  } catch (error) {
    if (error instanceof OutboundError) refuse(error.message);
    throw error;
  }
  return url;
}

/** How long a fetched document may be cached: its `max-age` within bounds; `no-store` still gets the floor. */
function cacheSeconds(response: Response, options: MetadataDocumentPolicy): number {
  const { minCacheSeconds: min, maxCacheSeconds: max } = options;
  const match = /(?:^|,)\s*max-age\s*=\s*(\d+)/i.exec(response.headers.get("Cache-Control") ?? "");
  const wanted = match ? Number(match[1]) : 300;
  return Math.min(max, Math.max(min, wanted));
}

/**
 * Fetches and validates a Client ID Metadata Document under the outbound policy
 * ({@link fetchPublicJSON}: no redirects followed, only a 200 counts, at most `maxBytes`, default
 * 5,120, within `timeoutMs`, the host's addresses all public). The document must be a JSON object
 * whose `client_id` equals the URL exactly, with a `client_name` and valid `redirect_uris`, and no
 * secrets or private keys. Throws `invalid_client` otherwise.
 */
export async function fetchClientMetadataDocument(
  clientId: string,
  options: MetadataDocumentPolicy,
): Promise<{ metadata: ClientMetadata; ttlSeconds: number }> {
  const url = verifyClientIdURL(clientId, options);
  const refuse = (why: string, cause?: unknown): never => {
    throw OAuthError.because(cause === undefined ? "cimd_document_invalid" : "cimd_fetch_failed", `client metadata document rejected: ${why}`, { cause });
  };
  let fetched: { body: unknown; response: Response };
  try {
    fetched = await fetchPublicJSON(url, options, { maxBytes: 5120 });
  } catch (error) {
    return refuse(error instanceof OutboundError ? error.message : "fetch failed", error);
  }
  const { body: doc, response } = fetched;
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return refuse("not a JSON object");
  const d = doc as Record<string, unknown>;
  if (d.client_id !== clientId) refuse("client_id does not equal the document URL");
  if (typeof d.client_name !== "string" || d.client_name.length === 0 || d.client_name.length > 200) refuse("client_name missing");
  if (!Array.isArray(d.redirect_uris) || d.redirect_uris.length === 0 || d.redirect_uris.length > 20) refuse("redirect_uris missing");
  for (const uri of d.redirect_uris as unknown[]) {
    if (typeof uri !== "string" || redirectUriProblem(uri)) refuse("invalid redirect URI");
  }
  if ("client_secret" in d || "client_secret_expires_at" in d) refuse("documents must not carry secrets");
  const method = d.token_endpoint_auth_method ?? "none";
  if (method !== "none") refuse(`token_endpoint_auth_method ${String(method)} is not supported for metadata documents`);
  const keys = (d.jwks as { keys?: unknown[] } | undefined)?.keys;
  if (Array.isArray(keys) && keys.some((k) => typeof k === "object" && k !== null && PRIVATE_JWK_MEMBERS.some((m) => m in k))) {
    refuse("documents must not carry private keys");
  }
  const grantTypes = Array.isArray(d.grant_types)
    ? (d.grant_types as unknown[]).filter((g): g is string => typeof g === "string")
    : ["authorization_code", "refresh_token"];
  if (!grantTypes.includes("authorization_code")) refuse("grant_types must include authorization_code");
  const metadata: ClientMetadata = {
    client_id: clientId,
    client_name: d.client_name as string,
    redirect_uris: d.redirect_uris as string[],
    token_endpoint_auth_method: "none",
    grant_types: grantTypes.filter((g) => g === "authorization_code" || g === "refresh_token"),
    response_types: ["code"],
  };
  if (d.application_type === "web" || d.application_type === "native") metadata.application_type = d.application_type;
  if (typeof d.scope === "string") metadata.scope = d.scope;
  // Links shown on the consent page: https only, anything else dropped rather than rendered.
  for (const member of URL_MEMBERS) {
    const value = d[member];
    if (typeof value === "string" && value.length <= 2000 && parseURL(value)?.protocol === "https:") metadata[member] = value;
  }
  return { metadata, ttlSeconds: cacheSeconds(response, options) };
}
