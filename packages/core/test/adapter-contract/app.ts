// The app every adapter contract run serves: an authorization server (memory store), a guard on
// `/mcp` whose `admin_echo` tool needs `mcp:admin`, and a route that says it was reached. Web APIs
// only, so the Cloudflare contract Worker bundles it for workerd.
import { createAuthorizationServer, createMemoryStore, createResourceGuard, OAuthError, type AuthInfo, type TokenVerifier } from "../../src/index.js";

/**
 * Tokens by name: `weak` may use the tools; `admin` may also call admin_echo; `boom` comes back
 * from a buggy verifier without scopes, so the guard itself throws.
 */
export const contractVerifier: TokenVerifier = {
  async verifyAccessToken(token) {
    if (token === "weak") return { token, clientId: "contract", scopes: ["mcp:tools"] };
    if (token === "admin") return { token, clientId: "contract", scopes: ["mcp:tools", "mcp:admin"] };
    if (token === "boom") return { token, clientId: "contract" } as AuthInfo;
    throw new OAuthError("invalid_token", "unknown token");
  },
};

/** The server and guard of a contract app served at `base` (its origin). */
export function createContractAuth(base: string, onError: (error: unknown) => void = () => {}) {
  const server = createAuthorizationServer({
    issuer: base,
    resource: `${base}/mcp`,
    scopes: { "mcp:tools": "Use the tools", "mcp:admin": "Administer" },
    storage: createMemoryStore(),
    login: { verifyPassword: async () => null },
    clients: [{ client_id: "pub", redirect_uris: ["http://127.0.0.1/cb"], grant_types: ["authorization_code", "refresh_token"] }],
    rateLimit: false,
    onError: (error) => onError(error),
  });
  const guard = createResourceGuard({
    resource: `${base}/mcp`,
    authorizationServers: [base],
    verifier: contractVerifier,
    requiredScopes: ["mcp:tools"],
    mcp: { tools: { admin_echo: ["mcp:admin"] } },
    allowedHosts: "*",
    onError: (error) => onError(error),
  });
  return { server, guard };
}

/** What the guarded route answers: that it was reached, by whom. */
export const reached = (auth: AuthInfo | undefined) => Response.json({ reached: true, scopes: auth?.scopes ?? null });

/** The Fetch core alone: what every adapter must answer. */
export function createReference(base: string) {
  const { server, guard } = createContractAuth(base);
  return async (request: Request): Promise<Response> => {
    const own = (await server.handle(request)) ?? (await guard.handle(request));
    if (own) return own;
    if (new URL(request.url).pathname !== "/mcp") return server.fetch(request);
    if (request.method === "OPTIONS") return guard.preflight(request);
    try {
      const result = await guard.authenticate(request);
      if (result instanceof Response) return result;
      return reached(result);
    } catch (error) {
      return guard.serverError(error, request);
    }
  };
}
