/** The value of the request's cookie `name`, or undefined. */
export function readCookie(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get("Cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * A `Set-Cookie` value for a browser-binding cookie: `HttpOnly`, `SameSite=Lax` (a top-level
 * redirect back from another site carries it), `Path=/`, and `Secure` with the `__Host-` name
 * prefix whenever the issuer is https. `maxAge` 0 deletes it.
 */
export function bindingCookie(name: string, value: string, secure: boolean, maxAgeSeconds?: number): string {
  const age = maxAgeSeconds === undefined ? "" : `; Max-Age=${maxAgeSeconds}`;
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}${age}`;
}
