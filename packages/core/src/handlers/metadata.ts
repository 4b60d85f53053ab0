import type { ResolvedOptions } from "../options.js";

/** The paths the authorization server serves, relative to the origin. */
export function endpointPaths(options: ResolvedOptions) {
  const base = options.issuerPath;
  return {
    authorize: `${base}/authorize`,
    consent: `${base}/authorize/consent`,
    /** The built-in login page's form (an authorization's sign-in, or the account page's). */
    login: `${base}/authorize/login`,
    /** Ends the browser's sign-in session (POST with the session's CSRF token). */
    logout: `${base}/logout`,
    /** The signed-in user's connected applications. */
    account: `${base}/account`,
    /** Revokes one connected application (POST with the session's CSRF token). */
    accountRevoke: `${base}/account/revoke`,
    token: `${base}/token`,
    register: `${base}/register`,
    revoke: `${base}/revoke`,
    introspect: `${base}/introspect`,
    jwks: `${base}/jwks.json`,
    /** Where an upstream identity provider sends the user back (the redirect URI registered there). */
    upstreamCallback: `${base}/upstream/callback`,
    // RFC 8414 §3.1 inserts the well-known segment before the issuer's path; OIDC appends it.
    oauthMetadata: `/.well-known/oauth-authorization-server${base}`,
    oidcMetadata: `/.well-known/openid-configuration${base}`,
    oidcMetadataAppended: `${base}/.well-known/openid-configuration`,
  };
}

/** RFC 8414 authorization server metadata; members without a value are left out (§3.2). */
export function authorizationServerMetadata(options: ResolvedOptions): Record<string, unknown> {
  const origin = new URL(options.issuer).origin;
  const paths = endpointPaths(options);
  const clientAuth = ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"];
  return {
    issuer: options.issuer,
    authorization_endpoint: origin + paths.authorize,
    token_endpoint: origin + paths.token,
    ...(options.dynamicRegistration ? { registration_endpoint: origin + paths.register } : {}),
    revocation_endpoint: origin + paths.revoke,
    introspection_endpoint: origin + paths.introspect,
    jwks_uri: origin + paths.jwks,
    scopes_supported: [...new Set([...Object.keys(options.scopes), "offline_access"])],
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token", "client_credentials"],
    token_endpoint_auth_methods_supported: clientAuth,
    revocation_endpoint_auth_methods_supported: clientAuth,
    introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "private_key_jwt"],
    token_endpoint_auth_signing_alg_values_supported: ["ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
    code_challenge_methods_supported: ["S256"],
    authorization_response_iss_parameter_supported: true,
    ...(options.clientMetadataDocuments.enabled ? { client_id_metadata_document_supported: true } : {}),
  };
}

/**
 * The same document for clients that try OpenID Connect discovery, with the members the OIDC
 * schema requires. Portcullis issues no ID tokens; the algorithm named is its signing algorithm.
 */
export function openIdConfiguration(options: ResolvedOptions): Record<string, unknown> {
  return { ...authorizationServerMetadata(options), subject_types_supported: ["public"], id_token_signing_alg_values_supported: [options.signingAlgorithm] };
}
