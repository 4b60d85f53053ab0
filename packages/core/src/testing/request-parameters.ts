/**
 * The query and form parameter names a hostile-input test should send values under: those of
 * OAuth 2.1 and PKCE, token revocation and introspection, client authentication, and the
 * built-in sign-in and consent forms, plus `prompt` and `nonce` that clients send along.
 * Random names reach no handler's logic; these do.
 *
 * Plain strings, with no test framework or property-testing library behind them. The list may
 * grow in a minor release, which changes what a seeded property run generates.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1
 * @example
 * import { REQUEST_PARAMETER_NAMES } from "@portcullis/core/testing";
 * const url = new URL("/authorize", server.issuer);
 * for (const name of REQUEST_PARAMETER_NAMES) url.searchParams.set(name, "%zz");
 * expect((await server.fetch(new Request(url))).status).toBeLessThan(500);
 */
export const REQUEST_PARAMETER_NAMES: readonly string[] = Object.freeze([
  "client_id",
  "redirect_uri",
  "response_type",
  "code_challenge",
  "code_challenge_method",
  "scope",
  "state",
  "resource",
  "grant_type",
  "code",
  "code_verifier",
  "refresh_token",
  "token",
  "token_type_hint",
  "client_secret",
  "client_assertion",
  "client_assertion_type",
  "request_id",
  "csrf_token",
  "decision",
  "username",
  "password",
  "prompt",
  "nonce",
]);
