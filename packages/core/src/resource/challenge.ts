import { jsonResponse } from "../http/responses.js";

/** What a Bearer challenge says (RFC 6750 §3, RFC 9728 §5.1). */
export interface Challenge {
  resourceMetadata: string;
  error?: "invalid_request" | "invalid_token" | "insufficient_scope";
  description?: string;
  scopes?: string[];
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

/** A 401 (no or bad token), 400 (malformed request) or 403 (insufficient scope) challenge response. */
export function challengeResponse(challenge: Challenge, headers?: HeadersInit): Response {
  const status = challenge.error === "insufficient_scope" ? 403 : challenge.error === "invalid_request" ? 400 : 401;
  const h = new Headers(headers);
  h.set("WWW-Authenticate", bearerChallenge(challenge));
  const body = challenge.error
    ? { error: challenge.error, ...(challenge.description ? { error_description: challenge.description } : {}) }
    : { error: "unauthorized", error_description: "an access token is required" };
  return jsonResponse(body, { status, headers: h, noStore: true });
}
