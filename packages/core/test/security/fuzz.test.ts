import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { REQUEST_PARAMETER_NAMES } from "../../src/testing/request-parameters.js";
import { createTestServer, ISSUER, RESOURCE } from "../helpers.js";
import { bounded, budget, checkAnswer, fuzzInput, fuzzTimeout, knownHoles, toRequest, type FuzzInput } from "./fuzz/harness.js";
import { createFuzzTarget, REACHED_APP, REACHED_MCP } from "./fuzz/target.js";

const PATHS = [
  "/authorize",
  "/authorize/consent",
  "/token",
  "/register",
  "/register/some-client",
  "/revoke",
  "/introspect",
  "/jwks.json",
  "/.well-known/oauth-authorization-server",
  "/.well-known/openid-configuration",
  "/nope",
];
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "QUERY"];
const HEADER_NAMES = ["Authorization", "Content-Type", "Cookie", "Origin", "Host", "X-Forwarded-For", "Content-Length", "Accept", "Mcp-Method", "Mcp-Name"];
// The names this property drew from before the list was shared, so a seed replays the same inputs.
const PARAM_NAMES = REQUEST_PARAMETER_NAMES.filter((name) => !["token_type_hint", "prompt", "nonce"].includes(name));
const REGISTERED = [/^http:\/\/127\.0\.0\.1(:\d+)?\/cb\?/, /^https:\/\/app\.test\/cb\?/];

const printable = fc.string({ unit: fc.constantFrom(..."abcAZ09-._~:/?#[]@!$&'()*+,;=% \"\\<>{}|^`\t".split("")), maxLength: 60 });
const value = fc.oneof(
  printable,
  fc.constantFrom(
    "pub",
    "conf",
    "S256",
    "code",
    "http://127.0.0.1/cb",
    "https://evil.test/cb",
    "javascript:alert(1)",
    "%zz",
    "%C3",
    "a".repeat(5000),
    "Basic Og==",
    "Bearer x",
    "application/x-www-form-urlencoded",
    "application/json",
  ),
);
const params = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...PARAM_NAMES), printable), value), { maxLength: 8 });
const encode = (pairs: [string, string][], raw: boolean) =>
  pairs.map(([k, v]) => (raw ? `${k}=${v}` : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join("&");
const headers = fc.array(
  fc.tuple(
    fc.oneof(fc.constantFrom(...HEADER_NAMES), fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/)),
    fc.oneof(
      printable.map((s) => s.replace(/[\t]/g, " ")),
      value.map((s) => s.replace(/[\t]/g, " ")),
    ),
  ),
  { maxLength: 5 },
);

const request = fc.record({
  method: fc.constantFrom(...METHODS),
  path: fc.constantFrom(...PATHS),
  query: params,
  rawQuery: fc.boolean(),
  headers,
  body: fc.option(
    fc.oneof(
      params.map((p) => encode(p, false)),
      params.map((p) => encode(p, true)),
      printable,
      fc.json(),
    ),
    { nil: undefined },
  ),
});

function build(input: typeof request extends fc.Arbitrary<infer T> ? T : never, base = ISSUER): Request | undefined {
  try {
    const query = encode(input.query, input.rawQuery);
    const withBody = input.body !== undefined && input.method !== "GET" && input.method !== "HEAD";
    return new Request(`${base}${input.path}${query ? `?${query}` : ""}`, {
      method: input.method,
      headers: input.headers,
      ...(withBody ? { body: input.body } : {}),
    });
  } catch {
    return undefined; // not a request a runtime would hand us
  }
}

const STACK = /\bat [\w.<>$]+ \(|\.ts:\d+|\.js:\d+|\/work\/|node_modules|file:\/\//;

describe("Property: no input breaks the server (issue 6; SPEC-CHECKLIST §3)", () => {
  it("answers arbitrary methods, paths, headers, queries and bodies with < 500, no stack trace, and redirects only to registered URIs", async () => {
    const t = createTestServer();
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        const req = build(input);
        fc.pre(req !== undefined);
        const response = await bounded(t.server.fetch(req!), 5000);
        expect(response.status).toBeLessThan(500);
        const text = await bounded(response.text(), 5000);
        expect(text).not.toMatch(STACK);
        const location = response.headers.get("Location");
        if (location !== null)
          expect(
            REGISTERED.some((r) => r.test(location)),
            location,
          ).toBe(true);
        if (input.path === "/token" && response.status >= 400) expect(response.headers.get("Cache-Control")).toBe("no-store");
        expect(text).not.toMatch(/"access_token"/);
      }),
      { numRuns: 300 },
    );
  });

  it("answers arbitrary requests at /authorize built from valid-looking parameters with a page or a registered redirect", async () => {
    const t = createTestServer();
    const authorize = fc.record({
      client_id: fc.constantFrom("pub", "conf", "unknown", ""),
      redirect_uri: fc.constantFrom(
        undefined,
        "http://127.0.0.1/cb",
        "http://127.0.0.1:9/cb",
        "https://app.test/cb",
        "https://app.test/cb/",
        "https://evil.test/cb",
        "http://127.0.0.1/cb#x",
        "HTTP://127.0.0.1/cb",
      ),
      response_type: fc.constantFrom(undefined, "code", "token", "CODE"),
      code_challenge: fc.constantFrom(undefined, "a".repeat(43), "short", "=".repeat(43)),
      code_challenge_method: fc.constantFrom(undefined, "S256", "plain"),
      scope: fc.option(printable, { nil: undefined }),
      state: fc.option(printable, { nil: undefined }),
      resource: fc.constantFrom(undefined, RESOURCE, "https://other.test", "javascript:alert(1)"),
    });
    await fc.assert(
      fc.asyncProperty(authorize, async (query) => {
        const url = new URL(`${ISSUER}/authorize`);
        for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
        const response = await bounded(t.server.fetch(new Request(url)), 5000);
        expect(response.status).toBeLessThan(500);
        const location = response.headers.get("Location");
        if (location !== null) {
          expect(
            REGISTERED.some((r) => r.test(location)),
            location,
          ).toBe(true);
          expect(new URL(location).searchParams.get("code")).toBeNull();
        }
        expect(await response.text()).not.toMatch(STACK);
      }),
      { numRuns: 300 },
    );
  });
});

describe("Property: no input breaks the resource guard (issue 6)", () => {
  it("answers arbitrary requests with 400, 401 or 403, never throws, never authenticates", async () => {
    const t = createTestServer();
    const guardInput = fc.record({
      method: fc.constantFrom(...METHODS),
      headers: fc.array(
        fc.tuple(
          fc.constantFrom("Authorization", "Origin", "Host", "Mcp-Method", "Mcp-Name", "Content-Type"),
          fc.oneof(
            printable.map((s) => s.replace(/\t/g, " ")),
            fc.constantFrom("Bearer ", "Bearer a.b.c", "Bearer e30.e30.", "bearer x", "Basic x", `Bearer ${"A".repeat(9000)}`, "https://mcp.test"),
          ),
        ),
        { maxLength: 4 },
      ),
      body: fc.option(fc.oneof(fc.json(), printable), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(guardInput, async (input) => {
        let req: Request;
        try {
          const withBody = input.body !== undefined && input.method !== "GET" && input.method !== "HEAD";
          req = new Request(RESOURCE, { method: input.method, headers: input.headers, ...(withBody ? { body: input.body } : {}) });
        } catch {
          fc.pre(false);
          return;
        }
        const result = await bounded(t.guard.authenticate(req), 5000);
        expect(result).toBeInstanceOf(Response);
        expect([400, 401, 403]).toContain((result as Response).status);
        expect(await (result as Response).text()).not.toMatch(STACK);
      }),
      { numRuns: 300 },
    );
  });
});

describe("Property: every endpoint through the Fetch core keeps its promises (issue 13)", async () => {
  const origin = "https://as.test";
  const t = createFuzzTarget(origin);
  const validToken = await t.mint();
  const context = t.context(validToken);
  // The app of the adapter suites: Portcullis first, then the guarded /mcp, then the app itself.
  const app = async (request: Request): Promise<Response> => {
    const owned = (await t.server.handle(request)) ?? (await t.guard.handle(request));
    if (owned) return owned;
    if (new URL(request.url).pathname !== "/mcp") return Response.json(REACHED_APP);
    const result = await t.guard.authenticate(request);
    return result instanceof Response ? result : Response.json(REACHED_MCP);
  };
  const check = async (input: FuzzInput) => {
    const request = toRequest(origin, input);
    if (request === undefined) return;
    const response = await bounded(app(request));
    checkAnswer(context, input, { status: response.status, headers: response.headers, body: await bounded(response.text()) });
  };

  it.each(knownHoles(validToken))("%s", async (_title, input) => check(input));

  it(
    "answers hostile requests (paths, prototype keys, repeated parameters, deep JSON, padded bodies) without a 5xx, an unguarded pass, a token, a code or an open redirect",
    async () => {
      await fc.assert(fc.asyncProperty(fuzzInput({ host: "as.test", validToken }), check), budget("fetch core", 300));
    },
    fuzzTimeout(),
  );
});
