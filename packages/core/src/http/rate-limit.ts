import { OAuthError } from "../errors.js";
import { randomToken, sha256 } from "../lib/crypto.js";
import { parseIPv4, parseIPv6 } from "../lib/ip.js";
import type { Storage } from "../storage/types.js";
import type { RateLimitedEndpoint, ServerEvent } from "../types.js";
import { keys } from "../storage/keys.js";
import type { RateLimitOptions } from "../options.js";

/** Rate limit settings after defaults ({@link RateLimitOptions}), or false when turned off. */
export interface ResolvedRateLimit {
  windowSeconds: number;
  perIp: Record<RateLimitedEndpoint, number>;
  perClient: Record<"token" | "authorize", number>;
  login: { maxFailures: number; lockoutSeconds: number; maxLockoutSeconds: number };
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
  return OAuthError.because("rate_limited", description, { headers: { "Retry-After": String(retryAfterSeconds) } });
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

/** A password check begun by {@link RateLimiter.beginLogin}: call `finish` with its outcome. */
export interface LoginAttempt {
  /**
   * Records the outcome of the password check.
   *
   * @param ok `true` when the password was right (clears the lockout), `false` when it was wrong
   *   (a failure), `undefined` when the check itself threw (hands the turn back).
   */
  finish(ok: boolean | undefined): Promise<void>;
}

/**
 * Rate limits per endpoint (per client address and per client) and the sign-in lockout of the
 * built-in login page, counted in storage so that instances sharing a store share the counts.
 *
 * @internal Used by the server's handlers; configured through {@link RateLimitOptions}, not
 * part of the public API.
 */
export interface RateLimiter {
  /** Whether any limits apply (`rateLimit` is not `false`). */
  readonly enabled: boolean;
  /**
   * Counts a request; throws a 429 {@link OAuthError} when the client address or the client is
   * over its limit. The address is counted first and alone: a request its limit refuses is not
   * counted against the client, whose allowance other callers share. A request the client limit
   * refuses still counts against its own address. At the token endpoint the client is counted
   * per calling address as well, so one caller cannot spend another's allowance for the same
   * (public) client.
   *
   * @param endpoint The endpoint the request is for.
   * @param requester The caller's address and, when known, its client id.
   * @throws {OAuthError} `temporarily_unavailable` with status 429 and `Retry-After` when over a
   *   limit (reason `rate_limited`); emits a `rate_limited` event first.
   */
  check(endpoint: RateLimitedEndpoint, requester: Requester): Promise<void>;
  /**
   * Starts a password check on the built-in page for a username and address. The attempt is
   * counted before the password is looked at (one atomic `increment`), and judged by the count
   * that increment returned, so parallel attempts cannot all read "not locked" and all be
   * checked: of N at once exactly the allowance is judged. The first round allows
   * `maxFailures` attempts; once they have all failed the pair is locked out for
   * `lockoutSeconds`, and after each wait one more attempt is judged, each failure doubling the
   * wait up to `maxLockoutSeconds`.
   *
   * @param username The name typed on the page (compared case- and Unicode-insensitively).
   * @param ip The caller's address.
   * @param clientId The client the sign-in is for (reported in the `rate_limited` event).
   * @returns `{ wait }` (seconds) when the password must not be checked, or a
   *   {@link LoginAttempt} whose `finish` records the outcome.
   *
   * @example
   * ```ts
   * const attempt = await limiter.beginLogin(username, ip, clientId);
   * if ("wait" in attempt) return tooManyAttempts(attempt.wait);
   * let user;
   * try {
   *   user = await verifyPassword({ username, password, request });
   * } catch (error) {
   *   await attempt.finish(undefined); // the check failed: hand the turn back
   *   throw error;
   * }
   * await attempt.finish(Boolean(user));
   * ```
   */
  beginLogin(username: string, ip: string | undefined, clientId: string): Promise<{ wait: number } | LoginAttempt>;
}

/**
 * Rate limits and the sign-in lockout, counted in `storage`.
 *
 * @param settings The resolved limits, or `false` for none.
 * @param storage Where the counters live.
 * @param now The clock, in epoch milliseconds.
 * @param onEvent Receives a `rate_limited` event for each refusal.
 */
export function createRateLimiter(
  settings: ResolvedRateLimit | false,
  storage: Storage,
  now: () => number,
  onEvent: (event: ServerEvent) => void,
): RateLimiter {
  const hit = async (key: string, limit: number): Promise<number | undefined> => {
    if (!settings) return undefined;
    const windowMs = settings.windowSeconds * 1000;
    const t = now();
    const index = Math.floor(t / windowMs);
    const left = Math.max(1, Math.ceil(((index + 1) * windowMs - t) / 1000));
    const count = await storage.increment(keys.rateLimit(key, index), { ttlSeconds: left });
    return count > limit ? left : undefined;
  };
  const loginId = async (username: string, ip: string | undefined) =>
    // Case and Unicode variants of one name share a record, whatever verifyPassword accepts.
    `${await sha256(username.normalize("NFKC").toLowerCase())}:${addressKey(ip) ?? "unknown"}`;
  const lockoutFor = (generation: number) => {
    const { lockoutSeconds, maxLockoutSeconds } = settings ? settings.login : { lockoutSeconds: 0, maxLockoutSeconds: 0 };
    return Math.min(maxLockoutSeconds, lockoutSeconds * 2 ** Math.min(20, generation));
  };

  return {
    enabled: settings !== false,

    async check(endpoint: RateLimitedEndpoint, requester: Requester): Promise<void> {
      if (!settings) return;
      const ip = addressKey(requester.ip);
      const clientLimit = endpoint === "token" || endpoint === "authorize" ? settings.perClient[endpoint] : undefined;
      const clientId = requester.clientId && requester.clientId.length <= 4096 ? requester.clientId : undefined;
      const refuse = (limit: "ip" | "client", retryAfterSeconds: number): never => {
        onEvent({ type: "rate_limited", endpoint, limit, ...(clientId ? { clientId } : {}), ...(ip ? { ip } : {}), retryAfterSeconds });
        throw rateLimitedError(retryAfterSeconds);
      };
      const byIp = ip ? await hit(`${endpoint}:ip:${ip}`, settings.perIp[endpoint]) : undefined;
      if (byIp !== undefined) refuse("ip", byIp);
      if (!clientId || clientLimit === undefined) return;
      const caller = endpoint === "token" && ip ? `:ip:${ip}` : "";
      const byClient = await hit(`${endpoint}:client:${await sha256(clientId)}${caller}`, clientLimit);
      if (byClient !== undefined) refuse("client", byClient);
    },

    async beginLogin(username: string, ip: string | undefined, clientId: string): Promise<{ wait: number } | LoginAttempt> {
      const open = { finish: async () => {} };
      if (!settings) return open;
      const id = await loginId(username, ip);
      const key = keys.loginLock(id);
      const attempts = (round: string) => keys.loginAttempts(id, round);
      const { maxFailures, maxLockoutSeconds } = settings.login;
      const memory = Math.max(1, maxLockoutSeconds * 4);
      const lock = (await storage.get<LoginLock>(key)) ?? { generation: 0, round: "0", allowance: maxFailures, until: 0 };
      const locked = (retryAfterSeconds: number) => {
        const address = addressKey(ip);
        onEvent({ type: "rate_limited", endpoint: "login", limit: "lockout", clientId, ...(address ? { ip: address } : {}), retryAfterSeconds });
        return { wait: retryAfterSeconds };
      };
      if (lock.until > now()) return locked(Math.ceil((lock.until - now()) / 1000));
      const counter = attempts(lock.round);
      const attempt = await storage.increment(counter, { ttlSeconds: memory });
      // The round's allowance is taken: the last judged attempt will set the next lock.
      if (attempt > lock.allowance) return locked(Math.max(1, lockoutFor(lock.generation)));
      return {
        async finish(ok: boolean | undefined) {
          if (ok) {
            await Promise.all([storage.delete(key), storage.delete(counter), storage.delete(attempts("0"))]);
            return;
          }
          // Only the attempt that took the round's last turn opens the next round.
          if (attempt !== lock.allowance) return;
          const seconds = ok === false ? lockoutFor(lock.generation) : 0;
          const next: LoginLock = {
            generation: ok === false ? lock.generation + 1 : lock.generation,
            round: randomToken(12),
            allowance: 1,
            until: now() + seconds * 1000,
          };
          await storage.set(key, next, { ttlSeconds: seconds + memory });
        },
      };
    },
  };
}

/**
 * The sign-in lockout of one username and address. Attempts are counted under `round`; the
 * round judges `allowance` of them, and none before `until` (epoch milliseconds).
 */
interface LoginLock {
  generation: number;
  round: string;
  allowance: number;
  until: number;
}
