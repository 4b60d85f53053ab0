/**
 * The scopes a token's claims grant: the space-separated `scope` (RFC 9068, RFC 7662), or else an
 * `scp` list or string (as some identity providers write it). `undefined` when either has the
 * wrong type, so a malformed token is refused rather than read as granting nothing.
 */
export function scopesOfClaims(claims: Record<string, unknown>): string[] | undefined {
  const { scope, scp } = claims;
  if (scope !== undefined) return typeof scope === "string" ? scope.split(" ").filter((s) => s !== "") : undefined;
  if (scp === undefined) return [];
  if (typeof scp === "string") return scp.split(" ").filter((s) => s !== "");
  return Array.isArray(scp) && scp.every((s) => typeof s === "string") ? [...scp] : undefined;
}
