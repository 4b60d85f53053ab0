import { parseBearerChallenge } from "./challenge.js";
import { discover } from "./discovery.js";
import { PortcullisClientError } from "./errors.js";
import { getAccessToken, selectScope, signIn, unionScopes, type ClientOptions } from "./session.js";
import type { StoredSession } from "./store.js";

/** Options of {@link createAuthFetch}. */
export interface AuthFetchOptions extends ClientOptions {
  /**
   * Opens an authorization URL: with it, a 401 that a refresh cannot cure and a 403
   * `insufficient_scope` start a sign-in. Without it they are `PortcullisClientError`s
   * (`not_signed_in`, `insufficient_scope`) naming the `portcullis login` to run.
   */
  openUrl?: (url: URL) => void | Promise<void>;
}

const SIGNED_OUT = new Set(["not_signed_in", "expired", "invalid_grant"]);

/**
 * A `fetch` that sends the stored access token for `mcpUrl` as a bearer token. It refreshes before
 * expiry (once across processes sharing the store) and once more on a 401; given `openUrl`, it
 * signs in when that is not enough, and on a 403 `insufficient_scope` signs in again for the
 * union of the held and the challenged scopes (a refresh cannot widen scopes). Each request is
 * retried at most once per cause, so a server that keeps refusing gets its refusal back.
 */
export function createAuthFetch(mcpUrl: string | URL, options: AuthFetchOptions = {}): typeof fetch {
  const fetchFn = options.fetch ?? fetch;
  const discoveryOptions = options.fetch ? { fetch: options.fetch } : {};
  return async (input, init) => {
    const request = new Request(input, init);
    const send = (session: StoredSession | undefined) => {
      const attempt = request.clone();
      if (session) attempt.headers.set("Authorization", `Bearer ${session.access_token}`);
      return fetchFn(attempt);
    };
    let session: StoredSession | undefined;
    try {
      session = await getAccessToken(mcpUrl, options);
    } catch (error) {
      if (!(options.openUrl && error instanceof PortcullisClientError && SIGNED_OUT.has(error.code))) throw error;
    }
    let response = await send(session);
    if (response.status === 401 && session?.refresh_token) {
      try {
        const refreshed = await getAccessToken(mcpUrl, { ...options, forceRefresh: true, staleToken: session.access_token });
        await response.body?.cancel();
        session = refreshed;
        response = await send(session);
      } catch (error) {
        if (!(options.openUrl && error instanceof PortcullisClientError && SIGNED_OUT.has(error.code))) throw error;
      }
    }
    if (response.status === 401) {
      if (!options.openUrl) throw new PortcullisClientError("not_signed_in", `sign-in required: run \`portcullis login ${String(mcpUrl)}\``);
      const challenge = parseBearerChallenge(response.headers.get("www-authenticate"));
      await response.body?.cancel();
      const discovery = await discover(mcpUrl, { ...discoveryOptions, ...(challenge ? { challenge } : {}) });
      const scope = selectScope(discovery);
      session = await signIn(mcpUrl, { ...options, openUrl: options.openUrl, ...(scope ? { scope } : {}), discovery });
      response = await send(session);
    }
    if (response.status === 403) {
      const challenge = parseBearerChallenge(response.headers.get("www-authenticate"));
      if (challenge?.error === "insufficient_scope") {
        const scope = unionScopes(session?.scope, challenge.scope);
        if (!options.openUrl) {
          throw new PortcullisClientError(
            "insufficient_scope",
            `the server needs more scopes: sign in again with \`portcullis login ${String(mcpUrl)} --scope "${scope ?? ""}"\``,
          );
        }
        await response.body?.cancel();
        const discovery = await discover(mcpUrl, { ...discoveryOptions, challenge });
        session = await signIn(mcpUrl, { ...options, openUrl: options.openUrl, ...(scope ? { scope } : {}), discovery });
        response = await send(session);
      }
    }
    return response;
  };
}
