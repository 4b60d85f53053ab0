import type { ResolvedUpstream } from "./options.js";
import type { Storage } from "../storage/types.js";
import type { User } from "../types.js";
import { createUpstreamClient, type UpstreamClient } from "./provider.js";
import { createSealer } from "../lib/seal.js";
import { createUpstreamTokenStore, type UpstreamTokenStore } from "./tokens.js";

/** The upstream identity provider as the server uses it. */
export interface Upstream {
  options: ResolvedUpstream;
  client: UpstreamClient;
  tokens: UpstreamTokenStore;
  /** The Portcullis user for the provider's claims, or null to refuse them. */
  userOf(claims: Record<string, unknown>): User | null;
}

const PROFILE_CLAIMS = ["email", "email_verified", "name", "preferred_username"];

/** The default mapping: `sub` is the subject; the profile claims go into access tokens. */
function defaultUser(claims: Record<string, unknown>): User | null {
  const { sub } = claims;
  if (typeof sub !== "string" || sub === "") return null;
  const kept = Object.fromEntries(PROFILE_CLAIMS.filter((name) => claims[name] !== undefined).map((name) => [name, claims[name]]));
  const displayName = [claims.name, claims.email, claims.preferred_username].find((v): v is string => typeof v === "string" && v !== "");
  return { subject: sub, ...(displayName ? { displayName } : {}), claims: kept };
}

export function createUpstream(
  options: ResolvedUpstream,
  input: { storage: Storage; now: () => number; ttlSeconds: number; onEnded: (grantId: string) => Promise<void> },
): Upstream {
  const client = createUpstreamClient(options, input.now);
  const tokens = createUpstreamTokenStore({
    storage: input.storage,
    sealer: createSealer(options.keys, options.encryptionKeyId),
    client,
    now: input.now,
    ttlSeconds: input.ttlSeconds,
    timeoutMs: options.timeoutMs,
    onEnded: input.onEnded,
  });
  return {
    options,
    client,
    tokens,
    userOf(claims) {
      const user = (options.mapClaims ?? defaultUser)(claims);
      return user && typeof user.subject === "string" && user.subject !== "" ? user : null;
    },
  };
}

export { UpstreamError } from "./provider.js";
export type { UpstreamFailure } from "./provider.js";
export type { UpstreamAccess } from "./tokens.js";
