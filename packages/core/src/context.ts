import type { ClientRegistry } from "./clients/registry.js";
import type { ResolvedOptions } from "./options.js";
import type { JWTVerifier } from "./resource/jwt-verifier.js";
import type { KeyRing } from "./tokens/keys.js";
import type { RateLimiter } from "./http/rate-limit.js";
import type { Upstream } from "./upstream/index.js";
import type { BoundedMap } from "./lib/bounded-map.js";

/** What every handler and grant shares: resolved options and the server's components. */
export interface ServerContext {
  options: ResolvedOptions;
  clients: ClientRegistry;
  keys: KeyRing;
  verifier: JWTVerifier;
  limiter: RateLimiter;
  /** The upstream identity provider, when users sign in through one (`upstream` option). */
  upstream?: Upstream;
  /**
   * Grants recently seen live, with when that stops counting (ms): the verification hot path
   * reads the store at most once per grant per `grantCacheSeconds`. Revocation here deletes the
   * entry at once; other instances delete it when the store's `subscribe` tells them, and
   * otherwise notice within that interval.
   */
  liveGrants: BoundedMap<string, number>;
  /** When this instance last recorded a consent's use, by user and client (ms): see `touchConsent`. */
  consentTouches: BoundedMap<string, number>;
}

/** What one request brings besides itself: where it comes from. */
export interface RequestMeta {
  /** The client address, when the adapter or `clientIp` knows it. */
  ip: string | undefined;
}
