import { sha256 } from "../lib/crypto.js";
import { keys } from "../storage/keys.js";
import { createMemoryStore } from "../storage/memory.js";
import type { Storage } from "../storage/types.js";
import type { AuthInfo } from "../types.js";

/** Options of the guard's `sessionBinding`. */
export interface SessionBindingOptions {
  /**
   * Where the owner of each session is remembered. Default: a memory store of this process
   * (100,000 sessions at most; past that a new session is refused with 503 until old ones expire).
   * Give the app's shared store (`@portcullis/redis`, `@portcullis/sqlite`, ...) when one MCP
   * session is served by several instances.
   */
  storage?: Storage;
  /**
   * How long a session's owner is remembered after its last use, at least. Default 86,400 (a
   * day); a session used more often than every half of it is never forgotten while in use.
   */
  ttlSeconds?: number;
  /**
   * How many new sessions one subject and client may bind per `ttlSeconds` window. Default 1,000:
   * far above what a real client opens, and low enough that one signed-in user cannot fill the
   * store and lock everyone else out of new sessions. Past it a new session is refused with 429.
   */
  maxSessionsPerUser?: number;
}

/** Who a session belongs to, as stored. */
interface SessionOwner {
  subject: string | null;
  clientId: string;
  /** When the record was last written, in milliseconds; it is written again past half its TTL. */
  boundAt: number;
}

/** Whether the token's subject and client own the session, binding it to them on first use. */
export type SessionCheck = (sessionId: string, resource: string, info: AuthInfo) => Promise<"owner" | "other" | "quota">;

const DEFAULT_TTL_SECONDS = 86_400;
const DEFAULT_MAX_SESSIONS_PER_USER = 1_000;
const MAX_TTL_SECONDS = 30 * 86_400;

/** A `TypeError` naming the problem, for a `sessionBinding` option that cannot work. */
export function verifySessionBindingOptions(value: unknown): void {
  if (value === undefined || value === false) return;
  if (typeof value !== "object" || value === null) throw new TypeError("Portcullis: sessionBinding must be false or { storage?, ttlSeconds? }");
  const { storage, ttlSeconds, maxSessionsPerUser } = value as SessionBindingOptions;
  if (maxSessionsPerUser !== undefined && (!Number.isInteger(maxSessionsPerUser) || maxSessionsPerUser < 1)) {
    throw new TypeError("Portcullis: sessionBinding.maxSessionsPerUser must be a positive integer");
  }
  if (storage !== undefined && (typeof storage !== "object" || storage === null || typeof (storage as Storage).setIfAbsent !== "function")) {
    throw new TypeError("Portcullis: sessionBinding.storage must implement the Storage port");
  }
  if (ttlSeconds !== undefined && (!Number.isInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds > MAX_TTL_SECONDS)) {
    throw new TypeError(`Portcullis: sessionBinding.ttlSeconds must be an integer from 60 to ${MAX_TTL_SECONDS}`);
  }
}

/**
 * Binds each MCP session id (`Mcp-Session-Id`, minted by a stateful Streamable HTTP server) to the
 * subject and client of the first valid token that uses it, and answers `"other"` for any later
 * token of someone else (MCP Security Best Practices §Session Hijacking). The id is stored only as
 * a hash, with the resource, so guards sharing a store stay apart.
 */
export function createSessionCheck(options: SessionBindingOptions | false | undefined, now: () => number = Date.now): SessionCheck | undefined {
  if (options === false) return undefined;
  const storage = options?.storage ?? createMemoryStore();
  const ttlSeconds = options?.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  const maxSessions = options?.maxSessionsPerUser ?? DEFAULT_MAX_SESSIONS_PER_USER;
  return async (sessionId, resource, info) => {
    const key = keys.mcpSession(await sha256(`${resource} ${sessionId}`));
    const subject = typeof info.extra?.sub === "string" ? info.extra.sub : null;
    const mine: SessionOwner = { subject, clientId: info.clientId, boundAt: now() };
    // Trust on first use: the first valid token to present a session id owns it. Two attempts
    // cover a record that expires between the write that fails and the read.
    for (let attempt = 0; attempt < 2; attempt++) {
      let owner = await storage.get<SessionOwner>(key);
      if (!owner) {
        // A new binding counts against this user's quota before it is written.
        const window = Math.floor(now() / 1000 / ttlSeconds);
        const quotaKey = keys.mcpSessionQuota(await sha256(`${resource} ${subject ?? ""} ${info.clientId}`), window);
        if ((await storage.increment(quotaKey, { ttlSeconds })) > maxSessions) return "quota";
        if (await storage.setIfAbsent(key, mine, { ttlSeconds })) return "owner";
        owner = await storage.get<SessionOwner>(key);
        if (!owner) continue;
      }
      if (owner.subject !== subject || owner.clientId !== info.clientId) return "other";
      if (mine.boundAt - owner.boundAt > (ttlSeconds * 1000) / 2) await storage.set(key, mine, { ttlSeconds });
      return "owner";
    }
    return "other";
  };
}
