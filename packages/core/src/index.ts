export { createAuthorizationServer } from "./server.js";
export type { AuthorizationRequestInfo, AuthorizationServer, ConsentInfo, GrantInfo, ImportedClient } from "./server.js";
export type { KeyManager, SigningAlgorithm, SigningKeyInfo } from "./tokens/keys.js";
export type { PageMessages } from "./handlers/messages.js";
export type { PageTheme } from "./handlers/pages.js";
export { namespacedStore } from "./storage/namespaced.js";
export { serveOwned } from "./http/serve.js";
export { MAX_JSON_DEPTH } from "./lib/json.js";
export type { OwnedRequest } from "./http/serve.js";
export type { ConnectionInfo } from "./http/peer.js";
export type {
  AuthorizationServerOptions,
  ClientMetadataDocumentOptions,
  DynamicRegistrationOptions,
  LoginOptions,
  OutboundOptions,
  RateLimitOptions,
  RegistrationContext,
  RegistrationDecision,
  StaticClient,
  UpstreamClaimsMapper,
  UpstreamOptions,
} from "./options.js";
export {
  createResourceGuard,
  createJWTVerifier,
  jwtTokenVerifier,
  bearerChallenge,
  challengeResponse,
  rawHeaders,
  MAX_MCP_BODY,
  readAtMost,
  readChunksAtMost,
} from "./resource/index.js";
export type {
  AuthenticateOptions,
  AuthenticateResult,
  BodyReader,
  Challenge,
  GuardRequest,
  PlainResponse,
  HeaderReader,
  JWTVerifier,
  JWTVerifierOptions,
  ProtectResult,
  ResourceGuard,
  ResourceGuardOptions,
  SessionBindingOptions,
  VerifiedClaims,
} from "./resource/index.js";
export { AuthorizationServerUnavailableError, createRemoteVerifier } from "./resource/index.js";
export type { IssuerMetadata, RemoteVerifier, RemoteVerifierOptions } from "./resource/index.js";
export { OAuthError, isOAuthError } from "./errors.js";
export { UpstreamError } from "./upstream/provider.js";
export { SigningKeyUnavailableError } from "./tokens/keys.js";
export { upstreamPresets } from "./upstream/presets.js";
export type { PresetOptions } from "./upstream/presets.js";
export type { UpstreamAccess } from "./upstream/tokens.js";
export type { UpstreamFailure } from "./upstream/provider.js";
export type { OAuthErrorCode, ReasonCode } from "./errors.js";
export { createMemoryStore, MemoryStoreFullError } from "./storage/memory.js";
export type { MemoryStoreOptions } from "./storage/memory.js";
export type { SetOptions, Storage, StorageEntry, StorageWrite } from "./storage/types.js";
export type { AuthInfo, ClientMetadata, Handles, RateLimitedEndpoint, ServerEvent, TokenVerifier, User } from "./types.js";
