import type { AuthorizationServer } from "oauth4webapi";

/** The version of the stored records; a reader refuses records of a later version. */
export const STORE_FORMAT_VERSION = 1;

/** A client registration with one authorization server (keyed by its issuer). */
export interface StoredClient {
  version: 1;
  issuer: string;
  client_id: string;
  client_secret?: string;
  /** `none`, `client_secret_basic` or `client_secret_post`. */
  token_endpoint_auth_method: string;
  redirect_uris: string[];
  /** How it was obtained: dynamic registration, a client ID metadata document, or given. */
  source: "dynamic" | "metadata-document" | "preregistered";
  registration_client_uri?: string;
  registration_access_token?: string;
  created_at: number;
}

/** The tokens for one MCP resource, with what refreshing and revoking them needs. */
export interface StoredSession {
  version: 1;
  /** The MCP URL (the store key). */
  mcp_url: string;
  /** The resource indicator sent with every request (RFC 8707). */
  resource: string;
  issuer: string;
  /** The authorization server's metadata as discovered at sign-in. */
  authorization_server: AuthorizationServer;
  client_id: string;
  access_token: string;
  token_type: string;
  refresh_token?: string;
  /** Epoch seconds; absent when the server did not say. */
  expires_at?: number;
  scope?: string;
  updated_at: number;
}

/**
 * Where the client keeps registrations and tokens. `lock` runs `fn` while no other holder of the
 * same key (in this process or, for a shared store, any process) runs: refreshes happen under it,
 * so a rotated refresh token is spent once.
 */
export interface TokenStore {
  getSession(mcpUrl: string): Promise<StoredSession | undefined>;
  saveSession(session: StoredSession): Promise<void>;
  deleteSession(mcpUrl: string): Promise<void>;
  getClient(issuer: string): Promise<StoredClient | undefined>;
  saveClient(client: StoredClient): Promise<void>;
  deleteClient(issuer: string): Promise<void>;
  lock<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/** The store key of an MCP URL: its normalised form without a fragment. */
export function sessionKey(mcpUrl: string | URL): string {
  const url = new URL(String(mcpUrl));
  url.hash = "";
  return url.href;
}

/** An in-memory store (browsers, Workers, tests). The lock serialises callers in this process. */
export function createMemoryStore(): TokenStore {
  const sessions = new Map<string, StoredSession>();
  const clients = new Map<string, StoredClient>();
  const locks = new Map<string, Promise<unknown>>();
  const copy = <T>(value: T | undefined): T | undefined => (value === undefined ? undefined : structuredClone(value));
  return {
    async getSession(mcpUrl) {
      return copy(sessions.get(sessionKey(mcpUrl)));
    },
    async saveSession(session) {
      sessions.set(sessionKey(session.mcp_url), structuredClone(session));
    },
    async deleteSession(mcpUrl) {
      sessions.delete(sessionKey(mcpUrl));
    },
    async getClient(issuer) {
      return copy(clients.get(issuer));
    },
    async saveClient(client) {
      clients.set(client.issuer, structuredClone(client));
    },
    async deleteClient(issuer) {
      clients.delete(issuer);
    },
    async lock(key, fn) {
      const previous = locks.get(key) ?? Promise.resolve();
      const run = previous.catch(() => undefined).then(fn);
      locks.set(key, run);
      try {
        return await run;
      } finally {
        if (locks.get(key) === run) locks.delete(key);
      }
    },
  };
}
