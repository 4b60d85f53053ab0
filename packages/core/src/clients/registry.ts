import { z } from "zod";
import { OAuthError } from "../errors.js";
import { randomToken, sha256 } from "../lib/crypto.js";
import { parseURL } from "../lib/url.js";
import type { StaticClient } from "../options.js";
import type { Storage } from "../storage/types.js";
import type { ClientMetadata, StoredClient } from "../types.js";
import { redirectUriProblem } from "./redirect-uri.js";
import { fetchClientMetadataDocument, isMetadataDocumentClientId, type ClientMetadataDocumentOptions } from "./cimd.js";

const AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"] as const;
const GRANT_TYPES = ["authorization_code", "refresh_token"];

const httpsUrl = z.string().max(2000).refine((v) => parseURL(v)?.protocol === "https:", "must be an https URL");

/** RFC 7591 §2 client metadata as accepted at registration; unknown members are ignored. */
const registrationSchema = z.object({
  redirect_uris: z.array(z.string()).min(1).max(20),
  token_endpoint_auth_method: z.enum(AUTH_METHODS).default("client_secret_basic"),
  grant_types: z.array(z.string()).min(1).max(10).default(["authorization_code"]),
  response_types: z.array(z.string()).min(1).max(10).default(["code"]),
  application_type: z.enum(["web", "native"]).optional(),
  client_name: z.string().min(1).max(200).optional(),
  client_uri: httpsUrl.optional(),
  logo_uri: httpsUrl.optional(),
  scope: z.string().max(2000).optional(),
  contacts: z.array(z.string().max(320)).max(20).optional(),
  tos_uri: httpsUrl.optional(),
  policy_uri: httpsUrl.optional(),
  software_id: z.string().max(200).optional(),
  software_version: z.string().max(100).optional(),
  jwks: z.unknown().optional(),
  jwks_uri: z.unknown().optional(),
});

/**
 * Validates RFC 7591 registration metadata; throws `invalid_redirect_uri` or
 * `invalid_client_metadata` with the first problem found.
 */
export function validateClientMetadata(input: unknown, scopes: Record<string, string>): Omit<ClientMetadata, "client_id"> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new OAuthError("invalid_client_metadata", "client metadata must be a JSON object");
  }
  const raw = input as Record<string, unknown>;
  if (!Array.isArray(raw.redirect_uris) || raw.redirect_uris.length === 0 || raw.redirect_uris.some((u) => typeof u !== "string")) {
    throw new OAuthError("invalid_redirect_uri", "redirect_uris must be a non-empty array of strings");
  }
  for (const uri of raw.redirect_uris as string[]) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new OAuthError("invalid_redirect_uri", problem);
  }
  const parsed = registrationSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join(".");
    throw new OAuthError(field.startsWith("redirect_uris") ? "invalid_redirect_uri" : "invalid_client_metadata", `${field}: ${issue.message}`);
  }
  const m = parsed.data;
  if (m.jwks !== undefined || m.jwks_uri !== undefined) {
    throw new OAuthError("invalid_client_metadata", "jwks and jwks_uri are not supported for these authentication methods");
  }
  for (const grant of m.grant_types) {
    if (!GRANT_TYPES.includes(grant)) throw new OAuthError("invalid_client_metadata", `grant type not supported: ${grant}`);
  }
  if (m.response_types.some((t) => t !== "code")) throw new OAuthError("invalid_client_metadata", "only response type code is supported");
  if (!m.grant_types.includes("authorization_code")) {
    throw new OAuthError("invalid_client_metadata", "grant_types must include authorization_code");
  }
  if (m.scope !== undefined) {
    for (const scope of m.scope.split(" ")) {
      if (!(scope in scopes) && scope !== "offline_access") throw new OAuthError("invalid_client_metadata", `unknown scope: ${scope}`);
    }
  }
  const { jwks: _jwks, jwks_uri: _jwksUri, ...metadata } = m;
  return metadata;
}

/** Finds clients, configured or registered, and registers new ones. */
export function createClientRegistry(
  storage: Storage,
  configured: StaticClient[],
  scopes: Record<string, string>,
  now: () => number,
  documents: ClientMetadataDocumentOptions = {},
) {
  const inFlight = new Map<string, Promise<StoredClient>>();
  /** A metadata document client: from the cache while fresh, else fetched once however many ask. */
  const fromDocument = async (clientId: string): Promise<StoredClient> => {
    const cached = await storage.get<StoredClient>(`cimd:${clientId}`);
    if (cached) return cached;
    let pending = inFlight.get(clientId);
    if (!pending) {
      pending = (async () => {
        const { metadata, ttlSeconds } = await fetchClientMetadataDocument(clientId, documents);
        const stored: StoredClient = { metadata, source: "metadata_document" };
        // Only valid documents are cached; failures are fetched afresh next time (CIMD §4.4).
        await storage.set(`cimd:${clientId}`, stored, { ttlSeconds });
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
        ...validateClientMetadata({ token_endpoint_auth_method: client_secret ? "client_secret_basic" : "none", grant_types: GRANT_TYPES, ...rest }, scopes),
        client_id: c.client_id,
      };
    } catch (error) {
      if (error instanceof OAuthError) throw new TypeError(`Portcullis: client ${c.client_id}: ${error.description ?? error.code}`);
      throw error;
    }
    if (client_secret && metadata.token_endpoint_auth_method === "none") {
      throw new TypeError(`Portcullis: client ${c.client_id} has a secret but token_endpoint_auth_method none`);
    }
    if (!client_secret && metadata.token_endpoint_auth_method !== "none") {
      throw new TypeError(`Portcullis: client ${c.client_id} needs a client_secret for ${metadata.token_endpoint_auth_method}`);
    }
    statics.set(c.client_id, client_secret ? sha256(client_secret).then((secretHash) => ({ metadata, secretHash })) : Promise.resolve({ metadata }));
  }

  return {
    /** The client with this id, or undefined. */
    async find(clientId: string): Promise<StoredClient | undefined> {
      if (clientId.length > 2048) return undefined;
      const configuredClient = statics.get(clientId);
      if (configuredClient) return configuredClient;
      // A configured https:// id is looked up above and never fetched (CIMD §6); generated ids never start with https://.
      if (documents.enabled !== false && isMetadataDocumentClientId(clientId, documents)) return fromDocument(clientId);
      return storage.get<StoredClient>(`client:${clientId}`);
    },

    /** Registers a client (RFC 7591 §3.2.1); answers the response body, with the secret shown once. */
    async register(input: unknown): Promise<Record<string, unknown>> {
      const validated = validateClientMetadata(input, scopes);
      const clientId = randomToken(16);
      const metadata: ClientMetadata = { ...validated, client_id: clientId, client_id_issued_at: Math.floor(now() / 1000) };
      const confidential = metadata.token_endpoint_auth_method !== "none";
      const secret = confidential ? randomToken(32) : undefined;
      if (confidential) metadata.client_secret_expires_at = 0;
      const stored: StoredClient = secret ? { metadata, secretHash: await sha256(secret) } : { metadata };
      await storage.set(`client:${clientId}`, stored);
      return secret ? { ...metadata, client_secret: secret } : { ...metadata };
    },
  };
}

export type ClientRegistry = ReturnType<typeof createClientRegistry>;
