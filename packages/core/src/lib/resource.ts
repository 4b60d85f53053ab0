import { OAuthError } from "../errors.js";
import { canonicalResource } from "./url.js";

/**
 * The RFC 8707 resource rule, in one place. Every token is bound to exactly one resource (its
 * audience): this profile grants one audience per token. The authorization server binds it when
 * a grant is made and keeps it through code exchange and refresh; a resource server accepts only
 * tokens bound to its own canonical URL. Resource and audience URLs are compared in their
 * {@link canonicalResource} form: scheme and host case-insensitive, everything else exact
 * (RS-TOK-8).
 */

/** What a `resource` parameter may bind a token to. */
export type ResourceBinding =
  /**
   * A new authorization (the authorization request, the client credentials grant): any resource
   * this server protects; without one, the only one it protects (AS-AUTHZ-13).
   */
  | { protects: readonly string[] }
  /**
   * A grant already bound (the code exchange, a refresh): the same resource again, or none
   * (AS-TOKEN-6, AS-RT-5).
   */
  | { authorized: string };

/**
 * The resource a token will be bound to: the requested `resource`, canonicalised, if `binding`
 * allows it; without one, the resource `binding` implies. Never none.
 *
 * @throws OAuthError `invalid_target` for a malformed resource, one this server does not protect,
 * one other than the grant's, or none when several could be meant.
 */
export function bindResource(requested: string | undefined, binding: ResourceBinding): string {
  if ("authorized" in binding) {
    if (requested !== undefined && canonicalResource(requested) !== binding.authorized) {
      throw new OAuthError("invalid_target", "resource differs from the one authorized");
    }
    return binding.authorized;
  }
  const { protects } = binding;
  if (requested === undefined) {
    if (protects.length !== 1) throw new OAuthError("invalid_target", "resource is required: this server protects several resources");
    return protects[0]!;
  }
  const canonical = canonicalResource(requested);
  if (!canonical || !protects.includes(canonical)) throw new OAuthError("invalid_target", "unknown or malformed resource");
  return canonical;
}

/**
 * Checks that a request names at most one resource. Several are valid RFC 8707 syntax, but this
 * profile grants one audience per token (AS-AUTHZ-13).
 *
 * @param repeated The names of the parameters the request repeats.
 * @throws OAuthError `invalid_target` if `resource` is among them.
 */
export function verifySingleResource(repeated: readonly string[]): void {
  if (repeated.includes("resource")) throw new OAuthError("invalid_target", "only one resource may be requested");
}

/**
 * The canonical form of a configured resource URL.
 *
 * @throws TypeError naming the value when it is not an absolute http(s) URL without fragment.
 */
export function configuredResource(value: string): string {
  const canonical = canonicalResource(value);
  if (!canonical) throw new TypeError(`Portcullis: resource ${JSON.stringify(value)} is not an absolute http(s) URL without fragment`);
  return canonical;
}

/**
 * The audiences a token's `aud` claim names, canonicalised; values that are not resource URLs are
 * dropped, so they match nothing.
 */
export function tokenAudiences(aud: unknown): string[] {
  return (Array.isArray(aud) ? aud : [aud])
    .map((value) => (typeof value === "string" ? canonicalResource(value) : undefined))
    .filter((value): value is string => value !== undefined);
}

/**
 * Whether a token with these (canonical) audiences is meant for `resource` (a canonical URL): it
 * must name it. A token with no audience is meant for nothing (RS-TOK-1).
 */
export function isAudience(audiences: readonly string[], resource: string): boolean {
  return audiences.includes(resource);
}
