/**
 * A JSON response; `noStore` adds `Cache-Control: no-store` for anything that carries credentials.
 * Its headers are a plain record, not a `Headers`: @hono/node-server writes a record's fields
 * straight to the socket, where a `Headers` would first be built and then copied out again.
 */
export function jsonResponse(body: unknown, init: { status?: number; headers?: Record<string, string>; noStore?: boolean } = {}): Response {
  const headers: Record<string, string> = {};
  for (const name in init.headers) {
    // As Headers.set would, the two set below replace any spelling of theirs.
    const lower = name.toLowerCase();
    if (lower !== "content-type" && !(init.noStore && lower === "cache-control")) headers[name] = init.headers[name]!;
  }
  headers["Content-Type"] = "application/json";
  if (init.noStore) headers["Cache-Control"] = "no-store";
  return new Response(JSON.stringify(body), { status: init.status ?? 200, headers });
}

/** A redirect. 303 after a form POST so the browser never re-sends credentials (OAuth 2.1 §7.5.3). */
export function redirectResponse(location: string, status: 302 | 303 = 302, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set("Location", location);
  h.set("Cache-Control", "no-store");
  return new Response(null, { status, headers: h });
}

/** 405 with the methods the endpoint does allow. */
export function methodNotAllowedResponse(allow: string[]): Response {
  return jsonResponse(
    { error: "invalid_request", error_description: `method not allowed; use ${allow.join(" or ")}` },
    { status: 405, headers: { Allow: allow.join(", ") }, noStore: true },
  );
}

/** CORS for public, credential-less endpoints (metadata, token, register, revoke). */
export const PUBLIC_CORS_HEADERS: Readonly<Record<string, string>> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
  "Access-Control-Allow-Headers": "Authorization, Content-Type, MCP-Protocol-Version",
  "Access-Control-Expose-Headers": "WWW-Authenticate",
  "Access-Control-Max-Age": "86400",
};

/** Adds the public CORS headers to a response when the request came from a browser origin. */
export function withPublicCors(request: Request, response: Response): Response {
  if (!request.headers.has("Origin")) return response;
  const out = new Response(response.body, response);
  for (const [name, value] of Object.entries(PUBLIC_CORS_HEADERS)) out.headers.set(name, value);
  return out;
}

/** The answer to a CORS preflight on a public endpoint. */
export function publicPreflightResponse(): Response {
  return new Response(null, { status: 204, headers: PUBLIC_CORS_HEADERS });
}
