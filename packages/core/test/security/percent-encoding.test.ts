import { describe, expect, it } from "vitest";
import { createTestServer, ISSUER } from "../helpers.js";

/** Escapes decodeURIComponent refuses: a lone `%`, non-hex digits, cut or overlong UTF-8, a surrogate. */
const BAD = ["%", "%zz", "%E0%A4%A", "%C0%AF", "%ED%A0%80", "a%2", "%%41"];

const FORM = { "Content-Type": "application/x-www-form-urlencoded" };

interface Case {
  name: string;
  method?: string;
  /** Path and query under the origin; `$` is replaced by each bad escape. */
  target: string;
  body?: string;
  headers?: Record<string, string>;
  /** An HTML error page (browser-facing endpoints) rather than a JSON error. */
  page?: boolean;
  issuer?: string;
}

const CASES: Case[] = [
  { name: "registration management GET", target: "/register/$", headers: { Authorization: "Bearer abc" } },
  { name: "registration management GET without a token", target: "/register/$" },
  {
    name: "registration management PUT",
    method: "PUT",
    target: "/register/$",
    headers: { Authorization: "Bearer abc", "Content-Type": "application/json" },
    body: "{}",
  },
  { name: "registration management DELETE", method: "DELETE", target: "/register/x$", headers: { Authorization: "Bearer abc" } },
  { name: "authorize query value", target: "/authorize?client_id=$&response_type=code", page: true },
  { name: "authorize query name", target: "/authorize?client_id=pub&$=1", page: true },
  { name: "authorize form", method: "POST", target: "/authorize", headers: FORM, body: "client_id=$", page: true },
  { name: "consent form", method: "POST", target: "/authorize/consent", headers: FORM, body: "request_id=$", page: true },
  { name: "token form", method: "POST", target: "/token", headers: FORM, body: "grant_type=$" },
  { name: "revocation form", method: "POST", target: "/revoke", headers: FORM, body: "token=$&client_id=pub" },
  { name: "introspection form", method: "POST", target: "/introspect", headers: FORM, body: "token=$" },
  { name: "metadata with a tenant suffix", target: "/.well-known/oauth-authorization-server/tenant1$", issuer: "https://as.test/tenant1" },
  { name: "metadata with a bad suffix", target: "/.well-known/oauth-authorization-server/$" },
  { name: "OIDC metadata with a bad suffix", target: "/.well-known/openid-configuration/$", issuer: "https://as.test/tenant1" },
  { name: "tenant registration management", target: "/tenant1/register/$", headers: { Authorization: "Bearer abc" }, issuer: "https://as.test/tenant1" },
];

describe("Malformed percent-encoding is a 400, never a 500", () => {
  for (const c of CASES) {
    it(`audit #7: ${c.name} with bad percent-encoding is 400 invalid_request`, async () => {
      const t = createTestServer(c.issuer ? { issuer: c.issuer } : {});
      const origin = new URL(ISSUER).origin;
      for (const bad of BAD) {
        const response = await t.fetch(`${origin}${c.target.replace("$", bad)}`, {
          method: c.method ?? (c.body !== undefined ? "POST" : "GET"),
          headers: c.headers ?? {},
          ...(c.body !== undefined ? { body: c.body.replace("$", bad) } : {}),
        });
        expect(response.status, `${c.target} with ${bad}`).toBe(400);
        expect(response.headers.get("Location")).toBeNull();
        if (c.page) {
          expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
        } else {
          expect(response.headers.get("Cache-Control")).toBe("no-store");
          expect(((await response.json()) as { error: string }).error).toBe("invalid_request");
        }
      }
    });
  }
});
