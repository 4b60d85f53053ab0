// Generators of hostile HTTP requests for the property-based fuzz suites (fast-check). One input
// drives both the Fetch core (as a `Request`) and the Node adapters (as raw bytes on a socket).
import fc from "fast-check";
import { REQUEST_PARAMETER_NAMES } from "../../../src/testing/request-parameters.js";

/** One request, as raw as a socket can carry it. */
export interface FuzzInput {
  method: string;
  /** The request target: path and query, percent-escapes and all, exactly as sent. */
  target: string;
  headers: [string, string][];
  body?: string;
  /**
   * How the body is framed on a socket: its true length, chunked (no length at all), or a
   * Content-Length that lies (short: fewer bytes than sent; long: more, then the client stops).
   */
  framing: "length" | "chunked" | "short" | "long";
}

/** Keys an object-backed lookup would find on every object (`key in obj`, `obj[key]`). */
export const PROTOTYPE_KEYS = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "__defineGetter__", "prototype", "isPrototypeOf"];

const ENDPOINTS = [
  "/authorize",
  "/authorize/consent",
  "/token",
  "/register",
  "/revoke",
  "/introspect",
  "/jwks.json",
  "/.well-known/oauth-authorization-server",
  "/.well-known/openid-configuration",
  "/.well-known/oauth-protected-resource",
  "/.well-known/oauth-protected-resource/mcp",
  "/mcp",
  "/login",
  "/",
  "/nope",
];

const SCOPES = ["mcp:tools", "mcp:admin", "files:read", "openid", "offline_access", ...PROTOTYPE_KEYS];

const printable = fc.string({ unit: fc.constantFrom(..."abcAZ09-._~:/?#[]@!$&'()*+,;=% \"\\<>{}|^`".split("")), maxLength: 40 });

/** Parameter values: random text, plausible values, hostile ones. */
const value = fc.oneof(
  { weight: 3, arbitrary: printable },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      "pub",
      "conf",
      "unknown-client",
      "S256",
      "plain",
      "code",
      "token",
      "authorization_code",
      "refresh_token",
      "client_credentials",
      "http://127.0.0.1/cb",
      "https://app.test/cb",
      "https://evil.test/cb",
      "javascript:alert(1)",
      "data:text/html,x",
      "%zz",
      "%",
      "%C3",
      "%00",
      "%2F",
      "\u00e9",
      "\u{1F600}",
      "a".repeat(5000),
      "x".repeat(43),
      "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      "e30.e30.",
      "eyJhbGciOiJub25lIn0.e30.",
      ...PROTOTYPE_KEYS,
    ),
  },
  { weight: 2, arbitrary: fc.subarray(SCOPES, { minLength: 1 }).map((s) => s.join(" ")) },
);

const paramName = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...REQUEST_PARAMETER_NAMES) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) },
  { weight: 1, arbitrary: printable },
);

/** Name–value pairs; names may repeat, and some are repeated on purpose. */
const params = fc
  .tuple(fc.array(fc.tuple(paramName, value), { maxLength: 8 }), fc.boolean())
  .map(([pairs, repeat]) => (repeat && pairs.length > 0 ? [...pairs, pairs[0]!] : pairs));

/** A query or form body: encoded, or raw (percent-escapes left as they come). */
const formOf = (pairs: [string, string][], raw: boolean) =>
  pairs.map(([k, v]) => (raw ? `${k}=${v}` : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join("&");
const form = fc.tuple(params, fc.boolean()).map(([pairs, raw]) => formOf(pairs, raw));

/** A percent-escape of each character of `text` (`/t` → `/%74`). */
const escapeAll = (text: string) => Array.from(text, (c) => (c === "/" ? c : `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)).join("");

/** Paths: each endpoint as is and disguised (escapes, case, double slashes, suffixes, dot segments). */
const path = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ENDPOINTS) },
  {
    weight: 4,
    arbitrary: fc.tuple(fc.constantFrom(...ENDPOINTS), fc.nat(7), printable).map(([p, how, extra]) => {
      switch (how) {
        case 0:
          return escapeAll(p);
        case 1:
          return p.toUpperCase();
        case 2:
          return `/${p}`;
        case 3:
          return `${p}/`;
        case 4:
          return `${p}/${encodeURIComponent(extra)}`;
        case 5:
          return `/x/..${p}`;
        case 6:
          return p.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`);
        default:
          return `${p}/tenant`;
      }
    }),
  },
  {
    weight: 3,
    arbitrary: fc
      .oneof(printable, fc.constantFrom("%", "%zz", "%C3", "%00", "%2F", "%2e%2e", "..", ...PROTOTYPE_KEYS))
      .map((rest) => `/register/${rest.replace(/[ "<>\\^`{|}#?]/g, (c) => encodeURIComponent(c))}`),
  },
);

const JSON_HEADERS = ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "application/jsonx", "application/json-rpc"];
const CONTENT_TYPES = [
  ...JSON_HEADERS,
  "application/x-www-form-urlencoded",
  "application/x-www-form-urlencoded; charset=UTF-8",
  "application/x-www-form-urlencoded; charset=iso-8859-1",
  "multipart/form-data; boundary=x",
  "text/plain",
  "text/html",
  ";",
  "",
];

const basic = (user: string, pass: string) => `Basic ${btoa(`${encodeURIComponent(user)}:${encodeURIComponent(pass)}`)}`;

/** Authorization values; `validToken` stands for a real access token the suite minted. */
const authorization = (validToken: string | undefined) =>
  fc.oneof(
    fc.constantFrom(
      "Bearer ",
      "Bearer",
      "bearer x",
      "BEARER x",
      "Bearer a.b.c",
      "Bearer e30.e30.",
      `Bearer ${"A".repeat(9000)}`,
      "Bearer x y",
      "Basic",
      "Basic Og==",
      "Basic !!!",
      `Basic ${btoa("conf")}`,
      basic("conf", "s3cr3t-s3cr3t-s3cr3t"),
      basic("conf", "wrong"),
      basic("pub", ""),
      basic("__proto__", "x"),
      basic("constructor", ""),
      "DPoP x",
      "Digest x",
      "Bearer %zz",
    ),
    fc.tuple(fc.constantFrom("Bearer", "Basic", "bearer"), printable).map(([scheme, token]) => `${scheme} ${token}`),
    ...(validToken ? [fc.constant(`Bearer ${validToken}`), fc.constant(`bearer ${validToken}`), fc.constant(`Bearer  ${validToken}`)] : []),
  );

/** Header lists: the interesting names with hostile values, plus random names. */
const headers = (host: string, validToken: string | undefined) =>
  fc.array(
    fc.oneof(
      fc.tuple(fc.constant("Authorization"), authorization(validToken)),
      fc.tuple(fc.constant("Content-Type"), fc.constantFrom(...CONTENT_TYPES)),
      fc.tuple(fc.constant("Host"), fc.constantFrom(host, "evil.test", "localhost", "127.0.0.1", `${host}.evil.test`, "[::1]", "")),
      fc.tuple(fc.constant("Origin"), fc.constantFrom("null", "https://evil.test", `http://${host}`, "http://localhost", "x")),
      fc.tuple(
        fc.constantFrom(
          "Mcp-Method",
          "Mcp-Name",
          "Mcp-Protocol-Version",
          "Accept",
          "Cookie",
          "X-Forwarded-For",
          "X-Forwarded-Proto",
          "X-Forwarded-Host",
          "Transfer-Encoding",
        ),
        fc.oneof(value, fc.constantFrom(...PROTOTYPE_KEYS)),
      ),
      fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/), printable),
    ),
    { maxLength: 5 },
  );

/** Nests `depth` levels of arrays or objects: `[[[…]]]`, `{"a":{"a":…}}`. */
export const deepJSON = (depth: number, kind: "array" | "object" = "array") =>
  kind === "array" ? "[".repeat(depth) + "]".repeat(depth) : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

const TOOLS = ["echo", "admin_echo", ...PROTOTYPE_KEYS];
const RPC_METHODS = ["tools/call", "tools/list", "initialize", "ping", "resources/read", ...PROTOTYPE_KEYS];

/** A JSON-RPC message or batch for the MCP endpoint, tool and method names hostile too. */
const rpc = fc.tuple(fc.constantFrom(...RPC_METHODS), fc.constantFrom(...TOOLS), fc.boolean(), fc.nat(2)).map(([method, name, batch, padding]) => {
  const message = { jsonrpc: "2.0", id: 1, method, params: { name, arguments: { text: "x" } } };
  const text = JSON.stringify(batch ? [message, { ...message, id: 2 }] : message);
  // Padded past the guard's and the server's body limits (64 KB, 1 MB) with whitespace.
  return padding === 0 ? text : text + " ".repeat(padding === 1 ? 70_000 : 1_100_000);
});

/** A registration request: plausible metadata with hostile parts. */
const registration = fc
  .record({
    redirect_uris: fc.oneof(fc.constant(["http://127.0.0.1/cb"]), fc.array(value, { maxLength: 3 }), value),
    grant_types: fc.option(fc.subarray(["authorization_code", "refresh_token", "client_credentials", "implicit", ...PROTOTYPE_KEYS]), { nil: undefined }),
    scope: fc.option(
      fc.subarray(SCOPES).map((s) => s.join(" ")),
      { nil: undefined },
    ),
    token_endpoint_auth_method: fc.option(fc.constantFrom("none", "client_secret_basic", "client_secret_post", "private_key_jwt", "toString"), {
      nil: undefined,
    }),
    jwks: fc.option(fc.constantFrom<unknown>({ keys: [] }, { keys: [{ kty: "EC" }] }, "x", { keys: { __proto__: 1 } }), { nil: undefined }),
    jwks_uri: fc.option(fc.constantFrom("https://localhost/jwks", "http://169.254.169.254/", "https://metadata.google.internal/"), { nil: undefined }),
    client_name: fc.option(printable, { nil: undefined }),
    extra: fc.option(fc.constantFrom(...PROTOTYPE_KEYS), { nil: undefined }),
  })
  .map(({ extra, ...metadata }) => {
    const text = JSON.stringify(metadata);
    // A prototype key as a metadata member: JSON.parse makes it an own property.
    return extra ? text.replace(/^\{/, `{"${extra}":{"polluted":true},`) : text;
  });

/** Bodies: forms, JSON (random, registrations, JSON-RPC, deeply nested), garbage. */
const body = fc.oneof(
  { weight: 4, arbitrary: form },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 3, arbitrary: registration },
  { weight: 3, arbitrary: rpc },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(20, 5_000, 20_000)
      .chain((depth) =>
        fc.constantFrom(
          deepJSON(depth),
          deepJSON(depth, "object"),
          `{"redirect_uris":["http://127.0.0.1/cb"],"jwks":${deepJSON(depth, "object")}}`,
          `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":${deepJSON(depth, "object")}}`,
        ),
      ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom("{", "[", "null", '"x"', "\u0000\u0001", "\ufeff{}", "a=1&a=2", "%zz=%zz", "=", "&&&", '{"__proto__":{"admin":true}}'),
  },
  { weight: 1, arbitrary: printable },
);

/** A hostile request: any method, disguised path, query, headers, body and framing. */
export function fuzzInput(options: { host: string; validToken?: string }) {
  return fc
    .record({
      method: fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom("GET", "POST") },
        { weight: 2, arbitrary: fc.constantFrom("PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "QUERY", "get", "post", "PROPFIND") },
      ),
      path,
      query: fc.option(form, { nil: undefined }),
      headers: headers(options.host, options.validToken),
      body: fc.option(body, { nil: undefined }),
      framing: fc.constantFrom<FuzzInput["framing"]>("length", "length", "length", "chunked", "short", "long"),
    })
    .map(({ path, query, ...rest }): FuzzInput => ({ ...rest, target: query ? `${path}?${query}` : path }));
}

/** Inputs that found holes before, each named after it: every suite tries them, whatever the seed. */
export function knownHoles(validToken?: string): [string, FuzzInput][] {
  const form = (body: string, extra: [string, string][] = []): Pick<FuzzInput, "headers" | "body"> => ({
    headers: [["Content-Type", "application/x-www-form-urlencoded"], ...extra],
    body,
  });
  const json = (body: string, extra: [string, string][] = []): Pick<FuzzInput, "headers" | "body"> => ({
    headers: [["Content-Type", "application/json"], ...extra],
    body,
  });
  const bearer: [string, string][] = validToken ? [["Authorization", `Bearer ${validToken}`]] : [];
  const rpcCall = (name: string, padding = 0) =>
    JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: {} } }) + " ".repeat(padding);
  const authorize = (scope: string) =>
    `/authorize?response_type=code&client_id=pub&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&code_challenge=${"x".repeat(43)}&code_challenge_method=S256&scope=${scope}`;
  return [
    ["audit #4: scope=toString at /authorize", { method: "GET", target: authorize("toString"), headers: [], framing: "length" }],
    ["audit #4: scope=constructor at /authorize", { method: "GET", target: authorize("constructor"), headers: [], framing: "length" }],
    [
      "audit #4: client_credentials with scope=toString",
      {
        method: "POST",
        target: "/token",
        framing: "length",
        ...form("grant_type=client_credentials&scope=toString", [["Authorization", `Basic ${btoa("conf:s3cr3t-s3cr3t-s3cr3t")}`]]),
      },
    ],
    [
      "audit #4: a 5000-character form parameter named constructor",
      { method: "POST", target: "/token", framing: "length", ...form(`grant_type=authorization_code&code=x&client_id=pub&constructor=${"a".repeat(5000)}`) },
    ],
    [
      "audit #4: a form parameter named __proto__",
      { method: "POST", target: "/token", framing: "length", ...form("__proto__=x&grant_type=refresh_token&refresh_token=x&client_id=pub") },
    ],
    [
      "audit #4: registration with scope constructor",
      { method: "POST", target: "/register", framing: "length", ...json('{"redirect_uris":["http://127.0.0.1/cb"],"scope":"mcp:tools constructor"}') },
    ],
    [
      "audit #4: registration with __proto__ and constructor members",
      {
        method: "POST",
        target: "/register",
        framing: "length",
        ...json('{"redirect_uris":["http://127.0.0.1/cb"],"__proto__":{"x":1},"constructor":{"name":"x"}}'),
      },
    ],
    ["audit #4: tools/call named constructor", { method: "POST", target: "/mcp", framing: "length", ...json(rpcCall("constructor"), bearer) }],
    [
      "audit #4: tools/call named toString, Mcp-Name __proto__",
      { method: "POST", target: "/mcp", framing: "length", ...json(rpcCall("toString"), [...bearer, ["Mcp-Method", "tools/call"], ["Mcp-Name", "__proto__"]]) },
    ],
    ["audit #7: GET /register/%", { method: "GET", target: "/register/%", headers: [], framing: "length" }],
    ["audit #7: GET /register/%zz with a token", { method: "GET", target: "/register/%zz", headers: [["Authorization", "Bearer x"]], framing: "length" }],
    ["audit #7: DELETE /register/%C3", { method: "DELETE", target: "/register/%C3", headers: [["Authorization", "Bearer x"]], framing: "length" }],
    [
      "audit #8: a registration whose jwks nests 20,000 levels",
      {
        method: "POST",
        target: "/register",
        framing: "length",
        ...json(`{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks":${deepJSON(20_000, "object")}}`),
      },
    ],
    ["audit #8: a registration body of 20,000 nested arrays", { method: "POST", target: "/register", framing: "length", ...json(deepJSON(20_000)) }],
    ["audit #8: an MCP body of 20,000 nested arrays", { method: "POST", target: "/mcp", framing: "length", ...json(deepJSON(20_000), bearer) }],
    ["audit #2: admin_echo padded past 1 MB", { method: "POST", target: "/mcp", framing: "length", ...json(rpcCall("admin_echo", 1_100_000), bearer) }],
    [
      "audit #2/#3: admin_echo padded past 1 MB, chunked",
      { method: "POST", target: "/mcp", framing: "chunked", ...json(rpcCall("admin_echo", 1_100_000), bearer) },
    ],
    ["admin_echo without mcp:admin", { method: "POST", target: "/mcp", framing: "length", ...json(rpcCall("admin_echo"), bearer) }],
    ["/%6Dcp never reaches MCP unguarded", { method: "POST", target: "/%6Dcp", framing: "length", ...json(rpcCall("admin_echo"), bearer) }],
    ["/MCP never reaches MCP unguarded", { method: "POST", target: "/MCP", framing: "length", ...json(rpcCall("admin_echo"), bearer) }],
    ["//mcp never reaches MCP unguarded", { method: "POST", target: "//mcp", framing: "length", ...json(rpcCall("admin_echo"), bearer) }],
    [
      "a Host header that makes no URL: refused, never a 500",
      { method: "GET", target: "/.well-known/oauth-authorization-server", headers: [["Host", "127.0.0.1:1.evil.test"]], framing: "length" },
    ],
    [
      "bad percent-encoding in a token request",
      { method: "POST", target: "/token", framing: "length", ...form("grant_type=authorization_code&code=%zz&client_id=pub") },
    ],
    [
      "a Content-Length shorter than the body",
      { method: "POST", target: "/token", framing: "short", ...form("grant_type=refresh_token&refresh_token=abc&client_id=pub") },
    ],
    ["a Content-Length longer than the body", { method: "POST", target: "/register", framing: "long", ...json('{"redirect_uris":["http://127.0.0.1/cb"]}') }],
  ];
}
