import { OAuthError } from "../errors.js";
import { sha256 } from "../lib/crypto.js";
import { parseIPv4, parseIPv6 } from "../lib/ip.js";
import type { Storage } from "../storage/types.js";
import type { RateLimitedEndpoint, ServerEvent } from "../types.js";

/**
 * Rate limits of the authorization server: fixed windows counted in the configured store
 * (`increment`), so they hold across instances. Every limit is per window of `windowSeconds`.
 */
export interface RateLimitOptions {
  /** Length of a counting window. Default 60. */
  windowSeconds?: number;
  /**
   * Requests per window from one client address (IPv6 counted per /64). Defaults: token 600,
   * register 60, authorize 300, login 60. Needs a client address (see `clientIp`/`trustProxy`);
   * without one, only the other limits apply.
   */
  perIp?: Partial<Record<RateLimitedEndpoint, number>>;
  /**
   * Requests per window naming one `client_id`, whoever sends them. Defaults: token 6000,
   * authorize 3000: generous, as one metadata-document client may serve every user.
   */
  perClient?: Partial<Record<"token" | "authorize", number>>;
  /**
   * Sign-in lockout on the built-in page, per username and client address: after `maxFailures`
   * wrong passwords the pair waits `lockoutSeconds`, doubling with each further failure up to
   * `maxLockoutSeconds`. Defaults 5, 30, 900.
   */
  login?: { maxFailures?: number; lockoutSeconds?: number; maxLockoutSeconds?: number };
}

/** Rate limit settings after defaults, or false when turned off. */
export interface ResolvedRateLimit {
  windowSeconds: number;
  perIp: Record<RateLimitedEndpoint, number>;
  perClient: Record<"token" | "authorize", number>;
  login: { maxFailures: number; lockoutSeconds: number; maxLockoutSeconds: number };
}

export function resolveRateLimit(input: RateLimitOptions | false | undefined): ResolvedRateLimit | false {
  if (input === false) return false;
  return {
    windowSeconds: input?.windowSeconds ?? 60,
    perIp: { token: 600, register: 60, authorize: 300, login: 60, ...input?.perIp },
    perClient: { token: 6000, authorize: 3000, ...input?.perClient },
    login: { maxFailures: 5, lockoutSeconds: 30, maxLockoutSeconds: 900, ...input?.login },
  };
}

/** Who a request comes from, as far as rate limits care. */
export interface Requester {
  ip: string | undefined;
  clientId?: string | undefined;
}

/**
 * A rate-limited request: 429 with `Retry-After`. The code is `temporarily_unavailable`
 * (RFC 6749 §4.1.2.1), the closest the RFCs offer; the status says what happened.
 */
export function rateLimitedError(retryAfterSeconds: number, description = "too many requests; try again later"): OAuthError {
  return new OAuthError("temporarily_unavailable", description, {
    status: 429,
    reason: "rate_limited",
    headers: { "Retry-After": String(retryAfterSeconds) },
  });
}

/**
 * The key a client address is counted under: IPv4 as is, IPv6 by its /64 (one subscriber's
 * network), IPv4-mapped IPv6 as the IPv4 address. Undefined for anything that is not an address.
 */
export function addressKey(address: string | undefined): string | undefined {
  if (!address) return undefined;
  const text = address.replace(/^\[/, "").replace(/\]$/, "");
  const percent = text.indexOf("%");
  const bare = percent === -1 ? text : text.slice(0, percent);
  if (parseIPv4(bare)) return bare;
  const v6 = parseIPv6(bare);
  if (!v6) return undefined;
  if (v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff) return v6.slice(12).join(".");
  const groups: string[] = [];
  for (let i = 0; i < 8; i += 2) groups.push(((v6[i]! << 8) | v6[i + 1]!).toString(16));
  return `${groups.join(":")}::/64`;
}

/** Rate limits and the sign-in lockout, counted in `storage`. */
export function createRateLimiter(settings: ResolvedRateLimit | false, storage: Storage, now: () => number, onEvent: (event: ServerEvent) => void) {
  const hit = async (key: string, limit: number): Promise<number | undefined> => {
    if (!settings) return undefined;
    const windowMs = settings.windowSeconds * 1000;
    const t = now();
    const index = Math.floor(t / windowMs);
    const left = Math.max(1, Math.ceil(((index + 1) * windowMs - t) / 1000));
    const count = await storage.increment(`ratelimit:${key}:${index}`, { ttlSeconds: left });
    return count > limit ? left : undefined;
  };
  const lockKeys = async (username: string, ip: string | undefined) => {
    // Case and Unicode variants of one name share a counter, whatever verifyPassword accepts.
    const id = `${await sha256(username.normalize("NFKC").toLowerCase())}:${addressKey(ip) ?? "unknown"}`;
    return { failures: `login-failures:${id}`, lock: `login-lock:${id}` };
  };

  return {
    enabled: settings !== false,

    /** Counts a request; throws a 429 {@link OAuthError} when the client address or the client is over its limit. */
    async check(endpoint: RateLimitedEndpoint, requester: Requester): Promise<void> {
      if (!settings) return;
      const ip = addressKey(requester.ip);
      const clientLimit = endpoint === "token" || endpoint === "authorize" ? settings.perClient[endpoint] : undefined;
      const clientId = requester.clientId && requester.clientId.length <= 4096 ? requester.clientId : undefined;
      const [byIp, byClient] = await Promise.all([
        ip ? hit(`${endpoint}:ip:${ip}`, settings.perIp[endpoint]) : undefined,
        clientId && clientLimit !== undefined ? hit(`${endpoint}:client:${await sha256(clientId)}`, clientLimit) : undefined,
      ]);
      const retryAfterSeconds = byIp ?? byClient;
      if (retryAfterSeconds === undefined) return;
      onEvent({
        type: "rate_limited",
        endpoint,
        limit: byIp !== undefined ? "ip" : "client",
        ...(clientId ? { clientId } : {}),
        ...(ip ? { ip } : {}),
        retryAfterSeconds,
      });
      throw rateLimitedError(retryAfterSeconds);
    },

    /** Seconds a username and address must still wait before another password is checked, if locked out. */
    async lockedFor(username: string, ip: string | undefined, clientId: string): Promise<number | undefined> {
      if (!settings) return undefined;
      const until = await storage.get<number>((await lockKeys(username, ip)).lock);
      if (until === undefined || until <= now()) return undefined;
      const retryAfterSeconds = Math.ceil((until - now()) / 1000);
      onEvent({ type: "rate_limited", endpoint: "login", limit: "lockout", clientId, ...(addressKey(ip) ? { ip: addressKey(ip)! } : {}), retryAfterSeconds });
      return retryAfterSeconds;
    },

    /** Records a wrong password; past the allowance, locks the pair out for a doubling time. */
    async failed(username: string, ip: string | undefined): Promise<void> {
      if (!settings) return;
      const keys = await lockKeys(username, ip);
      const { maxFailures, lockoutSeconds, maxLockoutSeconds } = settings.login;
      const failures = await storage.increment(keys.failures, { ttlSeconds: maxLockoutSeconds * 4 });
      if (failures < maxFailures) return;
      const seconds = Math.min(maxLockoutSeconds, lockoutSeconds * 2 ** Math.min(20, failures - maxFailures));
      await storage.set(keys.lock, now() + seconds * 1000, { ttlSeconds: seconds });
    },

    /** A correct password clears the pair's failures. */
    async succeeded(username: string, ip: string | undefined): Promise<void> {
      if (!settings) return;
      const keys = await lockKeys(username, ip);
      await Promise.all([storage.delete(keys.failures), storage.delete(keys.lock)]);
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
