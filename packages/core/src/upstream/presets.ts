import type { UpstreamOptions } from "../options.js";
import type { User } from "../types.js";

/** What every preset takes: the client registered at the provider and the token keys. */
export interface PresetOptions {
  /** The client ID registered at the provider, redirect URI `<issuer of this server>/upstream/callback`. */
  clientId: string;
  /** The client secret; omit for a public client (PKCE only) where the provider allows one. */
  clientSecret?: string;
  /** See {@link UpstreamOptions.tokenEncryptionKeys}. */
  tokenEncryptionKeys: UpstreamOptions["tokenEncryptionKeys"];
  /** Replaces the preset's scopes (keep what the preset needs, such as `openid`). */
  scopes?: string[];
  /** See {@link UpstreamOptions.mapClaims}. */
  mapClaims?: UpstreamOptions["mapClaims"];
  /** See {@link UpstreamOptions.fetch}. */
  fetch?: UpstreamOptions["fetch"];
  /** See {@link UpstreamOptions.timeoutMs}. */
  timeoutMs?: number;
}

function base(options: PresetOptions, issuer: string, scopes: string[]): UpstreamOptions {
  const { clientId, clientSecret, tokenEncryptionKeys, mapClaims, fetch, timeoutMs } = options;
  return {
    issuer,
    clientId,
    ...(clientSecret !== undefined ? { clientSecret } : {}),
    tokenEncryptionKeys,
    scopes: options.scopes ?? scopes,
    ...(mapClaims ? { mapClaims } : {}),
    ...(fetch ? { fetch } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  };
}

/** A host name, without scheme, path or port surprises. */
function host(value: string, what: string): string {
  if (!/^[A-Za-z0-9.-]+(?::\d+)?$/.test(value))
    throw new TypeError(`Portcullis: ${what} must be a host name such as example.com (no scheme or path), got ${JSON.stringify(value)}`);
  return value;
}

/** GitHub's user as `/user` answers it: `id` is the stable subject, `login` can change. */
function githubUser(info: Record<string, unknown>): User | null {
  const id = info.id;
  if ((typeof id !== "number" && typeof id !== "string") || String(id) === "") return null;
  const claims: Record<string, unknown> = {};
  if (typeof info.login === "string") claims.preferred_username = info.login;
  if (typeof info.name === "string") claims.name = info.name;
  if (typeof info.email === "string") claims.email = info.email;
  const displayName = [info.name, info.login].find((v): v is string => typeof v === "string" && v !== "");
  return { subject: String(id), ...(displayName ? { displayName } : {}), claims };
}

/**
 * Upstream identity providers with their quirks written down. Each answers the `upstream` option
 * of `createAuthorizationServer`.
 *
 * @example
 * ```ts
 * createAuthorizationServer({
 *   ...,
 *   upstream: upstreamPresets.google({ clientId, clientSecret, tokenEncryptionKeys: process.env.UPSTREAM_TOKEN_KEY! }),
 * });
 * ```
 */
export const upstreamPresets = {
  /**
   * GitHub (an OAuth App or a GitHub App's user authorization): plain OAuth 2, no discovery and no
   * ID token, so the user is read from `https://api.github.com/user` (subject: the numeric `id`;
   * `login` as `preferred_username`; `email` only when public). Tokens of an OAuth App do not
   * expire; a GitHub App with expiring tokens also gets a refresh token, used as with any
   * provider. GitHub has no RFC 7009 revocation endpoint.
   */
  github(options: PresetOptions): UpstreamOptions {
    return {
      ...base(options, "https://github.com", ["read:user", "user:email"]),
      endpoints: {
        authorization: "https://github.com/login/oauth/authorize",
        token: "https://github.com/login/oauth/access_token",
        userinfo: "https://api.github.com/user",
      },
      mapClaims: options.mapClaims ?? githubUser,
    };
  },

  /**
   * Google: OIDC at `https://accounts.google.com`. Google has no `offline_access` scope: a refresh
   * token comes with `access_type=offline`, and only with `prompt=consent` after the first time.
   * Its refresh tokens do not rotate (the one given is kept).
   */
  google(options: PresetOptions): UpstreamOptions {
    return {
      ...base(options, "https://accounts.google.com", ["openid", "email", "profile"]),
      authorizationParams: { access_type: "offline", prompt: "consent" },
    };
  },

  /**
   * Microsoft Entra ID (v2.0 endpoints) for one tenant: issuer
   * `https://login.microsoftonline.com/<tenant>/v2.0`. `common`, `organizations` and `consumers`
   * are refused: their metadata names a templated issuer that no response can match. The ID
   * token's `email` is optional in Entra; without it, userinfo (Microsoft Graph) is asked.
   * Refresh tokens rotate; Entra has no RFC 7009 revocation endpoint.
   */
  entra(options: PresetOptions & { tenant: string }): UpstreamOptions {
    const tenant = options.tenant;
    if (["common", "organizations", "consumers"].includes(tenant.toLowerCase())) {
      throw new TypeError(`Portcullis: upstreamPresets.entra needs your tenant ID or domain, not ${tenant} (its issuer varies per user)`);
    }
    if (!/^[A-Za-z0-9.-]+$/.test(tenant))
      throw new TypeError(`Portcullis: upstreamPresets.entra: tenant must be a tenant ID or domain, got ${JSON.stringify(tenant)}`);
    const { tenant: _tenant, ...rest } = options;
    return base(rest, `https://login.microsoftonline.com/${tenant}/v2.0`, ["openid", "profile", "email", "offline_access"]);
  },

  /**
   * Auth0: issuer `https://<domain>/` (with its trailing slash). A refresh token needs
   * `offline_access` and "Allow Offline Access" on the API; `audience` names that API, so the
   * access token is a JWT for it rather than an opaque one for userinfo only.
   */
  auth0(options: PresetOptions & { domain: string; audience?: string }): UpstreamOptions {
    const { domain, audience, ...rest } = options;
    return {
      ...base(rest, `https://${host(domain, "upstreamPresets.auth0: domain")}/`, ["openid", "profile", "email", "offline_access"]),
      ...(audience ? { authorizationParams: { audience } } : {}),
    };
  },

  /**
   * Okta: a custom authorization server, issuer `https://<domain>/oauth2/<id>` (`default` unless
   * `authorizationServerId` says otherwise; `null` for the org authorization server at
   * `https://<domain>`, whose tokens are for Okta's own APIs only).
   */
  okta(options: PresetOptions & { domain: string; authorizationServerId?: string | null }): UpstreamOptions {
    const { domain, authorizationServerId = "default", ...rest } = options;
    const origin = `https://${host(domain, "upstreamPresets.okta: domain")}`;
    if (authorizationServerId !== null && !/^[A-Za-z0-9_-]+$/.test(authorizationServerId)) {
      throw new TypeError(`Portcullis: upstreamPresets.okta: authorizationServerId must be an ID, got ${JSON.stringify(authorizationServerId)}`);
    }
    return base(rest, authorizationServerId === null ? origin : `${origin}/oauth2/${authorizationServerId}`, ["openid", "profile", "email", "offline_access"]);
  },

  /**
   * Keycloak: issuer `<baseUrl>/realms/<realm>`. A code grant already comes with a refresh token
   * tied to the user's session, so `offline_access` (which would create an offline session that
   * outlives it) is not asked for by default.
   */
  keycloak(options: PresetOptions & { baseUrl: string; realm: string }): UpstreamOptions {
    const { baseUrl, realm, ...rest } = options;
    if (!/^[A-Za-z0-9._-]+$/.test(realm)) throw new TypeError(`Portcullis: upstreamPresets.keycloak: realm must be a realm name, got ${JSON.stringify(realm)}`);
    return base(rest, `${baseUrl.replace(/\/+$/, "")}/realms/${realm}`, ["openid", "profile", "email"]);
  },
};
