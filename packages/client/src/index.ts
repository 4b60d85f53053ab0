export { createAuthFetch } from "./auth-fetch.js";
export { parseBearerChallenge } from "./challenge.js";
export { runChecks } from "./check.js";
export { authorizationServerMetadataUrls, discover, resourceMetadataUrls } from "./discovery.js";
export { PortcullisClientError } from "./errors.js";
export { createFileStore, defaultHome } from "./file-store.js";
export { createOAuthClientProvider } from "./provider.js";
export { getAccessToken, signIn, signInWithClientCredentials, signOut } from "./session.js";
export { createMemoryStore, STORE_FORMAT_VERSION } from "./store.js";

export type { AuthFetchOptions } from "./auth-fetch.js";
export type { BearerChallenge } from "./challenge.js";
export type { Check, CheckReport, CheckStatus } from "./check.js";
export type { Discovery, DiscoveryOptions } from "./discovery.js";
export type { FileStoreOptions } from "./file-store.js";
export type { OAuthClientProviderOptions } from "./provider.js";
export type { ClientOptions, SignInOptions, TokenOptions } from "./session.js";
export type { StoredClient, StoredSession, TokenStore } from "./store.js";
