import { kindOfKey } from "./keys.js";

/**
 * Which records a bounded store may drop before they expire, by the key the server built (before
 * any namespace prefix; see `keys.ts`). Only records whose loss costs a refetch or a repeated step
 * are disposable: cached client metadata documents and client JWK sets, pending sign-in requests (and upstream sign-ins in progress, account sign-ins),
 * and dynamic registrations never yet used (which expire on their own). Everything else, and
 * anything not named here, is kept: spent assertions, codes and their redemption markers, refresh
 * tokens spent or live, grants, rate-limit and lockout counters, signing keys. Losing one of those
 * would re-enable a replay or a guess, or log users out.
 */
export function isDisposable(key: string, value: unknown): boolean {
  switch (kindOfKey(key)) {
    case "clientMetadataDocument":
    case "clientJWKS":
    case "pendingAuthorization":
    case "upstreamState":
    case "pendingLogin":
      return true;
    case "client":
      return typeof value === "object" && value !== null && (value as { unused?: unknown }).unused === true;
    default:
      return false;
  }
}
