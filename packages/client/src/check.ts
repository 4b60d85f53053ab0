import { parseBearerChallenge, type BearerChallenge } from "./challenge.js";
import { authorizationServerMetadataUrls, MCP_PROTOCOL_VERSION, probeResource, resourceMatches, resourceMetadataUrls } from "./discovery.js";
import { PortcullisClientError } from "./errors.js";
import { isLinkLocal, isLoopback } from "./url-policy.js";

export type CheckStatus = "pass" | "warn" | "fail";

/** One finding of {@link runChecks}. */
export interface Check {
  id: CheckId;
  status: CheckStatus;
  message: string;
  /** The spec section the finding is judged against. */
  spec: string;
}

/** What `portcullis check --json` prints. */
export interface CheckReport {
  url: string;
  checks: Check[];
}

/** The checks, in the order they are reported. */
export const CHECK_IDS = [
  "www-authenticate",
  "protected-resource-metadata",
  "authorization-server-metadata",
  "issuer",
  "pkce-s256",
  "client-registration-support",
  "iss-parameter",
  "dynamic-registration",
  "token-error",
  "redirect-uri",
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

const SPEC: Record<CheckId, string> = {
  "www-authenticate": "MCP 2025-11-25 Authorization §Protected Resource Metadata Discovery Requirements; RFC 9728 §5.1; RFC 6750 §3",
  "protected-resource-metadata": "RFC 9728 §2, §3.3; MCP 2025-11-25 Authorization §Authorization Server Location",
  "authorization-server-metadata": "RFC 8414 §2, §3; MCP 2025-11-25 Authorization §Authorization Server Metadata Discovery",
  issuer: "RFC 8414 §3.3",
  "pkce-s256": "MCP 2025-11-25 Authorization §Authorization Code Protection; RFC 8414 §2",
  "client-registration-support": "MCP 2025-11-25 Authorization §Client Registration Approaches",
  "iss-parameter": "RFC 9207 §2.4, §3",
  "dynamic-registration": "RFC 7591 §3.2; RFC 7592 §2.3",
  "token-error": "RFC 6749 §5.2; OAuth 2.1 §3.2.4",
  "redirect-uri": "OAuth 2.1 §4.1.2.1; RFC 6749 §4.1.2.1",
};

/** The unregistered redirect URI `redirect-uri` offers; `.invalid` never resolves (RFC 6761). */
const UNREGISTERED_REDIRECT = "https://portcullis-check.invalid/callback";
const CHECK_REDIRECT = "http://127.0.0.1/callback";
const TIMEOUT_MS = 10_000;

/** Raised when the URL cannot be checked at all (unreachable, or not an OAuth-protected endpoint): exit 2. */
export class CheckAbortedError extends PortcullisClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("unreachable", message, options);
    this.name = "CheckAbortedError";
  }
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** An absolute http(s) URL the checker may fetch: never link-local or cloud metadata addresses. */
function safeUrl(value: unknown): URL | undefined {
  if (typeof value !== "string") return undefined;
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && !isLinkLocal(url) ? url : undefined;
  } catch {
    return undefined;
  }
}

/** https, or http on loopback: what MCP requires of authorization endpoints. */
const isSecure = (url: URL) => url.protocol === "https:" || isLoopback(url);

/**
 * Probes an MCP server as a client would, without signing in, and judges each step against the
 * specs: FAIL only for a MUST violation, WARN for a SHOULD or for a check an earlier failure kept
 * from running. Throws {@link CheckAbortedError} when the URL is unreachable or an unauthenticated
 * POST gets neither 401/403 nor 2xx.
 */
export async function runChecks(mcpUrlInput: string, options: { fetch?: typeof fetch } = {}): Promise<CheckReport> {
  const fetchFn = options.fetch ?? fetch;
  const results = new Map<CheckId, Check>();
  // One line per check, whatever a server put in the strings it sent back.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
  const oneLine = (message: string) => message.replace(/[\s\u0000-\u001f\u007f]+/g, " ").slice(0, 500);
  const set = (id: CheckId, status: CheckStatus, message: string) => results.set(id, { id, status, message: oneLine(message), spec: SPEC[id] });
  const skip = (id: CheckId, why: string) => set(id, "warn", `skipped: ${why}`);

  let mcpUrl: URL;
  try {
    mcpUrl = new URL(mcpUrlInput);
    if (mcpUrl.protocol !== "https:" && mcpUrl.protocol !== "http:") throw new TypeError("not http(s)");
  } catch {
    throw new CheckAbortedError(`not an http(s) URL: ${mcpUrlInput}`);
  }

  const get = async (url: URL, headers: Record<string, string> = {}) => {
    try {
      return await fetchFn(url, {
        headers: { Accept: "application/json", "MCP-Protocol-Version": MCP_PROTOCOL_VERSION, ...headers },
        redirect: "manual",
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch {
      return undefined;
    }
  };
  const readJson = async (response: Response) => {
    try {
      return (await response.json()) as unknown;
    } catch {
      return undefined;
    }
  };

  // 1. www-authenticate ------------------------------------------------------------------------
  let probe: Response;
  try {
    probe = await probeResource(mcpUrl, fetchFn);
  } catch (cause) {
    throw new CheckAbortedError(
      `${mcpUrl.href} is unreachable: ${cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : String(cause)}`,
      { cause },
    );
  }
  await probe.body?.cancel().catch(() => undefined);
  const status = probe.status;
  if (status !== 401 && status !== 403 && (status < 200 || status > 299)) {
    throw new CheckAbortedError(`an unauthenticated POST to ${mcpUrl.href} answered ${status}: not an OAuth-protected MCP endpoint`);
  }
  const rawChallenge = probe.headers.get("www-authenticate");
  const challenge: BearerChallenge | undefined = status === 401 || status === 403 ? parseBearerChallenge(rawChallenge) : undefined;
  let headerMetadataUrl: URL | undefined;
  let wwwVerdict: { status: CheckStatus; message: string } | undefined;
  if (status >= 200 && status < 300) {
    wwwVerdict = { status: "fail", message: `an unauthenticated POST answered ${status}: the endpoint is not protected` };
  } else if (status === 403) {
    wwwVerdict = { status: "fail", message: "an unauthenticated POST answered 403: a request without a token must get 401 with a Bearer challenge" };
  } else if (!challenge) {
    wwwVerdict = {
      status: "fail",
      message: rawChallenge ? `401 without a Bearer challenge (WWW-Authenticate: ${rawChallenge.slice(0, 120)})` : "401 without a WWW-Authenticate header",
    };
  } else if (challenge.resourceMetadata !== undefined) {
    headerMetadataUrl = safeUrl(challenge.resourceMetadata);
    wwwVerdict = headerMetadataUrl
      ? { status: "pass", message: `401 with resource_metadata="${challenge.resourceMetadata}"` }
      : { status: "fail", message: `resource_metadata is not an absolute http(s) URL a client may fetch: ${JSON.stringify(challenge.resourceMetadata)}` };
  }
  // Without resource_metadata in the challenge, the verdict waits for the well-known fallback.

  // 2. protected-resource-metadata -------------------------------------------------------------
  let prm: Json | undefined;
  let prmUrl: URL | undefined;
  let prmFailure: string | undefined;
  const prmCandidates = headerMetadataUrl ? [headerMetadataUrl] : challenge?.resourceMetadata !== undefined ? [] : resourceMetadataUrls(mcpUrl);
  const tried: string[] = [];
  for (const url of prmCandidates) {
    const response = await get(url);
    tried.push(`${url.href} → ${response ? response.status : "no response"}`);
    if (!response || !response.ok) {
      await response?.body?.cancel().catch(() => undefined);
      continue;
    }
    const json = await readJson(response);
    prmUrl = url;
    if (!isObject(json)) {
      prmFailure = `${url.href} is not a JSON object`;
      break;
    }
    prm = json;
    break;
  }
  if (!wwwVerdict) {
    wwwVerdict = prm
      ? { status: "pass", message: `401 with a Bearer challenge without resource_metadata; the metadata is at the well-known ${prmUrl!.href}` }
      : { status: "fail", message: "401 without resource_metadata, and no protected resource metadata at the well-known URLs" };
  }
  set("www-authenticate", wwwVerdict.status, wwwVerdict.message);

  let issuer: string | undefined;
  if (!prm && !prmFailure && prmCandidates.length === 0) {
    skip("protected-resource-metadata", "no usable resource_metadata URL");
  } else if (!prm) {
    set("protected-resource-metadata", "fail", prmFailure ?? `no protected resource metadata (${tried.join("; ")})`);
  } else {
    const servers = prm.authorization_servers;
    const match = typeof prm.resource === "string" ? resourceMatches(prm.resource, mcpUrl) : false;
    if (typeof prm.resource !== "string") {
      set("protected-resource-metadata", "fail", `${prmUrl!.href} has no "resource"`);
    } else if (!match) {
      set("protected-resource-metadata", "fail", `resource "${prm.resource}" does not identify ${mcpUrl.href}: a client must not use this metadata`);
    } else if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => typeof s === "string")) {
      set("protected-resource-metadata", "fail", `${prmUrl!.href} names no authorization_servers`);
    } else if (!servers.every((s) => safeUrl(s) && isSecure(safeUrl(s)!))) {
      set("protected-resource-metadata", "fail", `authorization_servers has an entry that is not an https URL: ${JSON.stringify(servers)}`);
    } else {
      issuer = servers[0] as string;
      if (match === "prefix") {
        set(
          "protected-resource-metadata",
          "warn",
          `resource "${prm.resource}" is a prefix of ${mcpUrl.href}, not identical to it; authorization_servers ${JSON.stringify(servers)}`,
        );
      } else {
        set("protected-resource-metadata", "pass", `resource "${prm.resource}", authorization_servers ${JSON.stringify(servers)} (${prmUrl!.href})`);
      }
    }
  }

  // 3. authorization-server-metadata, issuer ---------------------------------------------------
  let as: Json | undefined;
  if (!issuer) {
    skip("authorization-server-metadata", "no authorization server from the protected resource metadata");
  } else {
    const issuerUrl = safeUrl(issuer)!;
    const attempts: string[] = [];
    let metadataUrl: URL | undefined;
    for (const url of authorizationServerMetadataUrls(issuerUrl)) {
      const response = await get(url);
      attempts.push(`${url.pathname} → ${response ? response.status : "no response"}`);
      if (!response || !response.ok) {
        await response?.body?.cancel().catch(() => undefined);
        continue;
      }
      const json = await readJson(response);
      if (isObject(json)) {
        as = json;
        metadataUrl = url;
        break;
      }
      attempts[attempts.length - 1] += " (not a JSON object)";
    }
    if (!as) {
      set("authorization-server-metadata", "fail", `no metadata for ${issuer} (${attempts.join("; ")})`);
    } else {
      const problems: string[] = [];
      for (const field of ["authorization_endpoint", "token_endpoint"] as const) {
        const url = safeUrl(as[field]);
        if (!url) problems.push(`${field} is missing or not a URL`);
        else if (!isSecure(url)) problems.push(`${field} is not https`);
      }
      if (typeof as.issuer !== "string") problems.push("issuer is missing");
      if (!Array.isArray(as.response_types_supported)) problems.push("response_types_supported is missing");
      else if (!as.response_types_supported.includes("code")) problems.push('response_types_supported lacks "code"');
      if (problems.length) set("authorization-server-metadata", "fail", `${metadataUrl!.href}: ${problems.join("; ")}`);
      else set("authorization-server-metadata", "pass", `${metadataUrl!.href}`);
    }
  }
  if (!as || !issuer) skip("issuer", "no authorization server metadata");
  else if (as.issuer === issuer) set("issuer", "pass", `issuer "${issuer}" equals the authorization server named by the resource`);
  else set("issuer", "fail", `metadata issuer ${JSON.stringify(as.issuer)} is not "${issuer}" (compared as strings)`);

  // 4. Capabilities ----------------------------------------------------------------------------
  if (!as) {
    for (const id of ["pkce-s256", "client-registration-support", "iss-parameter", "dynamic-registration", "token-error", "redirect-uri"] as const)
      skip(id, "no authorization server metadata");
    return { url: mcpUrlInput, checks: CHECK_IDS.map((id) => results.get(id)!) };
  }
  const methods = as.code_challenge_methods_supported;
  if (!Array.isArray(methods)) set("pkce-s256", "fail", "code_challenge_methods_supported is absent: MCP clients must refuse to proceed");
  else if (!methods.includes("S256")) set("pkce-s256", "fail", `code_challenge_methods_supported ${JSON.stringify(methods)} lacks "S256"`);
  else set("pkce-s256", "pass", `code_challenge_methods_supported ${JSON.stringify(methods)}`);

  const registrationUrl = safeUrl(as.registration_endpoint);
  const cimd = as.client_id_metadata_document_supported === true;
  if (registrationUrl || cimd) {
    set(
      "client-registration-support",
      "pass",
      [registrationUrl ? `registration_endpoint ${registrationUrl.href}` : "", cimd ? "client ID metadata documents" : ""].filter(Boolean).join(" and "),
    );
  } else {
    set(
      "client-registration-support",
      "warn",
      "neither registration_endpoint nor client_id_metadata_document_supported: only pre-registered clients can sign in",
    );
  }

  if (as.authorization_response_iss_parameter_supported === true) set("iss-parameter", "pass", "authorization_response_iss_parameter_supported is true");
  else set("iss-parameter", "warn", "authorization_response_iss_parameter_supported is not true: clients cannot detect mix-up attacks (RFC 9207)");

  // 5. dynamic-registration (a throwaway client, used by the next two checks) -------------------
  let client: { client_id: string; client_secret?: string; method: string } | undefined;
  let cleanup: (() => Promise<string>) | undefined;
  let registrationVerdict: { status: CheckStatus; message: string };
  if (!registrationUrl) {
    registrationVerdict = { status: "warn", message: "skipped: no registration_endpoint" };
  } else if (!isSecure(registrationUrl)) {
    registrationVerdict = { status: "fail", message: `registration_endpoint ${registrationUrl.href} is not https` };
  } else {
    const body = {
      client_name: "portcullis check (throwaway)",
      redirect_uris: [CHECK_REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
    let response: Response | undefined;
    try {
      response = await fetchFn(registrationUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        redirect: "manual",
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch {
      response = undefined;
    }
    const json = response ? await readJson(response) : undefined;
    if (!response) {
      registrationVerdict = { status: "fail", message: `no response from ${registrationUrl.href}` };
    } else if (response.ok) {
      if (!isObject(json) || typeof json.client_id !== "string" || !json.client_id) {
        registrationVerdict = { status: "fail", message: `${response.status} without a client_id` };
      } else {
        const secret = typeof json.client_secret === "string" ? json.client_secret : undefined;
        const method = typeof json.token_endpoint_auth_method === "string" ? json.token_endpoint_auth_method : secret ? "client_secret_basic" : "none";
        client = { client_id: json.client_id, ...(secret ? { client_secret: secret } : {}), method };
        registrationVerdict =
          response.status === 201
            ? { status: "pass", message: `201, client_id ${json.client_id}` }
            : { status: "warn", message: `answered ${response.status} (RFC 7591 says 201 Created), client_id ${json.client_id}` };
        const manageUrl = safeUrl(json.registration_client_uri);
        const manageToken = typeof json.registration_access_token === "string" ? json.registration_access_token : undefined;
        if (manageUrl && manageToken) {
          cleanup = async () => {
            try {
              const deleted = await fetchFn(manageUrl, {
                method: "DELETE",
                headers: { Authorization: `Bearer ${manageToken}` },
                redirect: "manual",
                signal: AbortSignal.timeout(TIMEOUT_MS),
              });
              await deleted.body?.cancel().catch(() => undefined);
              return deleted.status === 204 ? "deleted (RFC 7592)" : `delete answered ${deleted.status}, not 204`;
            } catch {
              return "delete got no response";
            }
          };
        }
      }
    } else if (response.status >= 500) {
      registrationVerdict = { status: "fail", message: `answered ${response.status}` };
    } else if (!isObject(json) || typeof json.error !== "string") {
      registrationVerdict = { status: "fail", message: `answered ${response.status} without an error JSON object` };
    } else if (response.status === 401 || response.status === 403) {
      registrationVerdict = { status: "warn", message: `answered ${response.status} ${json.error}: registration needs an initial access token` };
    } else {
      registrationVerdict = {
        status: "warn",
        message: `refused a loopback public client: ${response.status} ${json.error}${typeof json.error_description === "string" ? ` (${json.error_description})` : ""}`,
      };
    }
  }

  // 6. token-error -------------------------------------------------------------------------------
  const tokenUrl = safeUrl(as.token_endpoint);
  if (!tokenUrl) {
    skip("token-error", "no token_endpoint");
  } else {
    const form = new URLSearchParams({
      grant_type: "authorization_code",
      code: `portcullis-check-${crypto.randomUUID()}`,
      redirect_uri: CHECK_REDIRECT,
      code_verifier: `${crypto.randomUUID()}${crypto.randomUUID()}`.replace(/-/g, ""),
      resource: prm && typeof prm.resource === "string" ? prm.resource : mcpUrl.href,
    });
    const headers: Record<string, string> = { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" };
    const clientId = client?.client_id ?? "portcullis-check-unregistered-client";
    if (client?.client_secret && client.method === "client_secret_basic") {
      headers.Authorization = `Basic ${btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(client.client_secret)}`)}`;
    } else {
      form.set("client_id", clientId);
      if (client?.client_secret) form.set("client_secret", client.client_secret);
    }
    let response: Response | undefined;
    try {
      response = await fetchFn(tokenUrl, { method: "POST", headers, body: form, redirect: "manual", signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch {
      response = undefined;
    }
    if (!response) {
      set("token-error", "fail", `no response from ${tokenUrl.href}`);
    } else {
      const json = await readJson(response);
      const error = isObject(json) && typeof json.error === "string" ? json.error : undefined;
      const noStore = /(^|,)\s*no-store\s*(,|$)/i.test(response.headers.get("cache-control") ?? "");
      const accepted = client ? ["invalid_grant"] : ["invalid_grant", "invalid_client"];
      const statusOk = response.status === 400 || (error === "invalid_client" && !client && response.status === 401);
      if (response.ok) set("token-error", "fail", `a bogus code got ${response.status}: it must be refused`);
      else if (!error) set("token-error", "fail", `a bogus code got ${response.status} without an error JSON object`);
      else if (!statusOk) set("token-error", "fail", `a bogus code got ${response.status} ${error}: expected 400 invalid_grant`);
      else if (!accepted.includes(error)) set("token-error", "fail", `a bogus code got 400 ${error}: expected invalid_grant`);
      else if (!noStore) set("token-error", "warn", `400 ${error}, but without Cache-Control: no-store`);
      else
        set(
          "token-error",
          "pass",
          `a bogus code got ${response.status} ${error} with Cache-Control: no-store${client ? "" : " (no registered client to try it with)"}`,
        );
    }
  }

  // 7. redirect-uri ------------------------------------------------------------------------------
  const authorizeUrl = safeUrl(as.authorization_endpoint);
  if (!authorizeUrl) {
    skip("redirect-uri", "no authorization_endpoint");
  } else {
    const url = new URL(authorizeUrl);
    const params = url.searchParams;
    params.set("response_type", "code");
    params.set("client_id", client?.client_id ?? "portcullis-check-unregistered-client");
    params.set("redirect_uri", UNREGISTERED_REDIRECT);
    params.set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    params.set("code_challenge_method", "S256");
    params.set("state", "portcullis-check");
    params.set("resource", prm && typeof prm.resource === "string" ? prm.resource : mcpUrl.href);
    const response = await get(url, { Accept: "text/html,application/json" });
    await response?.body?.cancel().catch(() => undefined);
    const location = response?.headers.get("location");
    let target: URL | undefined;
    try {
      target = location ? new URL(location, url) : undefined;
    } catch {
      target = undefined;
    }
    const unregistered = new URL(UNREGISTERED_REDIRECT);
    if (!response) set("redirect-uri", "warn", `no response from ${authorizeUrl.href}`);
    else if (target && target.origin === unregistered.origin && target.pathname === unregistered.pathname) {
      set("redirect-uri", "fail", `redirected to the unregistered redirect_uri (${response.status} Location: ${target.origin}${target.pathname}…)`);
    } else if (response.status >= 500) set("redirect-uri", "warn", `not redirected, but answered ${response.status}`);
    else if (target) set("redirect-uri", "pass", `not redirected to the unregistered redirect_uri (${response.status} to ${target.origin}${target.pathname})`);
    else set("redirect-uri", "pass", `not redirected to the unregistered redirect_uri (${response.status})`);
  }

  if (cleanup) registrationVerdict = { ...registrationVerdict, message: `${registrationVerdict.message}; ${await cleanup()}` };
  set("dynamic-registration", registrationVerdict.status, registrationVerdict.message);
  return { url: mcpUrlInput, checks: CHECK_IDS.map((id) => results.get(id)!) };
}

/** One human line per check: `PASS|WARN|FAIL <id> <message> (<spec>)`. */
export function formatCheck(check: Check): string {
  return `${check.status.toUpperCase()} ${check.id} ${check.message} (${check.spec})`;
}
