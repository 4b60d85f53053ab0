import { parseBearerChallenge } from "./challenge.js";
import { discover } from "./discovery.js";
import { PortcullisClientError } from "./errors.js";
import { getAccessToken, signIn, unionScopes, type ClientOptions } from "./session.js";

/** Options of {@link createAuthFetch}. */
export interface AuthFetchOptions extends ClientOptions {
  /**
   * Opens an authorization URL for a step-up sign-in (403 `insufficient_scope`). Without it a
   * step-up is a `PortcullisClientError` with code `insufficient_scope` naming the scopes to sign in with.
   */
  openUrl?: (url: URL) => void | Promise<void>;
}

/**
 * A `fetch` that sends the stored access token for `mcpUrl` as a bearer token. It refreshes before
 * expiry (once across processes sharing the store), refreshes once more and retries on a 401, and
 * on a 403 `insufficient_scope` signs in again for the union of the held and the challenged scopes
 * (a refresh cannot widen scopes) before retrying once.
 */
export function createAuthFetch(mcpUrl: string | URL, options: AuthFetchOptions = {}): typeof fetch {
  const fetchFn = options.fetch ?? fetch;
  return async (input, init) => {
    const request = new Request(input, init);
    const send = (token: string) => {
      const attempt = request.clone();
      attempt.headers.set("Authorization", `Bearer ${token}`);
      return fetchFn(attempt);
    };
    let session = await getAccessToken(mcpUrl, options);
    let response = await send(session.access_token);
    if (response.status === 401 && session.refresh_token) {
      await response.body?.cancel();
      session = await getAccessToken(mcpUrl, { ...options, forceRefresh: true, staleToken: session.access_token });
      response = await send(session.access_token);
    }
    if (response.status === 403) {
      const challenge = parseBearerChallenge(response.headers.get("www-authenticate"));
      if (challenge?.error === "insufficient_scope") {
        const scope = unionScopes(session.scope, challenge.scope);
        if (!options.openUrl) {
          throw new PortcullisClientError("insufficient_scope", `the server needs more scopes: sign in again with \`portcullis login ${String(mcpUrl)} --scope "${scope ?? ""}"\``);
        }
        await response.body?.cancel();
        const discovery = await discover(mcpUrl, { ...(options.fetch ? { fetch: options.fetch } : {}), challenge });
        session = await signIn(mcpUrl, { ...options, openUrl: options.openUrl, ...(scope ? { scope } : {}), discovery });
        response = await send(session.access_token);
      }
    }
    return response;
  };
}
