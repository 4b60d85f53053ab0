import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { discover } from "./discovery.js";
import { PortcullisClientError } from "./errors.js";
import { STORE_FORMAT_VERSION, sessionKey, type StoredClient } from "./store.js";
import { getAccessToken, resolveStore, type ClientOptions } from "./session.js";

/** Options of {@link createOAuthClientProvider}. */
export interface OAuthClientProviderOptions extends ClientOptions {
  /** Where the SDK's own authorization flow redirects; default `http://127.0.0.1/callback`. */
  redirectUrl?: string;
  /**
   * Opens the authorization URL when the SDK starts a sign-in itself (no stored tokens, or a
   * step-up). Without it such a sign-in throws, telling the user to run `portcullis login`.
   */
  onRedirect?: (url: URL) => void | Promise<void>;
}

/**
 * The MCP SDK's `OAuthClientProvider` on the client's store: pass it as `authProvider` to
 * `StreamableHTTPClientTransport`. After `portcullis login <mcpUrl>` the transport connects with
 * the stored tokens, refreshed under the store's lock when within 60 s of expiry; the refresh
 * token never leaves the store, so the SDK cannot spend it behind the lock's back.
 */
export function createOAuthClientProvider(mcpUrl: string | URL, options: OAuthClientProviderOptions = {}): OAuthClientProvider {
  const store = resolveStore(options.store);
  const shared = { ...options, store };
  const key = sessionKey(mcpUrl);
  const redirectUrl = options.redirectUrl ?? "http://127.0.0.1/callback";
  let verifier: string | undefined;
  let issuer: string | undefined;

  async function currentIssuer(): Promise<string> {
    if (issuer) return issuer;
    const session = await store.getSession(key);
    issuer = session?.issuer ?? (await discover(key, options.fetch ? { fetch: options.fetch } : {})).issuer;
    return issuer;
  }

  return {
    get redirectUrl() {
      return redirectUrl;
    },
    ...(options.clientMetadataUrl ? { clientMetadataUrl: options.clientMetadataUrl } : {}),
    get clientMetadata(): OAuthClientMetadata {
      return {
        client_name: options.clientName ?? "Portcullis client",
        redirect_uris: [redirectUrl],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: options.clientSecret ? "client_secret_basic" : "none",
      };
    },
    async clientInformation(): Promise<OAuthClientInformationMixed | undefined> {
      if (options.clientId) return { client_id: options.clientId, ...(options.clientSecret ? { client_secret: options.clientSecret } : {}) };
      const session = await store.getSession(key);
      const client = await store.getClient(session?.issuer ?? (await currentIssuer()));
      if (!client) return undefined;
      return {
        client_id: client.client_id,
        ...(client.client_secret ? { client_secret: client.client_secret } : {}),
        redirect_uris: client.redirect_uris,
        token_endpoint_auth_method: client.token_endpoint_auth_method,
      };
    },
    async saveClientInformation(info: OAuthClientInformationMixed) {
      const client: StoredClient = {
        version: STORE_FORMAT_VERSION,
        issuer: await currentIssuer(),
        client_id: info.client_id,
        ...(info.client_secret ? { client_secret: info.client_secret } : {}),
        token_endpoint_auth_method:
          ("token_endpoint_auth_method" in info && info.token_endpoint_auth_method) || (info.client_secret ? "client_secret_basic" : "none"),
        redirect_uris: "redirect_uris" in info ? info.redirect_uris.map(String) : [redirectUrl],
        source: "dynamic",
        created_at: Math.floor(Date.now() / 1000),
      };
      await store.saveClient(client);
    },
    async tokens(): Promise<OAuthTokens | undefined> {
      try {
        const session = await getAccessToken(key, shared);
        return {
          access_token: session.access_token,
          token_type: session.token_type,
          ...(session.expires_at !== undefined ? { expires_in: Math.max(0, session.expires_at - Math.floor(Date.now() / 1000)) } : {}),
          ...(session.scope ? { scope: session.scope } : {}),
        };
      } catch (error) {
        if (error instanceof PortcullisClientError && ["not_signed_in", "expired", "invalid_grant"].includes(error.code)) return undefined;
        throw error;
      }
    },
    async saveTokens(tokens: OAuthTokens) {
      // The SDK finished a sign-in of its own: store it as the CLI would.
      const discovery = await discover(key, options.fetch ? { fetch: options.fetch } : {});
      const client = await this.clientInformation();
      const now = Math.floor(Date.now() / 1000);
      await store.saveSession({
        version: STORE_FORMAT_VERSION,
        mcp_url: key,
        resource: discovery.resource,
        issuer: discovery.issuer,
        authorization_server: discovery.authorizationServer,
        client_id: client?.client_id ?? "",
        access_token: tokens.access_token,
        token_type: tokens.token_type,
        ...(tokens.refresh_token ? { refresh_token: tokens.refresh_token } : {}),
        ...(tokens.expires_in !== undefined ? { expires_at: now + tokens.expires_in } : {}),
        ...(tokens.scope ? { scope: tokens.scope } : {}),
        updated_at: now,
      });
    },
    async redirectToAuthorization(url: URL) {
      if (!options.onRedirect) {
        const scope = url.searchParams.get("scope");
        throw new PortcullisClientError("not_signed_in", `sign-in required: run \`portcullis login ${key}${scope ? ` --scope "${scope}"` : ""}\``);
      }
      await options.onRedirect(url);
    },
    saveCodeVerifier(codeVerifier: string) {
      verifier = codeVerifier;
    },
    codeVerifier() {
      if (!verifier) throw new PortcullisClientError("invalid_state", "no authorization in progress");
      return verifier;
    },
    async invalidateCredentials(scope) {
      if (scope === "all" || scope === "tokens") await store.deleteSession(key);
      if (scope === "all" || scope === "client") {
        const session = await store.getSession(key);
        await store.deleteClient(session?.issuer ?? (await currentIssuer()));
      }
      if (scope === "all" || scope === "verifier") verifier = undefined;
    },
  };
}
