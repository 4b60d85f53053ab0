/** The RFC error codes Portcullis answers with (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 7591 §3.2.2; RFC 8707 §2; RFC 7009 §2.2.1). */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "unsupported_token_type"
  | "invalid_scope"
  | "invalid_target"
  | "invalid_token"
  | "insufficient_scope"
  | "invalid_client_metadata"
  | "invalid_redirect_uri"
  | "access_denied"
  | "login_required"
  | "interaction_required"
  | "consent_required"
  | "temporarily_unavailable"
  | "server_error";

const STATUS: Partial<Record<OAuthErrorCode, number>> = {
  invalid_client: 401,
  invalid_token: 401,
  insufficient_scope: 403,
  access_denied: 403,
  temporarily_unavailable: 503,
  server_error: 500,
};

/** Characters allowed in `error_description` (RFC 6749 §5.2: %x20-21 / %x23-5B / %x5D-7E). */
function sanitizeDescription(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, "?").slice(0, 512);
}

/**
 * A protocol failure with an RFC error code. `reason` is the precise internal cause, reported to
 * `onError`/`onEvent` but never sent to the client, so the wire does not reveal whether a client
 * or token exists.
 */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly description: string | undefined;
  readonly status: number;
  readonly reason: string | undefined;
  readonly headers: Record<string, string>;

  constructor(
    code: OAuthErrorCode,
    description?: string,
    options: { status?: number; reason?: string; headers?: Record<string, string> } = {},
  ) {
    super(description ? `${code}: ${description}` : code);
    this.name = "OAuthError";
    this.code = code;
    this.description = description === undefined ? undefined : sanitizeDescription(description);
    this.status = options.status ?? (Object.hasOwn(STATUS, code) ? STATUS[code] : undefined) ?? 400;
    this.reason = options.reason;
    this.headers = options.headers ?? {};
  }

  /** The JSON body of RFC 6749 §5.2. */
  toJSON(): { error: OAuthErrorCode; error_description?: string } {
    return this.description === undefined
      ? { error: this.code }
      : { error: this.code, error_description: this.description };
  }

  /** Renders the error as a JSON response with `Cache-Control: no-store`. */
  toResponse(init: { headers?: HeadersInit } = {}): Response {
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(this.headers)) headers.set(name, value);
    headers.set("Content-Type", "application/json");
    headers.set("Cache-Control", "no-store");
    return new Response(JSON.stringify(this.toJSON()), { status: this.status, headers });
  }
}

/** Whether a value is an {@link OAuthError} (also across bundled copies of this package). */
export function isOAuthError(value: unknown): value is OAuthError {
  return value instanceof OAuthError || (value instanceof Error && value.name === "OAuthError" && "code" in value);
}
