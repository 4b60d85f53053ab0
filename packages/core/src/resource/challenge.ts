/** What a Bearer challenge says (RFC 6750 §3, RFC 9728 §5.1). */
export interface Challenge {
  resourceMetadata: string;
  error?: "invalid_request" | "invalid_token" | "insufficient_scope";
  description?: string;
  scopes?: string[];
}

/**
 * A response the guard made, as its status, headers and body: an adapter on Node writes it as it
 * is (`res.writeHead(status, headers).end(body)`), without building a Fetch `Response`.
 */
export interface PlainResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The guard's own plain responses (so it tells them from a `Response` or an `AuthInfo`). */
export class PlainAnswer implements PlainResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  constructor(status: number, headers: Readonly<Record<string, string>>, body: string) {
    this.status = status;
    this.headers = headers;
    this.body = body;
  }

  /** As a Fetch `Response`. */
  toResponse(): Response {
    return new Response(this.body, { status: this.status, headers: this.headers });
  }
}

/** A JSON answer with `Content-Type` and, for anything about credentials, `Cache-Control: no-store`. */
export function plainJson(status: number, body: unknown, headers: Record<string, string> = {}, noStore = false): PlainAnswer {
  const all: Record<string, string> = { ...headers, "Content-Type": "application/json" };
  if (noStore) all["Cache-Control"] = "no-store";
  return new PlainAnswer(status, all, JSON.stringify(body));
}

const quoted = (value: string) => `"${value.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, "")}"`;

/** The `WWW-Authenticate: Bearer ...` value; each attribute at most once, as a quoted string. */
export function bearerChallenge(challenge: Challenge): string {
  const parts: string[] = [];
  if (challenge.error) parts.push(`error=${quoted(challenge.error)}`);
  if (challenge.description) parts.push(`error_description=${quoted(challenge.description)}`);
  // offline_access is never asked for in a challenge (MCP 2026-07-28, Refresh Tokens).
  const scopes = (challenge.scopes ?? []).filter((s) => s !== "offline_access");
  if (scopes.length > 0) parts.push(`scope=${quoted(scopes.join(" "))}`);
  parts.push(`resource_metadata=${quoted(challenge.resourceMetadata)}`);
  return `Bearer ${parts.join(", ")}`;
}

/** The challenge as a plain answer, with `headers` (CORS) added. */
export function challengeAnswer(challenge: Challenge, headers: Record<string, string> = {}): PlainAnswer {
  const status = challenge.error === "insufficient_scope" ? 403 : challenge.error === "invalid_request" ? 400 : 401;
  const body = challenge.error
    ? { error: challenge.error, ...(challenge.description ? { error_description: challenge.description } : {}) }
    : { error: "unauthorized", error_description: "an access token is required" };
  return plainJson(status, body, { ...headers, "WWW-Authenticate": bearerChallenge(challenge) }, true);
}

/** A 401 (no or bad token), 400 (malformed request) or 403 (insufficient scope) challenge response. */
export function challengeResponse(challenge: Challenge, headers?: HeadersInit): Response {
  const answer = challengeAnswer(challenge);
  const h = new Headers(headers);
  for (const name in answer.headers) h.set(name, answer.headers[name]!);
  return new Response(answer.body, { status: answer.status, headers: h });
}
