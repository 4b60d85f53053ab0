import { REQUEST_PARAMETER_NAMES } from "@portcullis/core/testing";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerClient } from "./http-flow.js";
import type { RunningExample } from "./e2e.js";

const PATHS = [
  "/.well-known/oauth-authorization-server",
  "/.well-known/openid-configuration",
  "/.well-known/oauth-protected-resource",
  "/.well-known/oauth-protected-resource/mcp",
  "/.well-known/oauth-protected-resource/../../etc/passwd",
  "/authorize",
  "/authorize/consent",
  "/token",
  "/register",
  "/register/unknown-client",
  "/revoke",
  "/introspect",
  "/jwks.json",
  "/mcp",
  "/",
];
const METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD"];
// The names these runs drew from before the list was shared, so a seed replays the same inputs.
const NAMES = REQUEST_PARAMETER_NAMES.filter((name) => name !== "token_type_hint" && name !== "nonce");
const STACK = /\bat\s+\S+\s+\(|\.(?:ts|js):\d+:\d+|\/work\/|node_modules/;

/**
 * A hostile-input run against a running example over real HTTP: random methods, paths, query
 * strings, headers and bodies at every endpoint. Nothing may answer 5xx, show a stack trace or a
 * file path, hang, or redirect anywhere but the example itself or the registered redirect URI.
 */
export function describeHostileInputs(name: string, start: () => Promise<RunningExample>, runs = 150): void {
  describe(`Hostile inputs over HTTP: ${name}`, () => {
    let example: RunningExample;
    let clientId: string;
    const redirectUri = "http://127.0.0.1:1/callback";
    beforeAll(async () => {
      example = await start();
      ({ clientId } = await registerClient(example.url, redirectUri));
    }, 90_000);
    afterAll(async () => {
      await example?.stop();
    });

    it("never answers 5xx, leaks a stack trace, hangs, or redirects to an unregistered URI", async () => {
      const value = fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.constantFrom(
          "",
          "S256",
          "plain",
          "code",
          "token",
          "mcp:tools",
          "authorization_code",
          "refresh_token",
          "%zz",
          "%C3",
          "javascript:alert(1)",
          redirectUri,
          "https://evil.test/cb",
          "x".repeat(5000),
        ),
        fc.constant("__client__"),
      );
      const params = fc.array(fc.tuple(fc.constantFrom(...NAMES), value), { maxLength: 8 });
      const header = fc.string({ maxLength: 60 }).map((s) => s.replace(/[^\x20-\x7e]/g, ""));
      const request = fc.record({
        method: fc.constantFrom(...METHODS),
        path: fc.constantFrom(...PATHS),
        query: params,
        body: fc.option(fc.oneof(params, fc.string({ maxLength: 200 }), fc.json()), { nil: undefined }),
        contentType: fc.constantFrom(undefined, "application/x-www-form-urlencoded", "application/json", "text/plain"),
        authorization: fc.option(
          fc.oneof(
            header,
            header.map((s) => `Bearer ${s}`),
            header.map((s) => `Basic ${s}`),
          ),
          { nil: undefined },
        ),
        origin: fc.option(fc.constantFrom("https://evil.test", example?.url ?? "http://localhost", "null"), { nil: undefined }),
        cookie: fc.option(header, { nil: undefined }),
      });
      const encode = (pairs: [string, string][]) =>
        pairs.map(([k, v]) => `${encodeURIComponent(k)}=${v.startsWith("%") ? v : encodeURIComponent(v === "__client__" ? clientId : v)}`).join("&");

      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const url = `${example.url}${r.path}${r.query.length ? `?${encode(r.query)}` : ""}`;
          const headers: Record<string, string> = {};
          if (r.contentType) headers["Content-Type"] = r.contentType;
          if (r.authorization) headers.Authorization = r.authorization;
          if (r.origin) headers.Origin = r.origin;
          if (r.cookie) headers.Cookie = r.cookie;
          const body =
            r.method === "GET" || r.method === "HEAD" || r.body === undefined ? undefined : Array.isArray(r.body) ? encode(r.body) : JSON.stringify(r.body);
          const response = await fetch(url, { method: r.method, headers, body, redirect: "manual", signal: AbortSignal.timeout(10_000) });
          const text = await response.text();
          expect(response.status, `${r.method} ${url}`).toBeLessThan(500);
          expect(STACK.test(text), `${r.method} ${url}: ${text.slice(0, 200)}`).toBe(false);
          const location = response.headers.get("Location");
          if (location) {
            const target = new URL(location, example.url);
            const ours = target.origin === new URL(example.url).origin;
            expect(ours || target.href.startsWith(`${redirectUri}?`), `${r.method} ${url} -> ${location}`).toBe(true);
          }
        }),
        { numRuns: runs },
      );
    }, 180_000);
  });
}
