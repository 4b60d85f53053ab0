import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { authorizationUrl, basic, CONF_SECRET, createTestServer, ISSUER, resourceRequest } from "../../test/helpers.js";

/** What a malformed request must never produce: a 5xx, a stack trace, a file path. */
async function expectGraceful(response: Response, label: string) {
  expect(response.status, label).toBeLessThan(500);
  const text = await response.text();
  expect(text, label).not.toMatch(/\bat [\w.<>]+ \(|\.ts:\d+|\/work\/|node_modules|TypeError|SyntaxError|URIError/);
  return text;
}

const FORM_ENDPOINTS = ["/token", "/revoke", "/introspect", "/authorize/consent", "/authorize"];
const ALL_PATHS = [...FORM_ENDPOINTS, "/register", "/jwks.json", "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"];
const MALFORMED_BODIES: [string, string | Uint8Array][] = [
  ["bad percent-encoding", "grant_type=%zz&token=%C3"],
  ["half a UTF-8 sequence", "a=%C3"],
  ["invalid UTF-8 bytes", new Uint8Array([0x61, 0x3d, 0xff, 0xfe])],
  ["a control character and quotes", 'grant_type="\\\n\u0000&client_id=pub&token=x'],
  ["only separators", "&&&==&="],
  ["a bare name", "grant_type"],
  ["JSON", '{"grant_type":"authorization_code"}'],
  ["100 KB", `x=${"a".repeat(100 * 1024)}`],
];

describe("Robustness against malformed input (X-ERR-3, B43)", () => {
  it.each(MALFORMED_BODIES)("answers every endpoint with < 500 and no stack trace for a form body with %s (X-ERR-3)", async (_, body) => {
    const t = createTestServer();
    for (const path of [...FORM_ENDPOINTS, "/register"]) {
      for (const contentType of ["application/x-www-form-urlencoded", "application/json", "text/plain", ""]) {
        const headers: Record<string, string> = contentType ? { "Content-Type": contentType } : {};
        const response = await t.fetch(`${ISSUER}${path}`, { method: "POST", headers, body: body as BodyInit });
        await expectGraceful(response, `${path} ${contentType}`);
      }
    }
  });

  it("answers bad percent-encoding in form bodies with 400 invalid_request and no-store on token-endpoint errors (B43, X-ERR-1)", async () => {
    const t = createTestServer();
    for (const path of ["/token", "/revoke", "/introspect"]) {
      const response = await t.fetch(`${ISSUER}${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "client_id=pub&token=%zz",
      });
      expect(response.status, path).toBe(400);
      expect(response.headers.get("Cache-Control"), path).toBe("no-store");
      expect(await response.json(), path).toMatchObject({ error: "invalid_request" });
    }
  });

  it("answers every unsupported method with 405, never 5xx", async () => {
    const t = createTestServer();
    for (const path of ALL_PATHS) {
      for (const method of ["PUT", "DELETE", "PATCH"]) {
        const response = await t.fetch(`${ISSUER}${path}`, { method });
        expect(response.status, `${method} ${path}`).toBe(405);
        expect(response.headers.get("Allow"), path).toBeTruthy();
      }
    }
  });

  it("answers unknown paths with 404 JSON, and leaves them to the app through handle()", async () => {
    const t = createTestServer();
    for (const path of ["/nope", "/.well-known/oauth-authorization-server/../../etc/passwd", "/.well-known/%2e%2e/etc/passwd", "/token/", "/TOKEN"]) {
      const response = await t.fetch(`${ISSUER}${path}`);
      expect(response.status, path).toBe(404);
      expect(await t.server.handle(new Request(`${ISSUER}${path}`)), path).toBeUndefined();
    }
  });

  it("owns() agrees with handle(): true means a Response, false means undefined, so an adapter may skip building a Request", async () => {
    const t = createTestServer();
    for (const path of ALL_PATHS) {
      expect(t.server.owns(path), path).toBe(true);
      expect(t.guard.owns(path), path).toBe(false);
    }
    expect(t.guard.owns("/.well-known/oauth-protected-resource/mcp")).toBe(true);
    for (const path of ["/mcp", "/", "/token/", "/TOKEN", "/register-x"]) expect(t.server.owns(path), path).toBe(false);
    // Not in plain form: left to handle(), which decides on the parsed URL.
    for (const path of ["/a/../token", "/./token", "/%74oken", "/x\\token", "token"]) expect(t.server.owns(path), path).toBeUndefined();
    await fc.assert(
      fc.asyncProperty(fc.webPath(), async (path) => {
        for (const handler of [t.server, t.guard]) {
          const owned = handler.owns(path);
          const response = await handler.handle(new Request(`${ISSUER}${path}`));
          if (owned === false) expect(response, path).toBeUndefined();
          if (owned === true) expect(response, path).toBeInstanceOf(Response);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("answers fuzzed authorization queries with a page or a redirect to the registered URI only (X-ERR-3)", async () => {
    const t = createTestServer();
    const { url } = await authorizationUrl({});
    const fuzz = ["%zz", "%C3", "%00", "%22%5C", "%F0%9F%98%80", "a".repeat(10_000), "=&=&", "%2e%2e%2f"];
    for (const value of fuzz) {
      for (const name of ["client_id", "redirect_uri", "scope", "state", "resource", "code_challenge", "response_type"]) {
        const raw = `${ISSUER}/authorize?${url.search.slice(1).replace(new RegExp(`(^|&)${name}=[^&]*`), `$1${name}=${value}`)}`;
        const response = await t.fetch(raw);
        await expectGraceful(response, `${name}=${value}`);
        const location = response.headers.get("Location");
        if (location) expect(location.startsWith("http://127.0.0.1/cb?"), `${name}=${value}`).toBe(true);
      }
    }
  });

  it("keeps every JSON error field to the RFC 6749 character set for fuzzed input (X-ERR-2)", async () => {
    const t = createTestServer();
    const nasty = encodeURIComponent('"\\\n\u00e9\u0000');
    const requests: [string, RequestInit][] = [
      [`${ISSUER}/token`, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: `grant_type=${nasty}&client_id=pub` }],
      [`${ISSUER}/token`, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: `${nasty}=1&${nasty}=2` }],
      [
        `${ISSUER}/register`,
        {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ redirect_uris: ["https://a.test/cb"], 'x"\\\n': 1, grant_types: ['a"\\\n\u00e9'] }),
        },
      ],
      [
        `${ISSUER}/register`,
        { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ redirect_uris: ['https://a.test/"\\\u00e9'] }) },
      ],
      [`${ISSUER}/revoke`, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: 'Bearer "\\' }, body: "token=x" }],
    ];
    for (const [url, init] of requests) {
      const response = await t.fetch(url, init);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      const body = (await response.json()) as Record<string, string>;
      expect(body.error).toMatch(/^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/);
      if (body.error_description !== undefined) expect(body.error_description).toMatch(/^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/);
    }
  });

  it("answers a fuzzed Authorization header at the resource with 400 or 401, never 5xx (X-ERR-3)", async () => {
    const { guard } = createTestServer();
    for (const header of [
      "Bearer",
      "Bearer ",
      "Bearer \u00e9",
      "Bearer a.b.c",
      "Bearer ....",
      "Bearer e30.e30.",
      "Bearer =",
      "Bearer a,b",
      "Basic x",
      "Bearer\tabc",
    ]) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is all of Latin-1, as Headers accepts
      const result = await guard.authenticate(resourceRequest(undefined, { headers: { Authorization: header.replace(/[^\x00-\xff]/g, "?") } }));
      expect(result).toBeInstanceOf(Response);
      expect([400, 401]).toContain((result as Response).status);
    }
  });

  it("sends Cache-Control: no-store on token, registration and introspection responses (X-ERR-1)", async () => {
    const t = createTestServer();
    const responses = [
      await t.fetch(`${ISSUER}/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "grant_type=x&client_id=pub",
      }),
      await t.fetch(`${ISSUER}/register`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ redirect_uris: ["http://127.0.0.1/cb"], token_endpoint_auth_method: "none" }),
      }),
      await t.fetch(`${ISSUER}/introspect`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: basic("conf", CONF_SECRET) },
        body: "token=x",
      }),
      await t.fetch(`${ISSUER}/revoke`, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "token=x&client_id=pub" }),
    ];
    for (const response of responses) expect(response.headers.get("Cache-Control")).toBe("no-store");
  });

  it("answers an unexpected failure with 500 server_error, no detail, and reports it to onError", async () => {
    const errors: unknown[] = [];
    const t = createTestServer({
      onError: (error) => errors.push(error),
      login: {
        verifyPassword: async () => {
          throw new Error("database down at /srv/app/db.ts:12");
        },
      },
    });
    const { url } = await authorizationUrl({});
    const page = await t.fetch(url);
    const html = await page.text();
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)![1]!;
    const response = await t.fetch(`${ISSUER}/authorize/consent`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: page.headers.get("Set-Cookie")!.split(";")[0]! },
      body: new URLSearchParams({ request_id: field("request_id"), csrf_token: field("csrf_token"), username: "a", password: "b", decision: "allow" }),
    });
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain("database down");
    expect(errors).toHaveLength(1);
  });
});
