import { InvalidTokenError, ServerError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import type { AuthInfo as SdkAuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { isOAuthError, type AuthInfo, type OAuthError, type ResourceGuard, type TokenVerifier } from "@portcullis/core";

/**
 * The MCP TypeScript SDK's `OAuthTokenVerifier`: what its `requireBearerAuth({ verifier })` calls.
 * Declared here by shape, so this package's types do not pull in the SDK's Express types.
 */
export interface SdkTokenVerifier {
  verifyAccessToken(token: string): Promise<SdkAuthInfo>;
}

/** What {@link toSdkVerifier} turns into an SDK verifier. */
export type VerifierSource = ResourceGuard | (TokenVerifier & { readonly resources?: readonly string[] });

/** Options of {@link toSdkVerifier}. */
export interface SdkVerifierOptions {
  /**
   * The canonical URI of the resource tokens must be meant for (RFC 8707), for an authorization
   * server with several resources or a verifier such as `jwtTokenVerifier(...)`. Not with a
   * guard, which has its own.
   */
  resource?: string;
  /**
   * Told of a verification that failed for a reason other than the token (a storage or key-set
   * outage), which the SDK answers 500. By default the message alone goes to `console.error`.
   */
  onError?: (error: unknown) => void;
}

/**
 * Turns a Portcullis authorization server or resource guard into the MCP TypeScript SDK's
 * `OAuthTokenVerifier`, so the SDK's own `requireBearerAuth({ verifier, requiredScopes,
 * resourceMetadataUrl })` keeps guarding the MCP route and tools receive the SDK's `AuthInfo`.
 *
 * A token that is malformed, expired, revoked, or meant for another resource is rejected with the
 * SDK's `InvalidTokenError`, which the SDK answers 401 `invalid_token` with its challenge. A failure
 * to check the token at all is the SDK's `ServerError` (500), never a pass.
 *
 * Does not check scopes: the SDK's `requiredScopes` does, on the token's scopes as granted (a
 * guard's `scopeHierarchy` and `mcp` tool scopes do not apply on this path).
 *
 * @param source The authorization server (its one resource, or `options.resource`), a resource
 *   guard (its resource), or any Portcullis `TokenVerifier` with `options.resource`.
 * @param options The resource, for a source that does not name exactly one.
 * @returns The verifier to hand to `requireBearerAuth`.
 * @throws {TypeError} When the source is not a Portcullis server, guard or verifier, or the
 *   resource cannot be told.
 * @example
 * ```ts
 * app.post("/mcp", requireBearerAuth({ verifier: toSdkVerifier(server), requiredScopes: ["mcp:tools"], resourceMetadataUrl: guard.metadataUrl }), handler);
 * ```
 */
export function toSdkVerifier(source: VerifierSource, options: SdkVerifierOptions = {}): SdkTokenVerifier {
  const onError = options.onError ?? reportError;
  if (isGuard(source)) {
    if (options.resource !== undefined) throw new TypeError("Portcullis: toSdkVerifier(guard) takes no resource option: the guard's own resource is used");
    return { verifyAccessToken: (token) => viaGuard(source, token, onError) };
  }
  if (typeof source !== "object" || source === null || (typeof source.verifyAccessToken !== "function" && typeof source.checkAccessToken !== "function")) {
    throw new TypeError("Portcullis: toSdkVerifier takes the authorization server, a resource guard, or a token verifier such as jwtTokenVerifier(...)");
  }
  const resource = options.resource ?? onlyResource(source.resources);
  const check = async (token: string): Promise<AuthInfo | OAuthError> => {
    if (source.checkAccessToken) return source.checkAccessToken(token, { resource });
    try {
      return await source.verifyAccessToken(token, { resource });
    } catch (error) {
      if (isOAuthError(error) && error.code === "invalid_token") return error;
      throw error;
    }
  };
  return {
    async verifyAccessToken(token: string): Promise<SdkAuthInfo> {
      if (!isWellFormedToken(token)) throw new InvalidTokenError("the access token is malformed");
      let result: AuthInfo | OAuthError;
      try {
        result = await check(token);
      } catch (error) {
        return unverifiable(error, onError);
      }
      if (isOAuthError(result)) throw new InvalidTokenError(result.description ?? "the access token is not valid");
      return toSdkAuthInfo(result);
    },
  };
}

function isGuard(source: VerifierSource): source is ResourceGuard {
  return (
    typeof source === "object" &&
    source !== null &&
    typeof (source as Partial<ResourceGuard>).authenticate === "function" &&
    typeof (source as Partial<ResourceGuard>).resource === "string"
  );
}

function onlyResource(resources: readonly string[] | undefined): string {
  if (resources?.length === 1) return resources[0]!;
  throw new TypeError(
    resources && resources.length > 1
      ? `Portcullis: this server issues tokens for ${resources.length} resources; pass toSdkVerifier(server, { resource }) naming the one this route serves`
      : "Portcullis: toSdkVerifier(verifier, { resource }) needs the resource tokens must be meant for",
  );
}

/** The guard's own check (`Host` aside, which the SDK's route has already accepted), with no scopes: the SDK checks those. */
async function viaGuard(guard: ResourceGuard, token: string, onError: (error: unknown) => void): Promise<SdkAuthInfo> {
  if (!isWellFormedToken(token)) throw new InvalidTokenError("the access token is malformed");
  let result: AuthInfo | Response;
  try {
    result = await guard.authenticate({ method: "GET", url: guard.resource, headers: new Headers({ Authorization: `Bearer ${token}` }) }, { scopes: [] });
  } catch (error) {
    return unverifiable(error, onError);
  }
  if (!(result instanceof Response)) return toSdkAuthInfo(result);
  const body = (await result.json().catch(() => ({}))) as { error_description?: unknown };
  const description = typeof body.error_description === "string" ? body.error_description : "the access token is not valid";
  // The guard reported its own outage to its onError; anything but a 401 is no verdict on the token.
  if (result.status === 401) throw new InvalidTokenError(description);
  throw new ServerError("the access token could not be verified right now");
}

function unverifiable(error: unknown, onError: (error: unknown) => void): never {
  try {
    onError(error);
  } catch {
    // A failing error hook changes nothing about the answer.
  }
  throw new ServerError("the access token could not be verified right now");
}

/** The SDK splits the header on one space, so a token is whatever follows; only a b64token (RFC 6750 §2.1) is looked up. */
function isWellFormedToken(token: unknown): token is string {
  return typeof token === "string" && token.length > 0 && token.length <= MAX_TOKEN_LENGTH && B64TOKEN.test(token);
}

const MAX_TOKEN_LENGTH = 8192;
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** A copy the app may keep or change without touching the verifier's cached, frozen record. */
function toSdkAuthInfo(info: AuthInfo): SdkAuthInfo {
  return {
    token: info.token,
    clientId: info.clientId,
    scopes: [...info.scopes],
    ...(info.expiresAt !== undefined ? { expiresAt: info.expiresAt } : {}),
    ...(info.resource !== undefined ? { resource: new URL(info.resource.href) } : {}),
    ...(info.extra !== undefined ? { extra: { ...info.extra } } : {}),
  };
}

function reportError(error: unknown): void {
  console.error("[portcullis] token verification failed", error instanceof Error ? error.message : error);
}
