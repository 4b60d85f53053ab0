import { OAuthError } from "../errors.js";
import { randomToken, sha256, timingSafeEqual } from "../lib/crypto.js";
import { isLoopbackHost } from "../lib/url.js";
import type { StaticClient } from "../options.js";
import type { Storage } from "../storage/types.js";
import type { ClientMetadata, StoredClient } from "../types.js";
import { redirectUriProblem } from "./redirect-uri.js";
import { fetchClientMetadataDocument, isMetadataDocumentClientId, type MetadataDocumentPolicy } from "./cimd.js";
import { keys } from "../storage/keys.js";
import { readMetadataFields, type MetadataFields } from "./metadata-fields.js";

const GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"];
/** The grants a user delegates: the only ones open registration may ask for. */
export const USER_DELEGATED_GRANT_TYPES: readonly string[] = ["authorization_code", "refresh_token"];
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
/** The members kept as checked, in order; the settled redirect and response types, application type and JWKs follow them. */
const PLAIN_MEMBERS: readonly (keyof MetadataFields)[] = [
  "token_endpoint_auth_method",
  "grant_types",
  "client_name",
  "client_uri",
  "logo_uri",
  "scope",
  "contacts",
  "tos_uri",
  "policy_uri",
  "software_id",
  "software_version",
];

/** Whether a redirect URI is for a native app: loopback http or a private-use scheme (RFC 8252). */
function isNativeRedirect(url: URL): boolean {
  if (url.protocol === "http:") return isLoopbackHost(url);
  return url.protocol !== "https:";
}

/**
 * Validates RFC 7591 registration metadata; throws `invalid_redirect_uri` or
 * `invalid_client_metadata` with the first problem found.
 *
 * `application_type` (MCP 2026-07-28, OIDC Registration §2): `web` clients use https redirects
 * on real hosts; `native` clients use loopback http, private-use schemes or https. When it is
 * omitted, as older MCP clients do, it is inferred from the redirect URIs.
 */
export function validateClientMetadata(input: unknown, scopes: Record<string, string>): Omit<ClientMetadata, "client_id"> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new OAuthError("invalid_client_metadata", "client metadata must be a JSON object");
  }
  const raw = input as Record<string, unknown>;
  if (raw.redirect_uris !== undefined && (!Array.isArray(raw.redirect_uris) || raw.redirect_uris.some((u) => typeof u !== "string"))) {
    throw new OAuthError("invalid_redirect_uri", "redirect_uris must be an array of strings");
  }
  for (const uri of (raw.redirect_uris as string[] | undefined) ?? []) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new OAuthError("invalid_redirect_uri", problem);
  }
  const m = readMetadataFields(raw);
  const fail = (description: string): never => {
    throw new OAuthError("invalid_client_metadata", description);
  };
  for (const grant of m.grant_types) if (!GRANT_TYPES.includes(grant)) fail(`grant type not supported: ${grant}`);
  const interactive = m.grant_types.includes("authorization_code");
  const redirectUris = m.redirect_uris ?? [];
  if (interactive && redirectUris.length === 0) {
    throw new OAuthError("invalid_redirect_uri", "redirect_uris must be a non-empty array for the authorization_code grant");
  }
  const responseTypes = m.response_types ?? (interactive ? ["code"] : []);
  if (responseTypes.some((t) => t !== "code")) fail("only response type code is supported");
  if (interactive !== responseTypes.includes("code")) fail("response_types code goes with grant_types authorization_code");
  if (m.grant_types.includes("refresh_token") && !interactive) fail("refresh_token needs the authorization_code grant");
  if (m.grant_types.includes("client_credentials") && m.token_endpoint_auth_method === "none") {
    fail("client_credentials is only for confidential clients");
  }

  if (m.jwks !== undefined && m.jwks_uri !== undefined) fail("jwks and jwks_uri must not both be sent");
  if (m.token_endpoint_auth_method === "private_key_jwt") {
    if (m.jwks === undefined && m.jwks_uri === undefined) fail("private_key_jwt needs jwks or jwks_uri");
  } else if (m.jwks !== undefined || m.jwks_uri !== undefined) {
    fail(`jwks and jwks_uri are only used with private_key_jwt, not ${m.token_endpoint_auth_method}`);
  }
  if (m.jwks?.keys.some((k) => PRIVATE_JWK_MEMBERS.some((member) => Object.hasOwn(k, member)))) fail("jwks must hold public keys only");

  // Each URI parses: redirectUriProblem refused any that does not.
  const urls = redirectUris.map((uri) => new URL(uri));
  const applicationType = m.application_type ?? (urls.length > 0 && urls.every(isNativeRedirect) ? "native" : "web");
  if (applicationType === "web" && urls.some((url) => url.protocol !== "https:" || isLoopbackHost(url))) {
    throw new OAuthError("invalid_redirect_uri", "web clients use https redirect URIs on a non-loopback host; register as native");
  }
  if (m.scope !== undefined) {
    for (const scope of m.scope.split(" ")) {
      if (!Object.hasOwn(scopes, scope) && scope !== "offline_access") fail(`unknown scope: ${scope}`);
    }
  }
  // Built member by member: an object rest that leaves keys out took V8's slow path and cost
  // more than all the checks above.
  const metadata: Record<string, unknown> = {};
  for (const name of PLAIN_MEMBERS) if (name in m) metadata[name] = m[name];
  metadata.redirect_uris = redirectUris;
  metadata.response_types = responseTypes;
  metadata.application_type = applicationType;
  if (m.jwks) metadata.jwks = m.jwks;
  if (m.jwks_uri) metadata.jwks_uri = m.jwks_uri;
  return metadata as Omit<ClientMetadata, "client_id">;
}

/**
 * Whether the server may send a client's users straight to its redirect URIs: a configured client,
 * or one registered with an initial access token. A client anyone could create (open
 * registration, a metadata document) is not, and errors for it go through a page
 * (`untrustedClientErrors`, OAuth 2.1 §7.12.2).
 */
export function isTrustedClient(client: StoredClient): boolean {
  return client.source === "configuration" || client.vetted === true;
}

/**
 * The authorization server's clients: those configured up front (`clients`), those registered
 * dynamically (RFC 7591, managed per RFC 7592), and those identified by a client ID metadata
 * document URL (fetched and cached).
 *
 * @internal Used by the server's handlers; not part of the public API.
 */
export interface ClientRegistry {
  /**
   * Whether this id is a client configured up front (`clients`), whose metadata the operator wrote.
   *
   * @param clientId The client id.
   */
  isConfigured(clientId: string): boolean;
  /**
   * Finds a client by id: a configured one, a metadata document client (fetched, or from the
   * cache while fresh), or a registered one from storage.
   *
   * @param clientId The client id (ids over 2048 characters are never found).
   * @returns The client, or `undefined` when there is none.
   * @throws When a metadata document cannot be fetched or is invalid (an error the caller maps
   *   to `invalid_client`), or when the storage throws.
   *
   * @example
   * ```ts
   * const client = await registry.find(params.client_id);
   * if (!client) throw new OAuthError("invalid_client", "unknown client");
   * ```
   */
  find(clientId: string): Promise<StoredClient | undefined>;
  /**
   * Registers a client (RFC 7591 §3.2.1). Until its first grant, the record expires after
   * `unusedTtlSeconds`, so abandoned registrations do not pile up.
   *
   * @param validated Metadata from {@link validateClientMetadata}, after the registration policy.
   * @param managementUri The RFC 7592 client configuration endpoint for a client id.
   * @param unusedTtlSeconds How long the record lives before its first grant.
   * @param machineClient Whether the registration policy approved machine grants for it.
   * @param vetted Whether the registration presented an initial access token (see
   *   {@link isTrustedClient}).
   * @returns The response body: the metadata with the new `client_id`, the secret (if any) and
   *   the registration access token (RFC 7592), each shown this once.
   */
  register(
    validated: Omit<ClientMetadata, "client_id">,
    managementUri: (clientId: string) => string,
    unusedTtlSeconds: number,
    machineClient?: boolean,
    vetted?: boolean,
  ): Promise<Record<string, unknown>>;
  /**
   * Finds a registered client by its RFC 7592 registration access token.
   *
   * @param clientId The client id from the configuration endpoint's path.
   * @param token The registration access token presented (compared in constant time).
   * @returns The client, or `undefined` when the id or token does not match.
   */
  findByRegistrationToken(clientId: string, token: string): Promise<StoredClient | undefined>;
  /**
   * Replaces a registered client's metadata (RFC 7592 §2.2); the id, secret and token stay.
   *
   * @param stored The client, as found by {@link ClientRegistry.findByRegistrationToken}.
   * @param validated The new metadata, validated and approved by the registration policy.
   * @param unusedTtlSeconds How long a not yet used record keeps living.
   * @param machineClient Whether the new metadata is operator-approved for machine grants.
   * @returns The client's new metadata.
   * @throws {OAuthError} `invalid_client_metadata` when the update would switch between a
   *   secret and no secret.
   */
  update(stored: StoredClient, validated: Omit<ClientMetadata, "client_id">, unusedTtlSeconds: number, machineClient?: boolean): Promise<ClientMetadata>;
  /**
   * Forgets a registered client (RFC 7592 §2.3).
   *
   * @param clientId The client id.
   */
  remove(clientId: string): Promise<void>;
  /**
   * Stores a client registered by another authorization server under its own id, so the
   * credentials its software already holds keep working. It gets no registration access token
   * (RFC 7592 management is refused) and is kept for good, or until `ttlSeconds` when its secret
   * expires then.
   *
   * @param metadata Validated metadata with the client's existing id.
   * @param secret The client's secret, stored only as its SHA-256.
   * @param ttlSeconds When the record ends (the secret's expiry), or `undefined` for never.
   * @returns `false` when a client with this id exists already (it is left unchanged).
   */
  importClient(metadata: ClientMetadata, secret: string | undefined, ttlSeconds: number | undefined): Promise<boolean>;
  /**
   * Keeps a registered client for good once it has been used for a grant (clears the expiry of
   * an unused registration).
   *
   * @param clientId The client id.
   */
  markUsed(clientId: string): Promise<void>;
}

/**
 * A registered client's id: when it was made (milliseconds since the epoch as nine base-36 digits,
 * so ids sort in the order they were made until the year 5138), then 128 random bits. A client id
 * is no secret (RFC 6749 §2.2) and its time is the response's `client_id_issued_at` already; the
 * random part keeps ids unguessable. In that order, a new client's row lands at the end of a
 * store's key index, one page a whole group commit shares on SQLite and PostgreSQL, where a random
 * id put every registration on a random page of it (a page written to the log each).
 */
export function newClientId(now: number): string {
  return `${Math.max(0, Math.trunc(now)).toString(36).padStart(9, "0")}${randomToken(16)}`;
}

/**
 * Finds clients, configured or registered, and registers new ones.
 *
 * @param storage Where registered clients and cached metadata documents live.
 * @param configured The clients configured up front; validated here (a `TypeError` if invalid).
 * @param scopes The scopes the server offers, by name.
 * @param now The clock, in epoch milliseconds.
 * @param documents The metadata document policy (turned off with `enabled: false`).
 */
export function createClientRegistry(
  storage: Storage,
  configured: StaticClient[],
  scopes: Record<string, string>,
  now: () => number,
  documents: MetadataDocumentPolicy,
): ClientRegistry {
  const inFlight = new Map<string, Promise<StoredClient>>();
  /** A metadata document client: from the cache while fresh, else fetched once however many ask. */
  const fromDocument = async (clientId: string): Promise<StoredClient> => {
    const cached = await storage.get<StoredClient>(keys.clientMetadataDocument(clientId));
    if (cached) return cached;
    let pending = inFlight.get(clientId);
    if (!pending) {
      pending = (async () => {
        const { metadata, ttlSeconds } = await fetchClientMetadataDocument(clientId, documents);
        const stored: StoredClient = { metadata, source: "metadata_document" };
        // Only valid documents are cached; failures are fetched afresh next time (CIMD §4.4).
        await storage.set(keys.clientMetadataDocument(clientId), stored, { ttlSeconds });
        return stored;
      })().finally(() => inFlight.delete(clientId));
      inFlight.set(clientId, pending);
    }
    return pending;
  };

  const statics = new Map<string, Promise<StoredClient>>();
  for (const c of configured) {
    const { client_secret, ...rest } = c;
    // Validated now, so misconfiguration is a TypeError at creation rather than an error page later.
    let metadata: ClientMetadata;
    try {
      metadata = {
        ...validateClientMetadata(
          { token_endpoint_auth_method: client_secret ? "client_secret_basic" : "none", grant_types: ["authorization_code", "refresh_token"], ...rest },
          scopes,
        ),
        client_id: c.client_id,
      };
    } catch (error) {
      if (error instanceof OAuthError) throw new TypeError(`Portcullis: client ${c.client_id}: ${error.description ?? error.code}`);
      throw error;
    }
    if (client_secret && metadata.token_endpoint_auth_method === "none") {
      throw new TypeError(`Portcullis: client ${c.client_id} has a secret but token_endpoint_auth_method none`);
    }
    if (!client_secret && metadata.token_endpoint_auth_method !== "none" && metadata.token_endpoint_auth_method !== "private_key_jwt") {
      throw new TypeError(`Portcullis: client ${c.client_id} needs a client_secret for ${metadata.token_endpoint_auth_method}`);
    }
    const source = "configuration" as const;
    statics.set(
      c.client_id,
      client_secret ? sha256(client_secret).then((secretHash) => ({ metadata, secretHash, source })) : Promise.resolve({ metadata, source }),
    );
  }

  return {
    isConfigured: (clientId: string): boolean => statics.has(clientId),

    async find(clientId: string): Promise<StoredClient | undefined> {
      if (clientId.length > 2048) return undefined;
      const configuredClient = statics.get(clientId);
      if (configuredClient) return configuredClient;
      // A configured https:// id is looked up above and never fetched (CIMD §6); generated ids never start with https://.
      if (documents.enabled !== false && isMetadataDocumentClientId(clientId, documents)) return fromDocument(clientId);
      return storage.get<StoredClient>(keys.client(clientId));
    },

    async register(
      validated: Omit<ClientMetadata, "client_id">,
      managementUri: (clientId: string) => string,
      unusedTtlSeconds: number,
      machineClient = false,
      vetted = false,
    ): Promise<Record<string, unknown>> {
      const clientId = newClientId(now());
      const metadata: ClientMetadata = { ...validated, client_id: clientId, client_id_issued_at: Math.floor(now() / 1000) };
      const secret = hasSecret(metadata) ? randomToken(32) : undefined;
      if (secret) metadata.client_secret_expires_at = 0;
      const registrationToken = randomToken(32);
      const stored: StoredClient = {
        metadata,
        ...(secret ? { secretHash: await sha256(secret) } : {}),
        registrationTokenHash: await sha256(registrationToken),
        unused: true,
        ...(machineClient ? { machineClient: true as const } : {}),
        ...(vetted ? { vetted: true as const } : {}),
      };
      await storage.set(keys.client(clientId), stored, { ttlSeconds: unusedTtlSeconds });
      return {
        ...metadata,
        ...(secret ? { client_secret: secret } : {}),
        registration_access_token: registrationToken,
        registration_client_uri: managementUri(clientId),
      };
    },

    async findByRegistrationToken(clientId: string, token: string): Promise<StoredClient | undefined> {
      const stored = clientId.length <= 64 ? await storage.get<StoredClient>(keys.client(clientId)) : undefined;
      const presented = await sha256(token);
      return stored?.registrationTokenHash && timingSafeEqual(presented, stored.registrationTokenHash) ? stored : undefined;
    },

    async update(stored: StoredClient, validated: Omit<ClientMetadata, "client_id">, unusedTtlSeconds: number, machineClient = false): Promise<ClientMetadata> {
      if (hasSecret(validated as ClientMetadata) !== Boolean(stored.secretHash)) {
        throw new OAuthError("invalid_client_metadata", "token_endpoint_auth_method cannot change between secret and no secret");
      }
      const metadata: ClientMetadata = {
        ...validated,
        client_id: stored.metadata.client_id,
        ...(stored.metadata.client_id_issued_at !== undefined ? { client_id_issued_at: stored.metadata.client_id_issued_at } : {}),
        ...(stored.secretHash ? { client_secret_expires_at: 0 } : {}),
      };
      const { machineClient: _approved, ...kept } = stored;
      const next: StoredClient = { ...kept, metadata, ...(machineClient ? { machineClient: true as const } : {}) };
      await storage.set(keys.client(metadata.client_id), next, stored.unused ? { ttlSeconds: unusedTtlSeconds } : undefined);
      return metadata;
    },

    async remove(clientId: string): Promise<void> {
      await storage.delete(keys.client(clientId));
    },

    async importClient(metadata: ClientMetadata, secret: string | undefined, ttlSeconds: number | undefined): Promise<boolean> {
      const stored: StoredClient = { metadata, ...(secret ? { secretHash: await sha256(secret) } : {}) };
      return storage.setIfAbsent(keys.client(metadata.client_id), stored, ttlSeconds === undefined ? undefined : { ttlSeconds });
    },

    async markUsed(clientId: string): Promise<void> {
      const stored = await storage.get<StoredClient>(keys.client(clientId));
      if (!stored?.unused) return;
      const { unused: _unused, ...kept } = stored;
      await storage.set(keys.client(clientId), kept);
    },
  };
}

/** Whether a client authenticates with a shared secret. */
function hasSecret(metadata: Pick<ClientMetadata, "token_endpoint_auth_method">): boolean {
  return metadata.token_endpoint_auth_method === "client_secret_basic" || metadata.token_endpoint_auth_method === "client_secret_post";
}
