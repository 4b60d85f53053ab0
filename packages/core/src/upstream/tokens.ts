import type { Storage } from "../storage/types.js";
import { keys } from "../storage/keys.js";
import { randomToken } from "../lib/crypto.js";
import { UpstreamError, type UpstreamClient, type UpstreamTokenSet } from "./provider.js";
import type { Sealed, Sealer } from "../lib/seal.js";

/**
 * What a tool handler gets as `authInfo.extra.upstream` when the server signs users in through an
 * upstream identity provider: the user's upstream access token, refreshed when it has expired, so
 * the tool can call the user's API there. The MCP client never sees this token.
 */
export interface UpstreamAccess {
  /** The identity provider's issuer. */
  readonly issuer: string;
  /**
   * The grant's upstream access token, refreshed first when it has expired (one refresh per grant
   * at a time, across every instance sharing the store).
   *
   * @param options.forceRefresh Refresh even though the token has not expired yet: for a tool whose
   *   call the provider's API refused with 401 (the token was revoked early).
   * @throws {UpstreamError} `invalid_grant` when the upstream sign-in has ended (the grant is then
   *   revoked), `unreachable` or `refused` when the provider could not refresh it now.
   */
  getAccessToken(options?: { forceRefresh?: boolean }): Promise<string>;
  /**
   * The provider's userinfo answer for this user, fetched with {@link getAccessToken}'s token
   * (refreshed and asked once more when the provider refuses it).
   *
   * @throws {UpstreamError} as {@link getAccessToken}, and `refused` when the provider has no userinfo endpoint.
   */
  userinfo(): Promise<Record<string, unknown>>;
}

/** A grant's upstream tokens as stored: sealed, with a version each refresh increments. */
interface StoredTokens {
  sealed: Sealed;
  version: number;
}

const context = (grantId: string) => `portcullis/upstream-tokens/v1:${grantId}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ended = () => new UpstreamError("invalid_grant", "the upstream sign-in has ended; sign in again");

/** A token is refreshed a little before it expires: 5 s, or a quarter of its life when that is shorter. */
function isFresh(tokens: UpstreamTokenSet, now: number): boolean {
  if (tokens.expiresAt === undefined) return true;
  const margin = Math.min(5000, (tokens.expiresAt - tokens.issuedAt) / 4);
  return tokens.expiresAt - margin > now;
}

export interface UpstreamTokenStore {
  save(grantId: string, tokens: UpstreamTokenSet): Promise<void>;
  accessToken(grantId: string, forceRefresh?: boolean): Promise<string>;
  /** Forgets a grant's upstream tokens and revokes them at the provider where it offers revocation. */
  revoke(grantId: string): Promise<void>;
  access(grantId: string): UpstreamAccess;
}

/**
 * Keeps each grant's upstream tokens sealed in the store and refreshes them single-flight: in this
 * process one promise per grant; across processes a lock key (`setIfAbsent` with a short TTL) that
 * the others wait on, reading the refreshed record when it appears.
 */
export function createUpstreamTokenStore(input: {
  storage: Storage;
  sealer: Sealer;
  client: UpstreamClient;
  now: () => number;
  ttlSeconds: number;
  timeoutMs: number;
  /** The upstream sign-in ended (its refresh token was refused): end the grant too. */
  onEnded: (grantId: string) => Promise<void>;
}): UpstreamTokenStore {
  const { storage, sealer, client, now, ttlSeconds } = input;
  const inFlight = new Map<string, Promise<string>>();

  const write = async (grantId: string, tokens: UpstreamTokenSet, version: number) => {
    const record: StoredTokens = { sealed: await sealer.seal(tokens, context(grantId)), version };
    await storage.set(keys.upstreamTokens(grantId), record, { ttlSeconds });
  };

  const read = async (grantId: string): Promise<{ record: StoredTokens; tokens: UpstreamTokenSet } | undefined> => {
    const record = await storage.get<StoredTokens>(keys.upstreamTokens(grantId));
    if (!record) return undefined;
    const tokens = await sealer.open<UpstreamTokenSet>(record.sealed, context(grantId));
    return tokens ? { record, tokens } : undefined;
  };

  /** Refreshes under the store-wide lock, or waits for the instance that holds it. */
  const refreshShared = async (grantId: string, seenVersion: number): Promise<string> => {
    const lock = keys.upstreamRefreshLock(grantId);
    const deadline = now() + input.timeoutMs * 2;
    for (;;) {
      if (await storage.setIfAbsent(lock, randomToken(8), { ttlSeconds: Math.ceil(input.timeoutMs / 1000) + 5 })) {
        try {
          const current = await read(grantId);
          if (!current) throw ended();
          // Another instance refreshed between our read and the lock.
          if (current.record.version !== seenVersion && isFresh(current.tokens, now())) return current.tokens.accessToken;
          const { refreshToken } = current.tokens;
          if (!refreshToken) throw new UpstreamError("invalid_grant", "the upstream access token expired and there is no refresh token; sign in again");
          let next: UpstreamTokenSet;
          try {
            next = await client.refresh(refreshToken);
          } catch (error) {
            if (error instanceof UpstreamError && error.failure === "invalid_grant") {
              await storage.delete(keys.upstreamTokens(grantId));
              await input.onEnded(grantId);
              throw ended();
            }
            throw error;
          }
          // A provider that does not rotate refresh tokens keeps the one it gave.
          await write(grantId, { ...next, ...(next.refreshToken ? {} : { refreshToken }) }, current.record.version + 1);
          return next.accessToken;
        } finally {
          await storage.delete(lock);
        }
      }
      await sleep(100);
      const current = await read(grantId);
      if (!current) throw ended();
      if (current.record.version !== seenVersion && isFresh(current.tokens, now())) return current.tokens.accessToken;
      if (now() > deadline) throw new UpstreamError("unreachable", "refresh: another instance is still refreshing this grant's upstream token");
    }
  };

  const accessToken = async (grantId: string, forceRefresh = false): Promise<string> => {
    const current = await read(grantId);
    if (!current) throw ended();
    if (!forceRefresh && isFresh(current.tokens, now())) return current.tokens.accessToken;
    let pending = inFlight.get(grantId);
    if (!pending) {
      pending = refreshShared(grantId, current.record.version).finally(() => inFlight.delete(grantId));
      inFlight.set(grantId, pending);
    }
    return pending;
  };

  return {
    save: (grantId, tokens) => write(grantId, tokens, 1),
    accessToken,

    async revoke(grantId) {
      const record = await storage.consume<StoredTokens>(keys.upstreamTokens(grantId));
      if (!record) return;
      const tokens = await sealer.open<UpstreamTokenSet>(record.sealed, context(grantId));
      if (!tokens) return;
      // Revoking the refresh token ends the upstream grant (RFC 7009 §2.1); else the access token.
      if (tokens.refreshToken) await client.revoke(tokens.refreshToken, "refresh_token");
      else await client.revoke(tokens.accessToken, "access_token");
    },

    access(grantId) {
      return Object.freeze({
        issuer: client.issuer,
        getAccessToken: (options?: { forceRefresh?: boolean }) => accessToken(grantId, options?.forceRefresh === true),
        userinfo: async () => {
          try {
            return await client.userinfo(await accessToken(grantId));
          } catch (error) {
            // A token the provider revoked before it expired: refresh once and ask again.
            if (!(error instanceof UpstreamError) || error.failure !== "invalid_grant") throw error;
            return client.userinfo(await accessToken(grantId, true));
          }
        },
      });
    },
  };
}
