import type { AuthorizationServer } from "oauth4webapi";
import { parseBearerChallenge, type BearerChallenge } from "./challenge.js";
import { PortcullisClientError } from "./errors.js";
import { verifyServerURL } from "./url-policy.js";

/** The MCP protocol version sent on discovery requests. */
export const MCP_PROTOCOL_VERSION = "2025-11-25";

/** Everything a client learns about an MCP server before it signs in. */
export interface Discovery {
  /** The MCP endpoint the user named. */
  mcpUrl: string;
  /** The resource indicator sent on authorization and token requests (RFC 8707). */
  resource: string;
  /** Where the protected resource metadata came from; `undefined` under the 2025-03-26 fallback. */
  resourceMetadataUrl?: string;
  resourceMetadata?: Record<string, unknown>;
  /** The challenge of the unauthenticated probe, when it answered 401 or 403. */
  challenge?: BearerChallenge;
  /** The authorization server's identifier, as named by the resource (or the MCP origin). */
  issuer: string;
  /** Its metadata (RFC 8414), or default endpoints when it publishes none (2025-03-26 fallback). */
  authorizationServer: AuthorizationServer;
  /** Where the metadata came from; `undefined` when the defaults were used. */
  metadataUrl?: string;
}

export interface DiscoveryOptions {
  fetch?: typeof fetch;
  /** A challenge already in hand (from a 401 or 403): skips the probe. */
  challenge?: BearerChallenge;
}

const JSON_HEADERS = { Accept: "application/json", "MCP-Protocol-Version": MCP_PROTOCOL_VERSION };

/** A JSON-RPC `initialize` request, the first thing an MCP client posts. */
export const INITIALIZE_BODY = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: MCP_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "portcullis", version: "0.1.0" } },
});

/** Posts `initialize` without credentials, as an MCP client's first request. */
export async function probeResource(mcpUrl: URL, fetchFn: typeof fetch = fetch): Promise<Response> {
  return fetchFn(mcpUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", "MCP-Protocol-Version": MCP_PROTOCOL_VERSION },
    body: INITIALIZE_BODY,
    redirect: "manual",
    signal: AbortSignal.timeout(15_000),
  });
}

/** The RFC 9728 well-known URLs for a resource, path-inserted first, then the root. */
export function resourceMetadataUrls(mcpUrl: URL): URL[] {
  const path = mcpUrl.pathname.replace(/\/+$/, "");
  const root = new URL("/.well-known/oauth-protected-resource", mcpUrl.origin);
  if (!path) return [root];
  const inserted = new URL(`/.well-known/oauth-protected-resource${path}`, mcpUrl.origin);
  inserted.search = mcpUrl.search;
  return [inserted, root];
}

/**
 * The metadata URLs for an authorization server, in the MCP order: RFC 8414 and OIDC discovery
 * with the path inserted after the well-known prefix, then OIDC with the path appended.
 */
export function authorizationServerMetadataUrls(issuer: URL): URL[] {
  const path = issuer.pathname.replace(/\/+$/, "");
  if (!path) {
    return [new URL("/.well-known/oauth-authorization-server", issuer.origin), new URL("/.well-known/openid-configuration", issuer.origin)];
  }
  return [
    new URL(`/.well-known/oauth-authorization-server${path}`, issuer.origin),
    new URL(`/.well-known/openid-configuration${path}`, issuer.origin),
    new URL(`${path}/.well-known/openid-configuration`, issuer.origin),
  ];
}

/** Whether `resource` names the MCP URL: identical, or (as RFC 9728 allows a broader resource) a same-origin path prefix. */
export function resourceMatches(resource: string, mcpUrl: URL): "exact" | "prefix" | false {
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    return false;
  }
  if (url.hash) return false;
  if (url.href === mcpUrl.href || resource === mcpUrl.href) return "exact";
  if (url.origin !== mcpUrl.origin || url.search) return false;
  const base = url.pathname.endsWith("/") ? url.pathname : `${url.pathname}/`;
  const target = mcpUrl.pathname.endsWith("/") ? mcpUrl.pathname : `${mcpUrl.pathname}/`;
  return target.startsWith(base) ? "prefix" : false;
}

async function getJson(url: URL, fetchFn: typeof fetch): Promise<{ status: number; json?: unknown; response?: Response }> {
  let response: Response;
  try {
    response = await fetchFn(url, { headers: JSON_HEADERS, redirect: "manual", signal: AbortSignal.timeout(15_000) });
  } catch {
    return { status: 0 };
  }
  if (!response.ok) {
    await response.body?.cancel();
    return { status: response.status, response };
  }
  try {
    return { status: response.status, json: await response.json(), response };
  } catch {
    return { status: response.status, response };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Finds and validates the protected resource metadata: the challenge's URL alone, else the well-known paths. */
export async function fetchResourceMetadata(
  mcpUrl: URL,
  challenge: BearerChallenge | undefined,
  fetchFn: typeof fetch = fetch,
): Promise<{ url: URL; metadata: Record<string, unknown> } | undefined> {
  const candidates =
    challenge?.resourceMetadata !== undefined ? [verifyServerURL(challenge.resourceMetadata, "resource_metadata")] : resourceMetadataUrls(mcpUrl);
  for (const url of candidates) {
    const { status, json } = await getJson(url, fetchFn);
    if (status >= 500) throw new PortcullisClientError("discovery_failed", `protected resource metadata at ${url.href} answered ${status}`);
    if (status >= 200 && status < 300) {
      if (!isObject(json)) throw new PortcullisClientError("invalid_metadata", `protected resource metadata at ${url.href} is not a JSON object`);
      return { url, metadata: json };
    }
  }
  if (challenge?.resourceMetadata !== undefined)
    throw new PortcullisClientError("discovery_failed", `no protected resource metadata at ${challenge.resourceMetadata}`);
  return undefined;
}

/** Finds the authorization server metadata in the MCP order and checks its `issuer` (RFC 8414 §3.3). */
export async function fetchAuthorizationServerMetadata(
  issuer: string,
  fetchFn: typeof fetch = fetch,
  legacy = false,
): Promise<{ url: URL; metadata: AuthorizationServer } | undefined> {
  const issuerUrl = verifyServerURL(issuer, "authorization server");
  for (const url of authorizationServerMetadataUrls(issuerUrl)) {
    const { status, json } = await getJson(url, fetchFn);
    if (status >= 500) throw new PortcullisClientError("discovery_failed", `authorization server metadata at ${url.href} answered ${status}`);
    if (status < 200 || status >= 300) continue;
    if (!isObject(json)) throw new PortcullisClientError("invalid_metadata", `authorization server metadata at ${url.href} is not a JSON object`);
    // The 2025-03-26 fallback guesses the issuer from the MCP origin; a same-origin issuer with a
    // path is that server's real identifier, and the one every later check compares against.
    const sameOrigin = legacy && typeof json.issuer === "string" && URL.canParse(json.issuer) && new URL(json.issuer).origin === issuerUrl.origin;
    if (json.issuer !== issuer && !sameOrigin) {
      throw new PortcullisClientError(
        "issuer_mismatch",
        `authorization server metadata at ${url.href} names issuer ${JSON.stringify(json.issuer)}, expected ${JSON.stringify(issuer)}`,
      );
    }
    return { url, metadata: json as unknown as AuthorizationServer };
  }
  return undefined;
}

/** Checks the metadata fields a client relies on: endpoints (https or loopback), S256 PKCE. */
export function verifyAuthorizationServer(as: AuthorizationServer): void {
  verifyServerURL(as.authorization_endpoint, "authorization_endpoint");
  verifyServerURL(as.token_endpoint, "token_endpoint");
  if (as.registration_endpoint !== undefined) verifyServerURL(as.registration_endpoint, "registration_endpoint");
  if (as.revocation_endpoint !== undefined) verifyServerURL(as.revocation_endpoint, "revocation_endpoint");
  const methods = as.code_challenge_methods_supported;
  if (!Array.isArray(methods)) {
    throw new PortcullisClientError("pkce_unsupported", `${as.issuer} does not publish code_challenge_methods_supported: refusing to sign in without PKCE`);
  }
  if (!methods.includes("S256")) throw new PortcullisClientError("pkce_unsupported", `${as.issuer} does not support PKCE S256`);
}

/**
 * Discovery in the MCP order: the unauthenticated probe's `resource_metadata`, then the RFC 9728
 * well-known paths, then the authorization server's metadata; when the resource publishes no
 * metadata, the 2025-03-26 fallback (the MCP origin is the authorization server, with default
 * endpoints when it publishes no metadata either).
 */
export async function discover(mcpUrlInput: string | URL, options: DiscoveryOptions = {}): Promise<Discovery> {
  const fetchFn = options.fetch ?? fetch;
  const mcpUrl = verifyServerURL(String(mcpUrlInput), "MCP server URL");
  let challenge = options.challenge;
  if (!challenge) {
    let response: Response;
    try {
      response = await probeResource(mcpUrl, fetchFn);
    } catch (cause) {
      throw new PortcullisClientError("unreachable", `${mcpUrl.href} is unreachable`, { cause });
    }
    await response.body?.cancel();
    challenge = parseBearerChallenge(response.headers.get("www-authenticate"));
  }
  const prm = await fetchResourceMetadata(mcpUrl, challenge, fetchFn);
  if (prm) {
    const { metadata } = prm;
    if (typeof metadata.resource !== "string" || !resourceMatches(metadata.resource, mcpUrl)) {
      throw new PortcullisClientError(
        "resource_mismatch",
        `protected resource metadata names resource ${JSON.stringify(metadata.resource)}, not ${mcpUrl.href}`,
      );
    }
    const servers = metadata.authorization_servers;
    if (!Array.isArray(servers) || typeof servers[0] !== "string") {
      throw new PortcullisClientError("invalid_metadata", "protected resource metadata names no authorization_servers");
    }
    const issuer = servers[0];
    const found = await fetchAuthorizationServerMetadata(issuer, fetchFn);
    if (!found) throw new PortcullisClientError("discovery_failed", `no authorization server metadata for ${issuer}`);
    verifyAuthorizationServer(found.metadata);
    return {
      mcpUrl: mcpUrl.href,
      resource: metadata.resource,
      resourceMetadataUrl: prm.url.href,
      resourceMetadata: metadata,
      ...(challenge ? { challenge } : {}),
      issuer,
      authorizationServer: found.metadata,
      metadataUrl: found.url.href,
    };
  }
  // 2025-03-26: no protected resource metadata; the MCP server's origin is the authorization server.
  const found = await fetchAuthorizationServerMetadata(mcpUrl.origin, fetchFn, true);
  const issuer = found?.metadata.issuer ?? mcpUrl.origin;
  const authorizationServer: AuthorizationServer = found?.metadata ?? {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/register`,
    code_challenge_methods_supported: ["S256"],
    response_types_supported: ["code"],
  };
  verifyAuthorizationServer(authorizationServer);
  return {
    mcpUrl: mcpUrl.href,
    resource: mcpUrl.href,
    ...(challenge ? { challenge } : {}),
    issuer,
    authorizationServer,
    ...(found ? { metadataUrl: found.url.href } : {}),
  };
}
