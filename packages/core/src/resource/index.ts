export { createResourceGuard } from "./guard.js";
export type { AuthenticateResult, ResourceGuard, ResourceGuardOptions } from "./guard.js";
export { bearerChallenge, challengeResponse } from "./challenge.js";
export type { Challenge } from "./challenge.js";
export { authInfoFromClaims, createJWTVerifier, jwtTokenVerifier } from "./jwt-verifier.js";
export type { JWTVerifier, JWTVerifierOptions, VerifiedClaims } from "./jwt-verifier.js";
export type { AuthInfo, TokenVerifier } from "../types.js";
export { OAuthError, isOAuthError } from "../errors.js";
