export { createAuthorizationServer } from "./server.js";
export type { AuthorizationRequestInfo, AuthorizationServer, GrantInfo } from "./server.js";
export { namespacedStore } from "./storage/namespaced.js";
export { serveOwned } from "./http/serve.js";
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
export { createResourceGuard, createJWTVerifier, jwtTokenVerifier, bearerChallenge, challengeResponse, rawHeaders, MAX_MCP_BODY, readAtMost, readChunksAtMost } from "./resource/index.js";
export type { AuthenticateOptions, AuthenticateResult, BodyReader, Challenge, GuardRequest, HeaderReader, JWTVerifier, JWTVerifierOptions, ResourceGuard, ResourceGuardOptions, VerifiedClaims } from "./resource/index.js";
export { OAuthError, isOAuthError } from "./errors.js";
export { UpstreamError } from "./upstream/provider.js";
export { upstreamPresets } from "./upstream/presets.js";
export type { PresetOptions } from "./upstream/presets.js";
export type { UpstreamAccess } from "./upstream/tokens.js";
export type { UpstreamFailure } from "./upstream/provider.js";
export type { OAuthErrorCode } from "./errors.js";
export { createMemoryStore, MemoryStoreFullError } from "./storage/memory.js";
export type { MemoryStoreOptions } from "./storage/memory.js";
export type { SetOptions, Storage, StorageEntry } from "./storage/types.js";
export type { AuthInfo, ClientMetadata, Handles, RateLimitedEndpoint, ServerEvent, TokenVerifier, User } from "./types.js";
