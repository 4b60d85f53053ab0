import { OAuthError, type ReasonCode } from "../errors.js";
import type { Params } from "../http/body.js";
import { sha256, timingSafeEqual } from "../lib/crypto.js";
import { decodeStrictUTF8 } from "../lib/stream.js";
import type { ServerContext } from "../context.js";
import { assertionIssuer, JWT_BEARER, verifyClientAssertion } from "./private-key-jwt.js";
import type { ClientMetadata } from "../types.js";

/** Who authenticated, and how. */
export interface AuthenticatedClient {
  metadata: ClientMetadata;
  method: ClientMetadata["token_endpoint_auth_method"];
}

const BASIC_CHALLENGE = { "WWW-Authenticate": 'Basic realm="token", charset="UTF-8"' };

function invalidClient(reason: ReasonCode, basic: boolean): OAuthError {
  return OAuthError.because(reason, "client authentication failed", basic ? { headers: BASIC_CHALLENGE } : {});
}

/** Decodes `Authorization: Basic` credentials, form-urlencoded before base64 (OAuth 2.1 §2.4.1). */
function parseBasic(header: string): { id: string; secret: string } | undefined {
  const encoded = header.slice(6).trim();
  if (encoded.length === 0 || encoded.length > 4096 || !/^[A-Za-z0-9+/]+=*$/.test(encoded)) return undefined;
  let decoded: string;
  try {
    decoded = decodeStrictUTF8(Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  if (colon <= 0) return undefined;
  try {
    const form = (s: string) => decodeURIComponent(s.replaceAll("+", " "));
    return { id: form(decoded.slice(0, colon)), secret: form(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

/**
 * The client a request says it is, before anything is verified: for counting requests per
 * client, never for deciding anything else.
 */
export function claimedClientId(request: Request, params: Params): string | undefined {
  const header = request.headers.get("Authorization");
  if (header !== null && /^basic /i.test(header) && header.length <= 4096) return parseBasic(header)?.id;
  const assertion = params.get("client_assertion");
  return assertion !== undefined ? assertionIssuer(assertion) : params.get("client_id");
}

/**
 * Authenticates the client of a token, revocation or introspection request with exactly one
 * method: `client_secret_basic`, `client_secret_post`, `private_key_jwt`, or `none` (a public
 * client naming itself). A client must use the method it registered; errors never reveal
 * whether the client exists.
 */
export async function authenticateClient(request: Request, params: Params, ctx: ServerContext): Promise<AuthenticatedClient> {
  const header = request.headers.get("Authorization");
  // "Basic" alone (Headers trim a trailing space) is a malformed Basic header, not another scheme.
  const isBasic = header !== null && /^basic(?: |$)/i.test(header);
  if (header !== null && !isBasic) throw new OAuthError("invalid_request", "unsupported Authorization scheme");
  const bodySecret = params.get("client_secret");
  if (isBasic && (bodySecret !== undefined || params.has("client_assertion"))) {
    throw new OAuthError("invalid_request", "use exactly one client authentication method");
  }
  const assertionType = params.get("client_assertion_type");
  const assertion = params.get("client_assertion");
  if ((assertionType !== undefined || assertion !== undefined) && bodySecret !== undefined) {
    throw new OAuthError("invalid_request", "use exactly one client authentication method");
  }
  let clientId: string | undefined;
  let secret: string | undefined;
  let method: AuthenticatedClient["method"];
  if (assertionType !== undefined || assertion !== undefined) {
    if (assertionType !== JWT_BEARER || !assertion)
      throw new OAuthError("invalid_request", `client_assertion_type must be ${JWT_BEARER}, with a client_assertion`);
    const claimed = assertionIssuer(assertion);
    const bodyId = params.get("client_id");
    if (!claimed || (bodyId !== undefined && bodyId !== claimed)) throw invalidClient("assertion_issuer_mismatch", false);
    clientId = claimed;
    method = "private_key_jwt";
  } else if (isBasic) {
    const basic = parseBasic(header!);
    if (!basic) throw invalidClient("basic_malformed", true);
    const bodyId = params.get("client_id");
    if (bodyId !== undefined && bodyId !== basic.id) throw invalidClient("client_id_mismatch", true);
    ({ id: clientId, secret } = basic);
    method = "client_secret_basic";
  } else if (bodySecret !== undefined) {
    clientId = params.get("client_id");
    secret = bodySecret;
    method = "client_secret_post";
  } else {
    clientId = params.get("client_id");
    method = "none";
  }
  if (!clientId) throw invalidClient("client_id_missing", isBasic);
  // A metadata document that cannot be fetched or is invalid is an unknown client here.
  const client = await ctx.clients.find(clientId).catch((error: unknown) => {
    if (error instanceof OAuthError && error.code === "invalid_client") return undefined;
    throw error;
  });
  // Hash even when the client is unknown, so timing does not tell whether it exists.
  const presented = secret === undefined ? undefined : await sha256(secret);
  if (!client) throw invalidClient("client_unknown", isBasic);
  if (client.metadata.token_endpoint_auth_method !== method) throw invalidClient("auth_method_mismatch", isBasic);
  if (method === "private_key_jwt") {
    await verifyClientAssertion(ctx, client.metadata, assertion!);
  } else if (method !== "none" && (!client.secretHash || !presented || !timingSafeEqual(presented, client.secretHash))) {
    throw invalidClient("secret_mismatch", isBasic);
  }
  return { metadata: client.metadata, method };
}
