// The `upstream` option resolved: its checks and defaults (the option itself is described once,
// in the schema of `options.ts`).
import type { UpstreamClaimsMapper, UpstreamOptions } from "../options.js";
import { resolveEncryptionKeys } from "../lib/encryption-keys.js";
import { SCOPE_TOKEN } from "../lib/scope.js";
import { isLoopbackHost, parseURL } from "../lib/url.js";

/** Default upstream scopes: an OIDC sign-in that can refresh. */
export const DEFAULT_UPSTREAM_SCOPES = ["openid", "profile", "email", "offline_access"];

/** Authorization request parameters the server sets itself at the provider. */
const RESERVED_UPSTREAM_PARAMS = ["client_id", "response_type", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method"];

/** An upstream provider's options after checks and defaults. */
export interface ResolvedUpstream {
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  scopes: string[];
  /** Decryption keys by id; `encryptionKeyId` names the one that encrypts. */
  keys: Map<string, Uint8Array>;
  encryptionKeyId: string;
  endpoints: UpstreamOptions["endpoints"];
  mapClaims: UpstreamClaimsMapper | undefined;
  authorizationParams: Record<string, string>;
  fetch: ((input: string | URL | Request, init?: RequestInit) => Promise<Response>) | undefined;
  timeoutMs: number;
  /** `http://` on loopback, allowed for local development. */
  insecure: boolean;
}

/** Checks a provider's URL: https, or http on a loopback host. */
function upstreamURL(text: string, where: string): URL {
  const url = parseURL(text);
  if (!url || url.hash || url.username || url.password) throw new TypeError(`Portcullis: ${where} must be an absolute URL without fragment or credentials`);
  if (url.protocol === "http:" && !isLoopbackHost(url)) throw new TypeError(`Portcullis: ${where} may use http only on a loopback host`);
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new TypeError(`Portcullis: ${where} must use https`);
  return url;
}

/** Checks the `upstream` option and applies its defaults: a `TypeError` naming the key for anything that cannot work. */
export function resolveUpstream(u: UpstreamOptions): ResolvedUpstream {
  const issuer = upstreamURL(u.issuer, "upstream.issuer");
  if (issuer.search) throw new TypeError("Portcullis: upstream.issuer must have no query");
  for (const [name, value] of Object.entries(u.endpoints ?? {})) if (value !== undefined) upstreamURL(value, `upstream.endpoints.${name}`);
  if (u.endpoints && !u.endpoints.userinfo) throw new TypeError("Portcullis: upstream.endpoints needs userinfo (where the user is read without an ID token)");
  const { keys, encryptionKeyId } = resolveEncryptionKeys(u.tokenEncryptionKeys, "upstream.tokenEncryptionKeys", "portcullis/upstream-key-id");
  for (const name of Object.keys(u.authorizationParams ?? {})) {
    if (RESERVED_UPSTREAM_PARAMS.includes(name)) throw new TypeError(`Portcullis: upstream.authorizationParams may not set ${name} (the server sets it)`);
  }
  const scopes = u.scopes ?? DEFAULT_UPSTREAM_SCOPES;
  for (const scope of scopes) if (!SCOPE_TOKEN.test(scope)) throw new TypeError(`Portcullis: upstream.scopes: ${JSON.stringify(scope)} is not a scope token`);
  return {
    issuer: u.issuer,
    clientId: u.clientId,
    clientSecret: u.clientSecret,
    scopes,
    keys,
    encryptionKeyId,
    endpoints: u.endpoints,
    mapClaims: u.mapClaims,
    authorizationParams: { ...u.authorizationParams },
    fetch: u.fetch,
    timeoutMs: u.timeoutMs ?? 10_000,
    insecure: issuer.protocol === "http:",
  };
}
